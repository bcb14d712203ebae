"""Runtime-free glue shared by the engine adapters: Godot values in, godot_dtls calls, ints out.

Why it exists: the three Python runtimes for Godot differ only in how a class is declared,
how a byte array crosses the boundary and where an error is printed. Everything else (the
UDP peer as a godot_dtls ``Transport``, the options Dictionary as ``TLSOptions``, every
exception turned into an ``Error`` int plus a logged message, the status signal) is the same
and lives here, so each runtime module stays a few dozen lines of declarations. This module
imports nothing from any runtime: a runtime module describes itself with a :class:`Runtime`.

How each runtime imports it (it sits next to the adapters in
``res://addons/godot_dtls/python/`` and is always imported relative to them, so all
adapters of one runtime share one module object and one server registry):

- godot-python 0.50: ``res://`` is on ``sys.path`` (project setting ``python_script/path``)
  and ``res://addons/godot_dtls/python/gp_adapter.py`` is imported as the module
  ``addons.godot_dtls.python.gp_adapter`` (plain folders are namespace packages); it does
  ``from . import dtls_bridge``.
- py4godot: a script ``res://a/b.py`` is loaded as module ``a.b`` and the project directory
  (the working directory) is on ``sys.path``: the same relative import works.
- godot-python-extension: ``godot_dtls.pyextension`` names the package
  ``addons.godot_dtls.python.godot_dtls_gd4``, found by the runtime's ``res://`` importer
  (which makes packages of plain folders); it does ``from .. import dtls_bridge``.

``godot_dtls`` itself and its compiled dependencies (pyOpenSSL, cryptography) must be
importable by the embedded interpreter; see each runtime module's docstring.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import logging
import os
import tempfile
import traceback
import weakref
from collections import OrderedDict
from typing import (
    AbstractSet,
    Any,
    Callable,
    Dict,
    List,
    Mapping,
    Optional,
    Sequence,
    Tuple,
    TypeVar,
)

from godot_dtls import (
    CryptoKey,
    DTLSServer,
    Error,
    PacketPeerDTLS,
    Status,
    TLSOptions,
    X509Certificate,
)
from godot_dtls.crypto import X509CRL
from godot_dtls.tls_options import parse_spki_pin

__all__ = [
    "CLIENT_MODE_KEYS",
    "CLIENT_OPTION_KEYS",
    "SERVER_MODE_KEYS",
    "SERVER_OPTION_KEYS",
    "SNI_ENTRY_KEYS",
    "ArgumentError",
    "EngineTransport",
    "PeerCore",
    "Runtime",
    "ServerCore",
    "client_options",
    "forward_library_logs",
    "peer_core",
    "pem_text",
    "plain_stats",
    "server_core",
    "server_options",
]

_LIVE = (Status.HANDSHAKING, Status.CONNECTED)
_F = TypeVar("_F", bound=Callable[..., Any])


class ArgumentError(TypeError):
    """A script passed a value of the wrong type: the method returns ERR_INVALID_PARAMETER."""


def _no_byte_arrays(value: Any) -> Any:
    """Default converter of a Runtime that never handles packets (the server modules)."""
    raise TypeError("this runtime description has no byte array converters")


def _no_dictionaries(values: Dict[str, Any]) -> Any:
    """Default converter of a Runtime that never returns a Dictionary (the server modules)."""
    raise TypeError("this runtime description has no Dictionary converter")


class Runtime:
    """What the shared glue needs to know about one Python runtime.

    ``log_error`` prints where the engine shows errors; ``connected_check`` is the name of
    PacketPeerUDP's "connected" method (``is_socket_connected`` in 4.x,
    ``is_connected_to_host`` in 3.x); ``to_bytes`` turns the runtime's engine byte array
    into ``bytes`` (raising ``TypeError`` for anything else), ``from_bytes`` does the reverse;
    ``string_types`` are the types a Godot String arrives as; ``retain`` is called once on
    every engine object received as an argument (godot-python's refcount hazard);
    ``to_dictionary`` turns a dict of str keys whose values are None, bool, int, float, str
    or lists of str into the runtime's Dictionary (lists as its Array), for returns.
    """

    __slots__ = (
        "connected_check",
        "from_bytes",
        "log_error",
        "name",
        "retain",
        "string_types",
        "to_bytes",
        "to_dictionary",
    )

    def __init__(
        self,
        name: str,
        log_error: Callable[[str], Any],
        connected_check: str = "is_socket_connected",
        to_bytes: Callable[[Any], bytes] = _no_byte_arrays,
        from_bytes: Callable[[bytes], Any] = _no_byte_arrays,
        string_types: Tuple[type, ...] = (str,),
        retain: Optional[Callable[[Any], Any]] = None,
        to_dictionary: Callable[[Dict[str, Any]], Any] = _no_dictionaries,
    ) -> None:
        self.name = name
        self.to_dictionary = to_dictionary
        self.to_bytes = to_bytes
        self.from_bytes = from_bytes
        self.connected_check = connected_check
        self.log_error = log_error
        self.string_types = string_types
        self.retain = retain

    def report(self, message: str) -> None:
        """Log ``message``; a failing logger must not turn an Error return into a crash."""
        with contextlib.suppress(Exception):
            self.log_error(message)

    def text(self, value: Any, what: str) -> str:
        """``value`` as ``str`` if it arrived as a Godot String, else ArgumentError."""
        if isinstance(value, self.string_types):
            return str(value)
        raise ArgumentError(f"{what} must be a String, got {_type_name(value)}")

    def keep(self, *values: Any) -> None:
        """Apply ``retain`` to every argument (it picks out the engine objects itself)."""
        if self.retain is None:
            return
        for value in values:
            if value is not None:
                self.retain(value)


#: Python values that are never a Godot object or Dictionary.
_PLAIN = (bool, int, float, str, bytes, bytearray, list, tuple)


def _type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _error(value: Any) -> Error:
    """An engine Error (IntFlag, IntEnum or plain int) as godot_dtls's ``Error``."""
    try:
        return Error(int(value))
    except (TypeError, ValueError):
        return Error.FAILED


# ---------------------------------------------------------------------------- transport


class EngineTransport:
    """An engine PacketPeerUDP seen through godot_dtls's ``Transport`` protocol.

    Engine calls never raise in a working runtime, but a raise here would escape from
    ``PacketPeerDTLS.poll()`` mid-update, so each one is caught and reported as the engine
    reports a socket failure (FAILED, -1 packets, not connected).
    """

    __slots__ = ("_connected", "_rt", "_udp")

    _REQUIRED = ("put_packet", "get_packet", "get_available_packet_count")

    def __init__(self, udp: Any, runtime: Runtime) -> None:
        if udp is None or isinstance(udp, (*_PLAIN, dict, *runtime.string_types)):
            raise ArgumentError(f"udp must be a PacketPeerUDP, got {_type_name(udp)}")
        names = (*self._REQUIRED, runtime.connected_check)
        missing = [name for name in names if not callable(getattr(udp, name, None))]
        if missing:
            raise ArgumentError(
                f"udp must be a PacketPeerUDP ({_type_name(udp)} has no {', '.join(missing)})"
            )
        self._udp = udp
        self._rt = runtime
        self._connected = getattr(udp, runtime.connected_check)

    def put_packet(self, buffer: bytes) -> Error:
        try:
            return _error(self._udp.put_packet(self._rt.from_bytes(buffer)))
        except Exception as exc:
            self._rt.report(f"godot_dtls: PacketPeerUDP.put_packet failed: {exc!r}")
            return Error.FAILED

    def get_packet(self) -> bytes:
        try:
            return self._rt.to_bytes(self._udp.get_packet())
        except Exception as exc:
            self._rt.report(f"godot_dtls: PacketPeerUDP.get_packet failed: {exc!r}")
            return b""

    def get_available_packet_count(self) -> int:
        try:
            return int(self._udp.get_available_packet_count())
        except Exception as exc:
            self._rt.report(f"godot_dtls: PacketPeerUDP.get_available_packet_count: {exc!r}")
            return -1

    def is_socket_connected(self) -> bool:
        try:
            return bool(self._connected())
        except Exception:
            return False

    def get_packet_ip(self) -> str:
        """The remote address; server-side DTLS binds its cookies to it."""
        try:
            return str(self._udp.get_packet_ip())
        except Exception:
            return ""

    def get_packet_port(self) -> int:
        try:
            return int(self._udp.get_packet_port())
        except Exception:
            return 0

    def close(self) -> None:
        """Server side: frees the address on the engine's UDPServer after a cookie exchange."""
        close = getattr(self._udp, "close", None)
        if callable(close):
            try:
                close()
            except Exception as exc:
                self._rt.report(f"godot_dtls: PacketPeerUDP.close failed: {exc!r}")


# ------------------------------------------------------------------------------ options

#: The keys of the client options Dictionary each mode reads ("client" is the default).
#: A key given a value in a mode that cannot honour it is refused, never ignored: a pin or
#: a revocation list dropped in silence would connect without the check the script asked for.
CLIENT_MODE_KEYS: Dict[str, Tuple[str, ...]] = {
    "client": (
        "mode",
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
        "trusted_chain_pem",
        "pinned_spki_sha256",
        "alpn",
        "session_resumption",
        "key_log_file",
    ),
    "client_psk": ("mode", "psk_identity", "psk_key_hex", "alpn", "key_log_file"),
}
#: The keys of the server options Dictionary each mode reads ("server" is the default).
SERVER_MODE_KEYS: Dict[str, Tuple[str, ...]] = {
    "server": (
        "mode",
        "key_pem",
        "certificate_pem",
        "sni",
        "alpn",
        "session_resumption",
        "key_log_file",
    ),
    "server_psk": ("mode", "psk_keys_hex", "psk_identity_hint", "alpn", "key_log_file"),
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
_options_cache: OrderedDict[Tuple[Any, ...], TLSOptions] = OrderedDict()


def _option(options: Any, key: Any) -> Any:
    """``options[key]`` for a Godot Dictionary of any runtime or a dict; None when absent.

    ``has()`` first where it exists (Godot 4's ``[]`` on a missing key is an engine error);
    engine bindings may reject a call with TypeError or, in py4godot, AssertionError.
    """
    if isinstance(options, Mapping):
        return options.get(key)
    has = getattr(options, "has", None)
    try:
        if callable(has):
            return options[key] if has(key) else None
        return options.get(key, None)
    except (KeyError, IndexError, TypeError, AssertionError):
        return None


def _check_dictionary(options: Any, what: str = "options") -> None:
    # By name: each runtime has its own Dictionary class, and only that name is common;
    # an Array also supports [] and must not be read as empty options.
    if not (isinstance(options, Mapping) or type(options).__name__ == "Dictionary"):
        raise ArgumentError(f"{what} must be a Dictionary, got {_type_name(options)}")


def _dictionary_keys(dictionary: Any) -> List[Any]:
    """The keys of a dict or of any runtime's Dictionary (whose ``keys()`` is an Array)."""
    if isinstance(dictionary, Mapping):
        return list(dictionary.keys())
    keys = getattr(dictionary, "keys", None)
    return list(keys() if callable(keys) else dictionary)


def _array_items(value: Any, runtime: Runtime, what: str) -> List[Any]:
    """The items of a list or of a runtime's Array / PackedStringArray (PoolStringArray).

    Told apart by class name, as Dictionaries are: a String or a byte array is iterable
    too and must not be read as a list of one-character names.
    """
    if isinstance(value, (list, tuple)):
        return list(value)
    name = type(value).__name__
    plain = isinstance(value, (*_PLAIN, dict, *runtime.string_types))
    if not plain and (name == "Array" or name.endswith(("StringArray", "TypedArray"))):
        try:
            return list(value)
        except TypeError:  # a binding with [] and size() but no iterator
            return [value[index] for index in range(int(value.size()))]
    raise ArgumentError(f"{what} must be an Array of Strings, got {_type_name(value)}")


def _given(value: Any, runtime: Runtime) -> bool:
    """Whether an option was set: not null, "", false or an empty container (the facade
    always sends some keys, empty when unused)."""
    if value is None or value is False:
        return False
    if isinstance(value, runtime.string_types):
        return str(value) != ""
    try:
        return len(value) > 0
    except TypeError:
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
        return _option(self.options, key)

    def text(self, key: str) -> str:
        value = self.raw(key)
        return "" if value is None else self.runtime.text(value, self.label(key))

    def flag(self, key: str) -> bool:
        value = self.raw(key)
        if value is None:
            return False
        if not isinstance(value, bool):
            raise ArgumentError(f"{self.label(key)} must be a bool, got {_type_name(value)}")
        return value

    def texts(self, key: str) -> List[str]:
        value = self.raw(key)
        if value is None:
            return []
        label = self.label(key)
        items = _array_items(value, self.runtime, label)
        return [self.runtime.text(item, f"{label}[{index}]") for index, item in enumerate(items)]

    def entries(self, key: str) -> List[Tuple[str, Any]]:
        """The (String key, value) pairs of a nested Dictionary (none when absent)."""
        value = self.raw(key)
        if value is None:
            return []
        label = self.label(key)
        _check_dictionary(value, label)
        return [
            (self.runtime.text(name, f"a key of {label}"), _option(value, name))
            for name in _dictionary_keys(value)
        ]

    def check_keys(self, allowed: Sequence[str], known: AbstractSet[str], mode: str) -> None:
        """Refuse unknown keys (a typo must not drop a check) and keys the mode ignores."""
        for key in _dictionary_keys(self.options):
            name = self.runtime.text(key, f"a key of {self.what}")
            if name in allowed:
                continue
            if name not in known:
                raise ValueError(
                    f'{self.what} has an unknown key "{name}" (known: {", ".join(sorted(known))})'
                )
            if _given(_option(self.options, key), self.runtime):
                raise ValueError(f'{self.label(name)} cannot be used in mode "{mode}"')


def pem_text(value: Any, runtime: Runtime, what: str = "certificate") -> Optional[str]:
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
    if not callable(save) or isinstance(value, _PLAIN):
        raise ArgumentError(
            f"{what} must be a PEM String or an engine object, got {_type_name(value)}"
        )
    handle, path = tempfile.mkstemp(prefix="godot_dtls_", suffix=".pem")
    os.close(handle)
    try:
        error = _error(save(path))
        if error != Error.OK:
            raise ValueError(f"{what}.save() failed with {error.name}")
        with open(path, encoding="ascii", errors="replace") as stream:
            return stream.read()
    finally:
        os.unlink(path)


def _certificate(value: Any, runtime: Runtime, what: str) -> Optional[X509Certificate]:
    pem = pem_text(value, runtime, what)
    if not pem:
        return None
    try:
        return X509Certificate.from_pem(pem)
    except ValueError as exc:
        raise ValueError(f"{what}: {exc}") from None


def _pins(texts: Sequence[str], what: str) -> Tuple[bytes, ...]:
    pins = []
    for index, text in enumerate(texts):
        try:
            pins.append(parse_spki_pin(text))
        except ValueError as exc:
            raise ValueError(f"{what}[{index}]: {exc}") from None
    return tuple(pins)


def _crls(texts: Sequence[str], what: str) -> List[X509CRL]:
    crls = []
    for index, text in enumerate(texts):
        try:
            crls.append(X509CRL.from_data(text))
        except ValueError as exc:
            raise ValueError(f"{what}[{index}]: {exc} (a PEM X509 CRL is expected)") from None
    return crls


def _protocols(names: Sequence[str], what: str) -> Tuple[str, ...]:
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


def _os_path(text: str, what: str) -> Optional[str]:
    if text.startswith(("res://", "user://")):
        hint = "use ProjectSettings.globalize_path()"
        raise ValueError(f"{what} must be a file system path, not {text!r}: {hint}")
    return text or None


def _cached(key: Tuple[Any, ...], build: Callable[[], TLSOptions]) -> TLSOptions:
    options = _options_cache.get(key)
    if options is not None:
        _options_cache.move_to_end(key)
        return options
    options = _options_cache[key] = build()
    while len(_options_cache) > OPTIONS_CACHE_SIZE:
        _options_cache.popitem(last=False)
    return options


def client_options(options: Any, runtime: Runtime) -> Optional[TLSOptions]:
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
        chain = _certificate(chain_pem, runtime, "trusted_chain_pem")
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


def _server_identity(reader: _Options) -> Tuple[CryptoKey, X509Certificate]:
    """``key_pem`` and ``certificate_pem`` of ``reader`` as a key and its chain."""
    key_label, chain_label = reader.label("key_pem"), reader.label("certificate_pem")
    key_pem = pem_text(reader.raw("key_pem"), reader.runtime, key_label)
    if not key_pem:
        raise ValueError(f"{key_label} is missing")
    chain = _certificate(reader.raw("certificate_pem"), reader.runtime, chain_label)
    if chain is None:
        raise ValueError(f"{chain_label} is missing")
    try:
        key = CryptoKey.from_pem(key_pem)
    except ValueError as exc:
        raise ValueError(f"{key_label}: {exc}") from None
    return key, chain


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
        keys: Dict[str, bytes] = {}
        for identity, value in reader.entries("psk_keys_hex"):
            what = f'{label}["{identity}"]'
            keys[identity] = _hex_key("" if value is None else runtime.text(value, what), what)
        if not keys:
            raise ValueError(f"{label} is missing (a Dictionary of identity → key in hex)")
        return TLSOptions.server_psk(
            keys, identity_hint=reader.text("psk_identity_hint"), alpn=alpn, key_log_file=key_log
        )

    key, chain = _server_identity(reader)
    sni: Dict[str, Tuple[CryptoKey, X509Certificate]] = {}
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


def plain_stats(stats: Mapping[str, Any]) -> Dict[str, Any]:
    """``PacketPeerDTLS.get_stats()`` with only values every runtime can convert: None and
    exact bool, int, float and str, plus lists of str (the alert names)."""
    plain: Dict[str, Any] = {}
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


# ------------------------------------------------------------------------ error routing


class _ForwardToEngine(logging.Handler):
    """Sends godot_dtls's own error lines (its ERR_FAIL equivalents) to the engine."""

    def __init__(self, runtime: Runtime) -> None:
        super().__init__(logging.ERROR)
        self.runtime = runtime

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
        except Exception:
            message = str(record.msg)
        self.runtime.report(f"godot_dtls: {message}")


def forward_library_logs(runtime: Runtime) -> logging.Handler:
    """Route the ``godot_dtls`` logger's errors to ``runtime.log_error``.

    Replaces a handler installed earlier by any copy of this module (a reloaded script
    imports it again), so each error is printed once.
    """
    library_logger = logging.getLogger("godot_dtls")
    for handler in list(library_logger.handlers):
        if type(handler).__name__ == _ForwardToEngine.__name__:
            library_logger.removeHandler(handler)
    handler = _ForwardToEngine(runtime)
    library_logger.addHandler(handler)
    return handler


_RETURN_ERROR: Any = object()


def _guarded(fallback: Any = _RETURN_ERROR, name: str = "") -> Callable[[_F], _F]:
    """Retain the arguments, then catch every exception of a core method: log it,
    remember it, return an Error int.

    Wrong argument types (``TypeError``, ArgumentError) and bad values (``ValueError``,
    e.g. a PEM that does not parse) give ERR_INVALID_PARAMETER, anything else FAILED with
    the traceback, since GDScript cannot catch and some runtimes hide exceptions entirely.
    Methods that do not return an Error give ``fallback`` (a value, or a function of the
    core) instead. ``name`` is the script-visible method name, when it differs.
    """

    def decorate(method: _F) -> _F:
        label = name or method.__name__

        @functools.wraps(method)
        def wrapper(self: Any, *args: Any) -> Any:
            try:
                self.runtime.keep(*args)  # first, so that no path can skip it
                return method(self, *args)
            except Exception as exc:
                expected = isinstance(exc, (TypeError, ValueError))
                error = Error.ERR_INVALID_PARAMETER if expected else Error.FAILED
                detail = str(exc) if expected else traceback.format_exc().rstrip()
                self._fail(f"{self.label}.{label}: {detail}")
                if fallback is _RETURN_ERROR:
                    return int(error)
                try:
                    return fallback(self) if callable(fallback) else fallback
                except Exception:
                    return None

        return wrapper  # type: ignore[return-value]

    return decorate


class _Core:
    """Error bookkeeping shared by the peer and server cores."""

    def __init__(self, runtime: Runtime, label: str) -> None:
        self.runtime = runtime
        self.label = label
        self._message = ""

    def _fail(self, message: str) -> None:
        self._message = message
        self.runtime.report(message)

    def _refuse(self, error: Error, message: str) -> int:
        self._fail(f"{self.label}: {message}")
        return int(error)

    def get_backend(self) -> str:
        return self.runtime.name


# ------------------------------------------------------------------------------- peers


def status_emitter(owner: Any, emit: Callable[[Any, int], Any]) -> Callable[[int], None]:
    """A callback emitting ``status_changed`` on ``owner`` without keeping it alive.

    A strong reference would make a cycle owner → core → callback → owner, and the
    connection would then close only when the garbage collector runs, not when the script
    drops its last reference.
    """
    try:
        ref = weakref.ref(owner)
    except TypeError:  # a wrapper type without weak references: accept the cycle
        return lambda status: emit(owner, status)

    def callback(status: int) -> None:
        target = ref()
        if target is not None:
            emit(target, status)

    return callback


class PeerCore(_Core):
    """The state behind one exposed ``PyPacketPeerDTLS``: a godot_dtls PacketPeerDTLS."""

    def __init__(
        self, runtime: Runtime, label: str, emit_status: Optional[Callable[[int], Any]] = None
    ) -> None:
        super().__init__(runtime, label)
        self._emit = emit_status
        self._peer = self._watch(PacketPeerDTLS())
        self._seen_peer_message = ""

    def _watch(self, peer: PacketPeerDTLS) -> PacketPeerDTLS:
        peer.status_changed = self._status_changed
        return peer

    def _status_changed(self, status: Status) -> None:
        if self._emit is None:
            return
        try:
            self._emit(int(status))
        except Exception as exc:
            self.runtime.report(f"{self.label}: emitting status_changed failed: {exc!r}")

    def _start(self, transport: EngineTransport, hostname: str, tls: Any) -> int:
        self._message = ""
        self._seen_peer_message = ""
        return int(self._peer.connect_to_peer(transport, hostname, tls))

    def _connect_godot4(self, udp: Any, hostname: Any, options: Any) -> int:
        transport = EngineTransport(udp, self.runtime)
        host = self.runtime.text(hostname, "hostname")
        return self._start(transport, host, client_options(options, self.runtime))

    def _connect_godot3(
        self, udp: Any, validate_certs: Any, for_hostname: Any, valid_certificate: Any
    ) -> int:
        transport = EngineTransport(udp, self.runtime)
        if not isinstance(validate_certs, int):
            raise ArgumentError(f"validate_certs must be a bool, got {_type_name(validate_certs)}")
        host = self.runtime.text(for_hostname, "for_hostname")
        chain = _certificate(valid_certificate, self.runtime, "valid_certificate")
        if not validate_certs:
            tls: Optional[TLSOptions] = TLSOptions.client_unsafe()
        else:
            tls = None if chain is None else TLSOptions.client(chain)
        return self._start(transport, host, tls)

    @_guarded()
    def connect_to_peer(self, udp: Any, hostname: Any, options: Any = None) -> int:
        """Godot 4's form: ``(udp, hostname, options Dictionary or null)``."""
        return self._connect_godot4(udp, hostname, options)

    @_guarded()
    def connect_to_peer_godot3(
        self,
        udp: Any,
        validate_certs: Any = True,
        for_hostname: Any = "",
        valid_certificate: Any = None,
    ) -> int:
        """Godot 3's form: ``(udp, validate_certs, for_hostname, valid_certificate)``.

        ``validate_certs`` false means no verification at all (``client_unsafe()``);
        ``valid_certificate`` replaces the default CA bundle, as in the engine.
        """
        return self._connect_godot3(udp, validate_certs, for_hostname, valid_certificate)

    @_guarded(name="connect_to_peer")
    def connect_to_peer_any(
        self, udp: Any, second: Any = True, third: Any = None, fourth: Any = None
    ) -> int:
        """Either form, told apart by the second argument: a String (4.x) or a bool (3.x)."""
        if isinstance(second, self.runtime.string_types):
            if fourth is not None:
                raise ArgumentError("the Godot 4 form takes (udp, hostname, options)")
            return self._connect_godot4(udp, second, third)
        return self._connect_godot3(udp, second, "" if third is None else third, fourth)

    @_guarded()
    def accept_connection(self, server_id: Any, udp: Any) -> int:
        """Server side: take ``udp`` (from the engine's UDPServer) through a PyDTLSServer.

        The new peer is HANDSHAKING, or ERROR after the cookie exchange (drop it, as with
        the engine's DTLSServer.take_connection).
        """
        server = _server_by_id(server_id)
        transport = EngineTransport(udp, self.runtime)
        previous = self._peer.get_status()
        if previous in _LIVE:
            return self._refuse(Error.ERR_ALREADY_IN_USE, "the DTLS connection is already active")
        peer = server.take_connection(transport)
        if peer is None:
            return self._refuse(Error.ERR_UNCONFIGURED, "the server is not set up")
        self._message = ""
        self._seen_peer_message = ""
        self._peer = self._watch(peer)
        if peer.get_status() != previous:
            self._status_changed(peer.get_status())
        return int(Error.OK)

    @_guarded()
    def poll(self) -> int:
        self._peer.poll()
        return int(Error.OK)

    @_guarded(fallback=int(Status.ERROR))
    def get_status(self) -> int:
        return int(self._peer.get_status())

    @_guarded()
    def disconnect_from_peer(self) -> int:
        self._peer.disconnect_from_peer()
        return int(Error.OK)

    @_guarded()
    def put_packet(self, buffer: Any) -> int:
        try:
            data = self.runtime.to_bytes(buffer)
        except TypeError:
            raise ArgumentError(
                f"put_packet needs a byte array, got {_type_name(buffer)}"
            ) from None
        return int(self._peer.put_packet(data))

    @_guarded(fallback=lambda core: core.runtime.from_bytes(b""))
    def get_packet(self) -> Any:
        return self.runtime.from_bytes(self._peer.get_packet())

    @_guarded(fallback=0)
    def get_available_packet_count(self) -> int:
        return int(self._peer.get_available_packet_count())

    @_guarded()
    def get_packet_error(self) -> int:
        return int(self._peer.get_packet_error())

    @_guarded(fallback=lambda core: core.runtime.to_dictionary({}))
    def get_stats(self) -> Any:
        """The current (or last) connection's counters and negotiated parameters as the
        runtime's Dictionary (empty before any connection); see ``plain_stats``."""
        return self.runtime.to_dictionary(plain_stats(self._peer.get_stats()))

    @_guarded(fallback=False)
    def is_session_resumed(self) -> bool:
        """True when the current connection resumed an earlier session."""
        return bool(self._peer.is_session_resumed())

    @_guarded(fallback="")
    def get_alpn_protocol(self) -> str:
        """The ALPN protocol agreed on ("" when none or not connected)."""
        return str(self._peer.get_alpn_protocol())

    @_guarded(fallback="")
    def get_last_error_message(self) -> str:
        """The newest of this adapter's own error and the DTLS peer's reason."""
        peer_message = self._peer.get_last_error_message()
        if peer_message != self._seen_peer_message:
            self._seen_peer_message = peer_message
            if peer_message:
                self._message = peer_message
        return str(self._message)


def peer_core(owner: Any, runtime: Runtime, emit: Callable[[Any, int], Any]) -> PeerCore:
    """The core of an adapter object, made on first use (no runtime both runs ``__init__``
    and has the engine object attached by then, so state is created lazily)."""
    core = getattr(owner, "_dtls_core", None)
    if core is None:
        core = PeerCore(runtime, type(owner).__name__, status_emitter(owner, emit))
        owner._dtls_core = core
    return core


# ------------------------------------------------------------------------------ servers

_servers: weakref.WeakValueDictionary[int, DTLSServer] = weakref.WeakValueDictionary()
_server_ids = itertools.count(1)


def _server_by_id(server_id: Any) -> DTLSServer:
    # Ids, not objects: an adapter object passed back in arrives as a new wrapper of its
    # native class in godot-python and py4godot, without its Python state.
    if isinstance(server_id, bool) or not isinstance(server_id, int):
        raise ArgumentError(f"server_id must be an int, got {_type_name(server_id)}")
    server = _servers.get(server_id)
    if server is None:
        raise ValueError(f"no PyDTLSServer with id {server_id}")
    return server


class ServerCore(_Core):
    """The state behind one exposed ``PyDTLSServer``: a godot_dtls DTLSServer and its id."""

    def __init__(self, runtime: Runtime, label: str) -> None:
        super().__init__(runtime, label)
        self._server = DTLSServer()
        self.server_id = next(_server_ids)
        _servers[self.server_id] = self._server

    @_guarded()
    def setup(self, options: Any) -> int:
        """``{"key_pem": String, "certificate_pem": String}`` (chain leaf first), or any
        options Dictionary ``server_options`` reads (SNI, ALPN, resumption, PSK)."""
        self._message = ""
        return int(self._server.setup(server_options(options, self.runtime)))

    def get_server_id(self) -> int:
        return self.server_id

    @_guarded(fallback=None)
    def take_connection(self, udp: Any, new_peer: Callable[[], Any]) -> Any:
        """Godot 4's shape, for runtimes whose classes Python can instantiate: a new
        adapter peer (from ``new_peer()``) that accepted ``udp``, or None."""
        peer = new_peer()
        if int(peer.accept_connection(self.server_id, udp)) != Error.OK:
            return None
        return peer

    @_guarded(fallback="")
    def get_last_error_message(self) -> str:
        return self._message


def server_core(owner: Any, runtime: Runtime) -> ServerCore:
    """The core of a server adapter object, made on first use."""
    core = getattr(owner, "_dtls_core", None)
    if core is None:
        core = ServerCore(runtime, type(owner).__name__)
        owner._dtls_core = core
    return core
