"""What the engine glue knows of one Python runtime for Godot, and the glue's error rules.

Why it exists: the runtimes (godot-python for Godot 3, godot-python-extension and
py4godot for Godot 4) differ in how a String, a byte array and a Dictionary cross the
boundary and in where an error is printed. An adapter describes its runtime once with a
:class:`Runtime`; everything in :mod:`godot_dtls.engine` reads values through it, so no
module here imports a runtime. Errors of the ``godot_dtls`` logger (the engine's "prints")
are routed to the runtime's error channel by :func:`forward_library_logs`.
"""

from __future__ import annotations

import contextlib
import logging
from typing import (
    Any,
    Callable,
)

from godot_dtls.api.errors import Error
from godot_dtls.api.packet_peer import VariantCodec
from godot_dtls.api.variant import VariantError

from .containers import READ_BY_INDEX, Containers


class ArgumentError(TypeError):
    """A script passed a value of the wrong type: the method returns ERR_INVALID_PARAMETER."""


def _no_byte_arrays(value: Any) -> Any:
    """Default converter of a Runtime that never handles packets (the server modules)."""
    raise TypeError("this runtime description has no byte array converters")


def _no_dictionaries(values: dict[str, Any]) -> Any:
    """Default converter of a Runtime that never returns a Dictionary (the server modules)."""
    raise TypeError("this runtime description has no Dictionary converter")


class Runtime:
    """What the shared glue needs to know about one Python runtime.

    ``log_error`` prints where the engine shows errors; ``connected_check`` is the name of
    PacketPeerUDP's "connected" method (``is_socket_connected`` in 4.x,
    ``is_connected_to_host`` in 3.x); ``to_bytes`` turns the runtime's engine byte array
    into ``bytes`` (raising ``TypeError`` for anything else), ``from_bytes`` does the reverse;
    ``to_dictionary`` turns a dict of str keys whose values are None, bool, int, float, str
    or lists of str into the runtime's Dictionary (lists as its Array), for returns;
    ``to_array`` turns a list of values the runtime can return into its Array;
    ``variant_codec`` (optional) gives ``put_var``/``get_var`` the engine's own Variant
    encoding (see :class:`EngineVariants`) instead of godot_dtls's Godot 4 codec.

    Every value coming from the engine passes through :meth:`receive`: each argument of an
    exposed method and each value read from a Dictionary or an Array (:meth:`value`,
    :meth:`keys`, :meth:`items`). It does two runtime-specific things, configured here:

    - ``string_types``: the classes a Godot String or StringName arrives as (godot.String,
      godot.StringName, core.String, GDString, ...); such a value becomes a ``str``, so no
      later hash, ``in``, ``len`` or dict lookup sees a runtime string class;
    - ``retain``: called on every other non-None value, to take the reference a runtime
      needs on each engine object that reaches Python (godot-python 0.50's wrappers release
      one they never took); it picks out the engine objects itself.

    ``containers`` says how this runtime's engine Dictionary and Array are read (see
    :mod:`.containers`); ``keep_alive(obj)`` keeps an engine object alive for as long as
    the glue stores it (the UDP peer of a connection) and returns the function that lets it
    go again (py4godot passes objects without a reference); None when the runtime's own
    wrapper already keeps the object alive. ``inert_types`` are engine value classes that
    need neither (a byte array holds no object): :meth:`receive` passes them through at
    once, which matters for the one argument of every ``put_packet``.
    """

    __slots__ = (
        "connected_check",
        "containers",
        "from_bytes",
        "inert_types",
        "keep_alive",
        "log_error",
        "name",
        "retain",
        "string_types",
        "to_array",
        "to_bytes",
        "to_dictionary",
        "variant_codec",
    )

    def __init__(
        self,
        name: str,
        log_error: Callable[[str], Any],
        connected_check: str = "is_socket_connected",
        to_bytes: Callable[[Any], bytes] = _no_byte_arrays,
        from_bytes: Callable[[bytes], Any] = _no_byte_arrays,
        string_types: tuple[type, ...] = (str,),
        retain: Callable[[Any], Any] | None = None,
        to_dictionary: Callable[[dict[str, Any]], Any] = _no_dictionaries,
        to_array: Callable[[list[Any]], Any] = list,
        variant_codec: VariantCodec | None = None,
        containers: Containers = READ_BY_INDEX,
        keep_alive: Callable[[Any], Callable[[], Any]] | None = None,
        inert_types: tuple[type, ...] = (),
    ) -> None:
        self.name = name
        self.inert_types = frozenset(inert_types)
        self.to_array = to_array
        self.variant_codec = variant_codec
        self.to_dictionary = to_dictionary
        self.to_bytes = to_bytes
        self.from_bytes = from_bytes
        self.connected_check = connected_check
        self.log_error = log_error
        self.string_types = string_types
        self.retain = retain
        self.containers = containers
        self.keep_alive = keep_alive

    def report(self, message: str) -> None:
        """Log ``message``; a failing logger must not turn an Error return into a crash."""
        with contextlib.suppress(Exception):
            self.log_error(message)

    # ------------------------------------------------------------------ values coming in

    def receive(self, value: Any) -> Any:
        """``value`` as the glue works with it: a runtime string as ``str``; any other
        non-None value handed to ``retain`` first. The one door for engine values."""
        kind = type(value)
        if kind is str or value is None or kind in self.inert_types:
            return value
        if isinstance(value, self.string_types):
            return str(value)
        if self.retain is not None and not isinstance(value, PLAIN_VALUES):
            self.retain(value)
        return value

    def keep(self, *values: Any) -> None:
        """:meth:`receive` each value, for the references it takes."""
        for value in values:
            self.receive(value)

    def text(self, value: Any, what: str) -> str:
        """``value`` as ``str`` if it arrived as a Godot String, else ArgumentError."""
        if isinstance(value, self.string_types):
            return str(value)
        raise ArgumentError(f"{what} must be a String, got {type_name(value)}")

    def value(self, dictionary: Any, key: Any) -> Any:
        """The received value of ``key`` in a dict or an engine Dictionary; None if absent."""
        if isinstance(dictionary, dict):
            return self.receive(dictionary.get(key))
        return self.receive(self.containers.value(dictionary, key))

    def keys(self, dictionary: Any) -> list[Any]:
        """The received keys of a dict or an engine Dictionary."""
        if isinstance(dictionary, dict):
            return [self.receive(key) for key in dictionary]
        return self.items(self.containers.keys(dictionary))

    def items(self, array: Any) -> list[Any]:
        """The received items of a list, a tuple or an engine Array / Packed*Array."""
        if isinstance(array, (list, tuple)):
            return [self.receive(item) for item in array]
        containers = self.containers
        count = int(containers.count(array))
        return [self.receive(containers.item(array, index)) for index in range(count)]

    def hold(self, engine_object: Any) -> Callable[[], Any]:
        """Keep ``engine_object`` alive while the glue stores it; returns its release."""
        if self.keep_alive is None:
            return _nothing
        release = self.keep_alive(engine_object)

        def let_go() -> None:  # runs from a finaliser: report, never raise
            try:
                release()
            except Exception as exc:
                self.report(f"godot_dtls: releasing an engine object failed: {exc!r}")

        return let_go


