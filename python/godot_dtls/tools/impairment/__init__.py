"""A seeded UDP impairment proxy: loss, duplication, reordering, delay, corruption.

Why it exists: DTLS earns its keep on bad networks (lost, duplicated, reordered,
delayed and damaged datagrams), and a loopback socket never misbehaves. Like
mbedTLS's ``udp_proxy`` used by ``ssl-opt.sh``, this module sits between a client and a
server and spoils their traffic on purpose, reproducibly: everything it does is drawn
from a seeded random generator and counted, so a failing run can be replayed and its
figures reported.

Two layers:

- :class:`ImpairmentEngine`, sans-IO: given ``(direction, datagram, now)`` it returns the
  datagrams to emit and when (:class:`Emission`), logs each action (a list of
  :class:`Action` and the ``godot_dtls`` logger at DEBUG) and counts it
  (:class:`ImpairmentStats`). It opens no socket and reads no clock, so the unit tests
  can check seeded determinism and rates over 10^4 datagrams in milliseconds.
- :class:`ImpairmentProxy`, socket-driven: one listening socket for clients and one
  upstream socket per client address towards the target, so the server sees every
  client as a distinct peer (as ``UDPServer`` needs). Each client's flow has its own
  engine, seeded from the proxy seed and the flow's number (the order in which clients
  first spoke), so concurrent clients do not perturb each other's random draws. Drive
  it from a background thread (:meth:`~ImpairmentProxy.start` /
  :meth:`~ImpairmentProxy.stop`) or step it from a game-style loop
  (:meth:`~ImpairmentProxy.poll`). Every wait is a bounded ``select``.

Targets are restricted to loopback addresses unless ``allow_non_loopback=True``
(``--allow-remote-target`` on the command line): a proxy that duplicates traffic
towards any host it is told about is an amplifier and an open relay, and tests and CI
only ever need 127.0.0.1 or ::1.

Rates are per datagram and independent, in this order: ``drop`` (a dropped datagram
suffers nothing else), ``truncate`` (cut to a random shorter length, possibly empty),
``corrupt`` (1 to 3 bytes at distinct random positions XOR-ed with a non-zero value:
the length stays, the content always changes), ``duplicate`` (a second copy),
``reorder`` (hold the datagram until the next one of the same direction has been
emitted, or at most ``reorder_hold`` seconds), then ``delay`` + ``jitter`` (uniform in
``[0, jitter]``) before release.
"""

from .command import add_proxy_parser, run_proxy_command
from .engine import Action, Direction, Emission, Impairment, ImpairmentEngine, ImpairmentStats
from .proxy import ImpairmentProxy, parse_host_port

__all__ = [
    "Action",
    "Direction",
    "Emission",
    "Impairment",
    "ImpairmentEngine",
    "ImpairmentProxy",
    "ImpairmentStats",
    "add_proxy_parser",
    "parse_host_port",
    "run_proxy_command",
]
