"""``godot-dtls proxy``: the impairment proxy on the command line."""

from __future__ import annotations

import argparse
import threading
import time
from dataclasses import replace
from typing import Any

from godot_dtls.core.log import logger

from .engine import Impairment, Seed
from .proxy import ImpairmentProxy, parse_host_port

# ---------------------------------------------------------------------- command line

_RATES = ("drop", "duplicate", "reorder", "corrupt", "truncate")
_TIMES = ("delay_ms", "jitter_ms")


def add_proxy_parser(commands: Any) -> argparse.ArgumentParser:
    """Add the ``proxy`` subcommand to the ``godot-dtls`` subparsers ``commands``."""
    proxy = commands.add_parser(
        "proxy",
        help="seeded UDP impairment proxy (loss, duplication, reordering, ...)",
        description=(
            "Relay UDP between clients and a loopback target, dropping, duplicating, "
            "reordering, delaying, corrupting and truncating datagrams at the given rates "
            "(0..1), reproducibly from --seed. Each rate applies to both directions unless "
            "a --c2s-*/--s2c-* option overrides it. Prints a summary of the actions on exit."
        ),
    )
    proxy.add_argument("--listen", default="127.0.0.1:5000", help="HOST:PORT clients use")
    proxy.add_argument("--target", required=True, help="HOST:PORT of the server (loopback)")
    for name in _RATES:
        proxy.add_argument(f"--{name}", type=float, default=0.0, help=f"{name} rate (0..1)")
    proxy.add_argument("--delay-ms", type=float, default=0.0, help="fixed delay")
    proxy.add_argument("--jitter-ms", type=float, default=0.0, help="extra random delay")
    proxy.add_argument(
        "--reorder-hold-ms", type=float, default=100.0, help="longest hold of a reordered datagram"
    )
    for prefix in ("c2s", "s2c"):
        for name in (*_RATES, "delay-ms", "jitter-ms"):
            proxy.add_argument(
                f"--{prefix}-{name}", type=float, default=None, help=argparse.SUPPRESS
            )
    proxy.add_argument("--seed", default="1", help="random seed (same seed, same actions)")
    proxy.add_argument("--duration", type=float, default=0.0, help="stop after S seconds")
    proxy.add_argument("--log", action="store_true", help="log every action (DEBUG)")
    proxy.add_argument(
        "--allow-remote-target",
        action="store_true",
        help="allow a non-loopback target (the proxy then relays off this machine)",
    )
    proxy.set_defaults(handler=run_proxy_command)
    return proxy


def _impairment_from_args(args: argparse.Namespace, prefix: str) -> Impairment:
    values: dict[str, float] = {}
    for name in (*_RATES, *_TIMES):
        override = getattr(args, f"{prefix}_{name}", None)
        values[name] = float(getattr(args, name) if override is None else override)
    base = Impairment(reorder_hold=args.reorder_hold_ms / 1000.0)
    return replace(
        base,
        drop=values["drop"],
        duplicate=values["duplicate"],
        reorder=values["reorder"],
        corrupt=values["corrupt"],
        truncate=values["truncate"],
        delay=values["delay_ms"] / 1000.0,
        jitter=values["jitter_ms"] / 1000.0,
    )


def run_proxy_command(args: argparse.Namespace) -> int:
    """``godot-dtls proxy``: relay until Ctrl-C or ``--duration``, then print the summary."""
    import sys

    seed: Seed = int(args.seed) if str(args.seed).lstrip("-").isdigit() else str(args.seed)
    try:
        proxy = ImpairmentProxy(
            parse_host_port(args.listen),
            parse_host_port(args.target),
            _impairment_from_args(args, "c2s"),
            _impairment_from_args(args, "s2c"),
            seed,
            allow_non_loopback=args.allow_remote_target,
        )
    except (ValueError, OSError) as exc:
        print(f"proxy: {exc}", file=sys.stderr)
        return 2
    if args.log:
        logger.setLevel(10)  # logging.DEBUG
    print(
        f"READY {proxy.port}: proxy {proxy.address[0]}:{proxy.port} -> "
        f"{proxy.target[0]}:{proxy.target[1]} (seed {seed!r})",
        flush=True,
    )
    deadline = time.monotonic() + args.duration if args.duration > 0 else None
    stop = threading.Event()
    try:
        proxy.run(stop, deadline)
    finally:  # Ctrl-C too: the summary, then the command line's "interrupted" (exit 130)
        proxy.close()
        print(proxy.summary(), flush=True)
    return 0
