"""The per-object state behind each exposed adapter class: one DTLS peer or server.

An adapter method is a one-line call into a :class:`PeerCore` or :class:`ServerCore`,
which converts the engine's values, calls :mod:`godot_dtls.api`, and turns every exception
into an ``Error`` int plus a logged message (GDScript cannot catch; some runtimes hide
exceptions entirely, others then fall through to the native method of the same name).
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import logging
import traceback
import weakref
from typing import Any, Callable, Iterator, TypeVar

from godot_dtls.api.dtls_peer import PacketPeerDTLS
from godot_dtls.api.dtls_server import DTLSServer
from godot_dtls.api.errors import Error
from godot_dtls.api.status import Status
from godot_dtls.api.tls_options import TLSOptions

from .options import (
    certificate_from,
    client_options,
    idle_timeout_option,
    plain_stats,
    server_options,
)
from .runtime import ArgumentError, Runtime, type_name
from .transport import EngineTransport

_LIVE = (Status.HANDSHAKING, Status.CONNECTED)
_F = TypeVar("_F", bound=Callable[..., Any])


_RETURN_ERROR: Any = object()


class _Collect(logging.Handler):
    def __init__(self, into: list[str]) -> None:
        super().__init__(logging.ERROR)
        self.into = into

    def emit(self, record: logging.LogRecord) -> None:
        with contextlib.suppress(Exception):
            self.into.append(record.getMessage())


@contextlib.contextmanager
def _library_errors() -> Iterator[list[str]]:
    """The error lines godot_dtls logs during the block (objects without their own
    ``get_last_error_message``, like DTLSServer, explain a refusal only there)."""
    errors: list[str] = []
    handler = _Collect(errors)
    library_logger = logging.getLogger("godot_dtls")
    library_logger.addHandler(handler)
    try:
        yield errors
    finally:
        library_logger.removeHandler(handler)


def _guarded(fallback: Any = _RETURN_ERROR, name: str = "") -> Callable[[_F], _F]:
    """Pass every argument through ``Runtime.receive`` (runtime strings become ``str``,
    engine objects get the reference the runtime needs), then catch every exception of a
    core method: log it, remember it, return an Error int.

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
                receive = self.runtime.receive  # first: no path skips it
                if len(args) == 1:  # most calls, put_packet's among them: no list
                    return method(self, receive(args[0]))
                return method(self, *[receive(arg) for arg in args])
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
        self, runtime: Runtime, label: str, emit_status: Callable[[int], Any] | None = None
    ) -> None:
        super().__init__(runtime, label)
        self._emit = emit_status
        self._peer = self._watch(PacketPeerDTLS())
        self._seen_peer_message = ""

    def _watch(self, peer: PacketPeerDTLS) -> PacketPeerDTLS:
        peer.status_changed = self._status_changed
        if self.runtime.variant_codec is not None:
            peer.variant_codec = self.runtime.variant_codec
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
        tls = client_options(options, self.runtime)
        self._peer.idle_timeout = idle_timeout_option(options, self.runtime)
        return self._start(transport, host, tls)

    def _connect_godot3(
        self, udp: Any, validate_certs: Any, for_hostname: Any, valid_certificate: Any
    ) -> int:
        transport = EngineTransport(udp, self.runtime)
        if not isinstance(validate_certs, int):
            raise ArgumentError(f"validate_certs must be a bool, got {type_name(validate_certs)}")
        host = self.runtime.text(for_hostname, "for_hostname")
        chain = certificate_from(valid_certificate, self.runtime, "valid_certificate")
        if not validate_certs:
            tls: TLSOptions | None = TLSOptions.client_unsafe()
        else:
            tls = None if chain is None else TLSOptions.client(chain)
        return self._start(transport, host, tls)

    @_guarded()
    def connect_to_peer(self, udp: Any, hostname: Any, options: Any = None) -> int:
        """Godot 4's form: ``(udp, hostname, options Dictionary or null)``."""
        return self._connect_godot4(udp, hostname, options)

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
    def recycle(self) -> int:
        """Close and forget the connection, so the object can serve a new script object.

        For runtimes that never free a script object (py4godot): the facades keep such
        objects in a pool instead of making a new one per connection. A connected peer
        says close_notify first, as the engine's does when its last reference goes; the
        state is then as after creation (no stats, messages or UDP peer of the last user).
        """
        self._peer.disconnect_from_peer()
        self._peer = self._watch(PacketPeerDTLS())
        self._message = ""
        self._seen_peer_message = ""
        return int(Error.OK)

    @_guarded()
    def poll(self) -> int:
        self._peer.poll()
        return int(Error.OK)

    @_guarded(fallback=lambda core: core.runtime.to_array([int(Status.ERROR)]))
    def poll_and_drain(self) -> Any:
        """One call per frame for a facade: ``poll()``, then the status and every packet
        received, as the runtime's Array ``[status, packet, packet, ...]``. The packets are
        taken off the queue; reading them one ``get_packet()`` at a time gives the same."""
        peer = self._peer
        peer.poll()
        drained: list[Any] = [int(peer.get_status())]
        if drained[0] == Status.CONNECTED:
            from_bytes = self.runtime.from_bytes
            for _ in range(peer.get_available_packet_count()):
                data = peer.get_packet()
                if peer.get_packet_error() != Error.OK:
                    break
                drained.append(from_bytes(data))
            drained[0] = int(peer.get_status())
        return self.runtime.to_array(drained)

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
            raise ArgumentError(f"put_packet needs a byte array, got {type_name(buffer)}") from None
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

    @_guarded()
    def put_var(self, value: Any = None, full_objects: Any = False) -> int:
        """``PacketPeer.put_var`` in the runtime's Variant encoding (see ``variant_codec``)."""
        if not isinstance(full_objects, (bool, int)):
            raise ArgumentError(f"full_objects must be a bool, got {type_name(full_objects)}")
        return int(self._peer.put_var(value, bool(full_objects)))

    @_guarded(fallback=None)
    def get_var(self, allow_objects: Any = False) -> Any:
        """``PacketPeer.get_var``: the value, or null with ``get_packet_error()`` set."""
        if not isinstance(allow_objects, (bool, int)):
            raise ArgumentError(f"allow_objects must be a bool, got {type_name(allow_objects)}")
        return self._peer.get_var(bool(allow_objects))

    def release(self) -> None:
        """The exposed object is being freed: close as the engine's destructor does
        (close_notify when connected) and drop the engine objects now, not at the next
        garbage collection."""
        try:
            self._peer.disconnect_from_peer()
        except Exception as exc:
            self.runtime.report(f"{self.label}: closing on free failed: {exc!r}")
        self._emit = None

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
        raise ArgumentError(f"server_id must be an int, got {type_name(server_id)}")
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
        tls = server_options(options, self.runtime)
        idle_timeout = idle_timeout_option(options, self.runtime)
        with _library_errors() as errors:
            result = self._server.setup(tls)
        if result == Error.OK:
            self._server.idle_timeout = idle_timeout
        if result != Error.OK:
            self._message = f"{self.label}.setup: " + (errors[-1] if errors else result.name)
        return int(result)

    @_guarded(fallback=0)
    def get_server_id(self) -> int:
        return self.server_id

    @_guarded()
    def recycle(self) -> int:
        """Forget the setup, so the object can serve a new script object (see
        ``PeerCore.recycle``): a new DTLSServer under a new id; peers already taken keep
        their connections, and the old id names no server any more."""
        _servers.pop(self.server_id, None)
        self._server = DTLSServer()
        self.server_id = next(_server_ids)
        _servers[self.server_id] = self._server
        self._message = ""
        return int(Error.OK)

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
