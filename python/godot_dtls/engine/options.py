"""The facades' options Dictionaries as :class:`~godot_dtls.api.tls_options.TLSOptions`.

GDScript cannot build Python objects, so the facades describe TLS settings (mode,
certificates as PEM or engine objects, pins, CRLs, PSK, ALPN, SNI, ...) as a Dictionary.
This module reads such a Dictionary from any runtime, key by key, refusing unknown keys
and keys the mode ignores, so a typo never drops a check the script asked for.
"""

from __future__ import annotations

import math
import os
import tempfile
from collections import OrderedDict
from typing import (
    AbstractSet,
    Any,
    Callable,
    Mapping,
    Sequence,
)

from godot_dtls.api.errors import Error
from godot_dtls.api.tls_options import TLSOptions, parse_spki_pin
from godot_dtls.api.x509 import X509CRL, CryptoKey, X509Certificate

from .containers import is_engine_array, is_engine_dictionary
from .runtime import PLAIN_VALUES, ArgumentError, Runtime, as_error, type_name

# ------------------------------------------------------------------------------ options

#: The keys of the client options Dictionary each mode reads ("client" is the default).
#: A key given a value in a mode that cannot honour it is refused, never ignored: a pin or
#: a revocation list dropped in silence would connect without the check the script asked for.
CLIENT_MODE_KEYS: dict[str, tuple[str, ...]] = {
    "client": (
        "mode",
        "idle_timeout",
        "trusted_chain_pem",
        "common_name_override",
        "pinned_spki_sha256",
        "crls_pem",
        "crl_soft_fail",
        "alpn",
        "session_resumption",
        "key_log_file",
    ),
    "client_unsafe": (
        "mode",
        "idle_timeout",
        "trusted_chain_pem",
        "pinned_spki_sha256",
        "alpn",
        "session_resumption",
        "key_log_file",
    ),
    "client_psk": ("mode", "psk_identity", "psk_key_hex", "alpn", "key_log_file", "idle_timeout"),
}
#: The keys of the server options Dictionary each mode reads ("server" is the default).
SERVER_MODE_KEYS: dict[str, tuple[str, ...]] = {
    "server": (
        "mode",
        "idle_timeout",
        "key_pem",
        "certificate_pem",
        "sni",
        "alpn",
        "session_resumption",
        "key_log_file",
    ),
    "server_psk": (
        "mode",
        "psk_keys_hex",
        "psk_identity_hint",
        "alpn",
        "key_log_file",
        "idle_timeout",
    ),
}
#: Every key a client / server options Dictionary may hold, whatever its mode.
CLIENT_OPTION_KEYS = frozenset(key for keys in CLIENT_MODE_KEYS.values() for key in keys)
SERVER_OPTION_KEYS = frozenset(key for keys in SERVER_MODE_KEYS.values() for key in keys)
#: The keys of one entry of a server's ``sni`` Dictionary.
SNI_ENTRY_KEYS = ("key_pem", "certificate_pem")

#: How many TLSOptions made from option Dictionaries are kept (least recently used out).
OPTIONS_CACHE_SIZE = 32
#: TLSOptions by the content of the Dictionary they were made from. godot_dtls keeps one
#: OpenSSL context and the resumable sessions per TLSOptions object, so equal Dictionaries
#: must give the same object: otherwise every connect_to_peer would parse the CA chain
#: again, and session resumption would never find the previous connection's session.
_options_cache: OrderedDict[tuple[Any, ...], TLSOptions] = OrderedDict()


def _check_dictionary(options: Any, what: str = "options") -> None:
    if not (isinstance(options, dict) or is_engine_dictionary(options)):
        raise ArgumentError(f"{what} must be a Dictionary, got {type_name(options)}")


def _array_items(value: Any, runtime: Runtime, what: str) -> list[Any]:
    """The received items of a list or of a runtime's Array / PackedStringArray."""
    if isinstance(value, (list, tuple)) or is_engine_array(value):
        return runtime.items(value)
    raise ArgumentError(f"{what} must be an Array of Strings, got {type_name(value)}")


def _given(value: Any, runtime: Runtime) -> bool:
    """Whether a received option was set: not null, "", false or an empty container (the
    facade always sends some keys, empty when unused)."""
    if value is None or value is False:
        return False
    if isinstance(value, str):
        return value != ""
    if isinstance(value, (dict, list, tuple)):
        return len(value) > 0
    if is_engine_dictionary(value):
        return len(runtime.keys(value)) > 0
    if is_engine_array(value):
        return int(runtime.containers.count(value)) > 0
    return True