def _nothing() -> None:
    """The release of an object this runtime's wrappers keep alive by themselves."""


class EngineVariants:
    """A ``put_var``/``get_var`` codec made of the engine's own encoder and decoder.

    ``encode(value, full_objects) -> bytes`` and ``decode(data, allow_objects) -> value``
    are the runtime's calls into the engine (Godot 3's ``Marshalls``, say); a decode that
    finds no valid Variant raises ``ValueError``. Every failure becomes the
    :class:`~godot_dtls.api.variant.VariantError` the peer reports as an ``Error``.
    """

    __slots__ = ("_decode", "_encode")

    def __init__(
        self,
        encode: Callable[[Any, bool], bytes],
        decode: Callable[[bytes, bool], Any],
    ) -> None:
        self._encode = encode
        self._decode = decode

    def encode(self, value: Any, full_objects: bool) -> bytes:
        try:
            return self._encode(value, full_objects)
        except Exception as exc:
            raise VariantError(Error.ERR_INVALID_PARAMETER, f"cannot encode: {exc}") from exc

    def decode(self, data: bytes, allow_objects: bool) -> tuple[Any, int]:
        if len(data) < 4:
            raise VariantError(Error.ERR_INVALID_DATA, "fewer than 4 bytes: no Variant header")
        try:
            return self._decode(data, allow_objects), len(data)
        except Exception as exc:
            raise VariantError(Error.ERR_INVALID_DATA, f"not a Variant: {exc}") from exc


#: Python values that are never a Godot object or Dictionary.
PLAIN_VALUES = (bool, int, float, str, bytes, bytearray, list, tuple)


def type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def as_error(value: Any) -> Error:
    """An engine Error (IntFlag, IntEnum or plain int) as godot_dtls's ``Error``."""
    try:
        return Error(int(value))
    except (TypeError, ValueError):
        return Error.FAILED


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
