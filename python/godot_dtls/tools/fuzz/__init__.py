"""A seeded mutation fuzzer for the sans-IO :class:`~godot_dtls.core.connection.DTLSConnection`.

Modelled on OpenSSL's DTLS fuzzers (``fuzz/dtlsclient.c``, ``fuzz/dtlsserver.c``): the
inputs are *real* records, captured from in-memory handshakes between a client and a
server of this package (ClientHello, HelloVerifyRequest, ClientHello with cookie, the
server flight, the client flight, the server's Finished, application data, alerts), then
mutated at the byte, record and handshake-fragment level and fed one datagram at a time
to connections in every state:

============================  ==============================================================
target kind                   the connection fed
============================  ==============================================================
``client-hello-sent``         client after its first ClientHello, before any server flight
``client-cookie-sent``        client after the HelloVerifyRequest, awaiting the server flight
``client-mid-handshake``      client after its own flight, awaiting the server's Finished
``client-connected``          established client
``server-awaiting-cookie``    fresh server connection, before a ClientHello with a cookie
``server-mid-handshake``      server after its flight, awaiting the client's flight
``server-connected``          established server
``client-closed``             client after ``close()``
``server-closed``             server after the peer's close_notify / a HelloVerifyRequest
``client-failed``             client after a handshake timeout or a hostname mismatch
``server-failed``             server after the client's fatal alert
============================  ==============================================================

Each target has the real peer it was made with, and its own session's records (which
it can decrypt or which continue its handshake) are mixed with those of a reference
session. After every datagram, and every ``handle_timer`` call, the fuzzer checks:

- no exception escapes ``receive_datagram`` / ``handle_timer``, and none is swallowed by a
  catch-all that logs its traceback on the ``godot_dtls`` logger (:class:`LogWatch`);
- the call returns within ``max_call_seconds``;
- every datagram produced holds whole records and is at most the MTU, or holds a single
  record (a big application record travels alone);
- the state is a :class:`ConnectionState` and changed only along a legal transition
  (``HANDSHAKING`` → anything; ``CONNECTED`` → ``CLOSED``/``FAILED``; the end states stay),
  a failure carries a reason, no timer runs outside ``HANDSHAKING``;
- every application packet delivered is one the real peer sent (nothing is forged);
- a connection that claims ``CONNECTED`` still works: periodically (and whenever it
  becomes connected) the datagrams it produced are delivered to its peer and one packet
  goes each way and must arrive intact;
- memory stays bounded: the process RSS (and, optionally, the Python heap through
  :mod:`tracemalloc`) may not grow by more than a limit after a warm-up.

Time is virtual: ``now`` advances a few milliseconds per datagram and jumps to the
target's timer when :meth:`Session.fire_timer` runs. That drives the package's own
handshake deadline; OpenSSL's retransmission timer reads the real clock, so
retransmissions (counted in the report) are rare within a run.

The mutation choices are fully determined by the seed; the captured records are not
(OpenSSL draws its randoms and ECDHE keys itself), so a finding carries the exact
datagram that triggered it and every datagram fed to that target before it
(``godot-dtls fuzz --save-findings FILE`` writes them; :func:`replay` feeds one to a new
target). Command line: ``godot-dtls fuzz [--count N] [--seed S] [--seconds T]``, exit
status 1 on any finding.
"""

from .mutators import MUTATORS, mutate
from .runner import add_fuzz_parser, format_report, replay, run_cli, run_fuzz
from .session import TARGET_KINDS, Finding, FuzzReport, FuzzWorld, LogWatch, Session

__all__ = [
    "MUTATORS",
    "TARGET_KINDS",
    "Finding",
    "FuzzReport",
    "FuzzWorld",
    "LogWatch",
    "Session",
    "add_fuzz_parser",
    "format_report",
    "mutate",
    "replay",
    "run_cli",
    "run_fuzz",
]