class _Options:
    """One options Dictionary of any runtime, read key by key with clear errors.

    ``what`` names it in messages: ``options``, or ``options["sni"]["name"]`` for a nested
    one. Wrong types raise :class:`ArgumentError`, bad values ``ValueError``: both become
    ERR_INVALID_PARAMETER with the message logged.
    """

    def __init__(self, options: Any, runtime: Runtime, what: str = "options") -> None:
        _check_dictionary(options, what)
        self.options = options
        self.runtime = runtime
        self.what = what

    def label(self, key: str) -> str:
        return f'{self.what}["{key}"]'

    def raw(self, key: str) -> Any:
        return self.runtime.value(self.options, key)

    def text(self, key: str) -> str:
        value = self.raw(key)
        return "" if value is None else self.runtime.text(value, self.label(key))

    def flag(self, key: str) -> bool:
        value = self.raw(key)
        if value is None:
            return False
        if not isinstance(value, bool):
            raise ArgumentError(f"{self.label(key)} must be a bool, got {type_name(value)}")
        return value

    def seconds(self, key: str) -> float | None:
        """A duration in seconds: None when absent, null or 0 (off); else finite and > 0."""
        value = self.raw(key)
        if value is None or (isinstance(value, (int, float)) and value == 0):
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ArgumentError(f"{self.label(key)} must be a number, got {type_name(value)}")
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"{self.label(key)} must be finite seconds ≥ 0, not {value}")
        return float(value)

    def texts(self, key: str) -> list[str]:
        value = self.raw(key)
        if value is None:
            return []
        label = self.label(key)
        items = _array_items(value, self.runtime, label)
        return [self.runtime.text(item, f"{label}[{index}]") for index, item in enumerate(items)]

    def entries(self, key: str) -> list[tuple[str, Any]]:
        """The (String key, value) pairs of a nested Dictionary (none when absent)."""
        value = self.raw(key)
        if value is None:
            return []
        label = self.label(key)
        _check_dictionary(value, label)
        pairs = []
        for name in self.runtime.keys(value):
            text = self.runtime.text(name, f"a key of {label}")
            pairs.append((text, self.runtime.value(value, text)))
        return pairs

    def check_keys(self, allowed: Sequence[str], known: AbstractSet[str], mode: str) -> None:
        """Refuse unknown keys (a typo must not drop a check) and keys the mode ignores."""
        for key in self.runtime.keys(self.options):
            name = self.runtime.text(key, f"a key of {self.what}")
            if name in allowed:
                continue
            if name not in known:
                raise ValueError(
                    f'{self.what} has an unknown key "{name}" (known: {", ".join(sorted(known))})'
                )
            if _given(self.runtime.value(self.options, name), self.runtime):
                raise ValueError(f'{self.label(name)} cannot be used in mode "{mode}"')


def pem_text(value: Any, runtime: Runtime, what: str = "certificate") -> str | None:
    """PEM text from a String, or from an engine X509Certificate / CryptoKey object.

    Godot 4 objects have ``save_to_string()``; Godot 3.2's have only ``save(path)``, so
    the object is saved to a temporary file and read back (the engine writes PEM).
    """
    if value is None:
        return None
    if isinstance(value, runtime.string_types):
        return str(value)
    save_to_string = getattr(value, "save_to_string", None)
    if callable(save_to_string):
        return str(save_to_string())
    save = getattr(value, "save", None)
    if not callable(save) or isinstance(value, PLAIN_VALUES):
        raise ArgumentError(
            f"{what} must be a PEM String or an engine object, got {type_name(value)}"
        )
    handle, path = tempfile.mkstemp(prefix="godot_dtls_", suffix=".pem")
    os.close(handle)
    try:
        error = as_error(save(path))
        if error != Error.OK:
            raise ValueError(f"{what}.save() failed with {error.name}")
        with open(path, encoding="ascii", errors="replace") as stream:
            return stream.read()
    finally:
        os.unlink(path)


def certificate_from(value: Any, runtime: Runtime, what: str) -> X509Certificate | None:
    pem = pem_text(value, runtime, what)
    if not pem:
        return None
    try:
        return X509Certificate.from_pem(pem)
    except ValueError as exc:
        raise ValueError(f"{what}: {exc}") from None


def _pins(texts: Sequence[str], what: str) -> tuple[bytes, ...]:
    pins = []
    for index, text in enumerate(texts):
        try:
            pins.append(parse_spki_pin(text))
        except ValueError as exc:
            raise ValueError(f"{what}[{index}]: {exc}") from None
    return tuple(pins)


def _crls(texts: Sequence[str], what: str) -> list[X509CRL]:
    crls = []
    for index, text in enumerate(texts):
        try:
            crls.append(X509CRL.from_data(text))
        except ValueError as exc:
            raise ValueError(f"{what}[{index}]: {exc} (a PEM X509 CRL is expected)") from None
    return crls


def _protocols(names: Sequence[str], what: str) -> tuple[str, ...]:
    for index, name in enumerate(names):
        if not 0 < len(name.encode("utf-8")) < 256:
            raise ValueError(f"{what}[{index}]: ALPN names are 1 to 255 bytes, got {name!r}")
    return tuple(names)


def _hex_key(text: str, what: str) -> bytes:
    if not text:
        raise ValueError(f"{what} is missing (the pre-shared key in hex digits)")
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise ValueError(f"{what} must be the pre-shared key in hex digits") from None


def _os_path(text: str, what: str) -> str | None:
    if text.startswith(("res://", "user://")):
        hint = "use ProjectSettings.globalize_path()"
        raise ValueError(f"{what} must be a file system path, not {text!r}: {hint}")
    return text or None


def _cached(key: tuple[Any, ...], build: Callable[[], TLSOptions]) -> TLSOptions:
    options = _options_cache.get(key)
    if options is not None:
        _options_cache.move_to_end(key)
        return options
    options = _options_cache[key] = build()
    while len(_options_cache) > OPTIONS_CACHE_SIZE:
        _options_cache.popitem(last=False)
    return options


def client_options(options: Any, runtime: Runtime) -> TLSOptions | None:
    """The facade's client options Dictionary as TLSOptions.

    ``mode`` "client" (default; ``trusted_chain_pem``, ``common_name_override``) or
    "client_unsafe" (``trusted_chain_pem``), each with the extensions
    ``pinned_spki_sha256`` (Array of base64 or hex pins), ``alpn`` (Array of Strings),
    ``session_resumption`` (bool) and ``key_log_file`` (String), "client" also with
    ``crls_pem`` (Array of PEM Strings) and ``crl_soft_fail`` (bool); or "client_psk" with
    ``psk_identity``, ``psk_key_hex``, ``alpn`` and ``key_log_file``.

    None (or mode "client" with nothing set) means ``TLSOptions.client()``, returned as
    None so godot_dtls reuses its one cached default (the CA bundle is parsed once). Equal
    Dictionaries give the same TLSOptions object (see ``_options_cache``).
    """
    if options is None:
        return None
    reader = _Options(options, runtime)
    mode = reader.text("mode") or "client"
    allowed = CLIENT_MODE_KEYS.get(mode)
    if allowed is None:
        raise ValueError(
            f'options["mode"] must be "client", "client_unsafe" or "client_psk", not {mode!r}'
        )
    reader.check_keys(allowed, CLIENT_OPTION_KEYS, mode)
    alpn = _protocols(reader.texts("alpn"), reader.label("alpn"))
    key_log = _os_path(reader.text("key_log_file"), reader.label("key_log_file"))
    if mode == "client_psk":
        identity = reader.text("psk_identity")
        if not identity:
            raise ValueError(f"{reader.label('psk_identity')} is missing")
        psk = _hex_key(reader.text("psk_key_hex"), reader.label("psk_key_hex"))
        return _cached(
            (mode, identity, psk, alpn, key_log),
            lambda: TLSOptions.client_psk(identity, psk, alpn=alpn, key_log_file=key_log),
        )

    chain_pem = pem_text(reader.raw("trusted_chain_pem"), runtime, "trusted_chain_pem") or ""
    override = reader.text("common_name_override")
    pins = _pins(reader.texts("pinned_spki_sha256"), reader.label("pinned_spki_sha256"))
    crl_pems = tuple(reader.texts("crls_pem"))
    soft_fail = reader.flag("crl_soft_fail")
    resumption = reader.flag("session_resumption")
    extended = pins or crl_pems or soft_fail or alpn or resumption or key_log
    if mode == "client" and not (chain_pem or override or extended):
        return None

    def build() -> TLSOptions:
        chain = certificate_from(chain_pem, runtime, "trusted_chain_pem")
        if mode == "client_unsafe":
            return TLSOptions.client_unsafe(
                chain,
                pinned_spki_sha256=pins,
                alpn=alpn,
                session_resumption=resumption,
                key_log_file=key_log,
            )
        return TLSOptions.client(
            chain,
            override,
            pinned_spki_sha256=pins,
            crls=_crls(crl_pems, reader.label("crls_pem")),
            crl_soft_fail=soft_fail,
            alpn=alpn,
            session_resumption=resumption,
            key_log_file=key_log,
        )

    key = (mode, chain_pem, override, frozenset(pins), crl_pems, soft_fail, alpn, resumption)
    return _cached((*key, key_log), build)


def _server_identity(reader: _Options) -> tuple[CryptoKey, X509Certificate]:
    """``key_pem`` and ``certificate_pem`` of ``reader`` as a key and its chain."""
    key_label, chain_label = reader.label("key_pem"), reader.label("certificate_pem")
    key_pem = pem_text(reader.raw("key_pem"), reader.runtime, key_label)
    if not key_pem:
        raise ValueError(f"{key_label} is missing")
    chain = certificate_from(reader.raw("certificate_pem"), reader.runtime, chain_label)
    if chain is None:
        raise ValueError(f"{chain_label} is missing")
    try:
        key = CryptoKey.from_pem(key_pem)
    except ValueError as exc:
        raise ValueError(f"{key_label}: {exc}") from None
    return key, chain


def idle_timeout_option(options: Any, runtime: Runtime) -> float | None:
    """``idle_timeout`` of a client or server options Dictionary (any mode): seconds a
    connected peer may hear nothing before it ends ``STATUS_DISCONNECTED``; None (off,
    as in the engine) when absent, null or 0. Not a TLS setting, so it is read apart
    from the TLSOptions (and never splits the options cache)."""
    if options is None:
        return None
    return _Options(options, runtime).seconds("idle_timeout")


def server_options(options: Any, runtime: Runtime) -> TLSOptions:
    """The facade's server options Dictionary as TLSOptions.

    ``mode`` "server" (default): ``key_pem``, ``certificate_pem`` (chain, leaf first) and
    the extensions ``sni`` (Dictionary server name → {"key_pem", "certificate_pem"}),
    ``alpn`` (Array of Strings, in order of preference), ``session_resumption`` (bool) and
    ``key_log_file``; or "server_psk": ``psk_keys_hex`` (Dictionary identity → key in
    hex), ``psk_identity_hint``, ``alpn`` and ``key_log_file``.
    """
    reader = _Options(options, runtime)
    mode = reader.text("mode") or "server"
    allowed = SERVER_MODE_KEYS.get(mode)
    if allowed is None:
        raise ValueError(f'options["mode"] must be "server" or "server_psk", not {mode!r}')
    reader.check_keys(allowed, SERVER_OPTION_KEYS, mode)
    alpn = _protocols(reader.texts("alpn"), reader.label("alpn"))
    key_log = _os_path(reader.text("key_log_file"), reader.label("key_log_file"))
    if mode == "server_psk":
        label = reader.label("psk_keys_hex")
        keys: dict[str, bytes] = {}
        for identity, value in reader.entries("psk_keys_hex"):
            what = f'{label}["{identity}"]'
            keys[identity] = _hex_key("" if value is None else runtime.text(value, what), what)
        if not keys:
            raise ValueError(f"{label} is missing (a Dictionary of identity → key in hex)")
        return TLSOptions.server_psk(
            keys, identity_hint=reader.text("psk_identity_hint"), alpn=alpn, key_log_file=key_log
        )

    key, chain = _server_identity(reader)
    sni: dict[str, tuple[CryptoKey, X509Certificate]] = {}
    for name, entry in reader.entries("sni"):
        if not name:
            raise ValueError(f"{reader.label('sni')} has an empty server name")
        entry_reader = _Options(entry, runtime, f'{reader.label("sni")}["{name}"]')
        entry_reader.check_keys(SNI_ENTRY_KEYS, frozenset(SNI_ENTRY_KEYS), "sni")
        sni[name] = _server_identity(entry_reader)
    return TLSOptions.server(
        key,
        chain,
        sni=sni,
        alpn=alpn,
        session_resumption=reader.flag("session_resumption"),
        key_log_file=key_log,
    )


def plain_stats(stats: Mapping[str, Any]) -> dict[str, Any]:
    """``PacketPeerDTLS.get_stats()`` with only values every runtime can convert: None and
    exact bool, int, float and str, plus lists of str (the alert names)."""
    plain: dict[str, Any] = {}
    for key, value in stats.items():
        if value is None:
            plain[str(key)] = None
        elif isinstance(value, bool):
            plain[str(key)] = bool(value)
        elif isinstance(value, int):
            plain[str(key)] = int(value)
        elif isinstance(value, float):
            plain[str(key)] = float(value)
        elif isinstance(value, (list, tuple)):
            plain[str(key)] = [str(item) for item in value]
        else:
            plain[str(key)] = str(value)
    return plain
