"""The ``bench`` subcommand's arguments, kept light: nothing heavy is imported until it runs."""

from __future__ import annotations

import argparse

__all__ = ["add_bench_arguments", "run_bench_command"]


def _pair_list(text: str) -> list[int]:
    try:
        pairs = [int(item) for item in text.split(",") if item.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError("pairs are numbers 1-5, e.g. 1,2") from None
    if not pairs or any(pair not in (1, 2, 3, 4, 5) for pair in pairs):
        raise argparse.ArgumentTypeError("pairs are numbers 1-5, e.g. 1,2")
    return pairs


def _peer_list(text: str) -> list[int]:
    try:
        peers = [int(item) for item in text.split(",") if item.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError("peer counts are numbers, e.g. 100,1000") from None
    if not peers or any(count < 1 for count in peers):
        raise argparse.ArgumentTypeError("peer counts are positive numbers, e.g. 100,1000")
    return peers


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if value < 0:
        raise argparse.ArgumentTypeError("a count is 0 or more")
    return value


def add_bench_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options of ``godot-dtls bench`` to ``parser``."""
    parser.add_argument(
        "--quick", action="store_true", help="short runs and 20 peers (under a minute)"
    )
    parser.add_argument("--json", metavar="FILE", help="write every figure as JSON")
    parser.add_argument(
        "--plot", metavar="FILE.png", help="bar charts of the pairs (needs matplotlib)"
    )
    parser.add_argument(
        "--pairs",
        type=_pair_list,
        metavar="1,2,3,4,5",
        help="pairs to run (default all; 3 is the anchor of the ratios, 5 needs godot-python)",
    )
    parser.add_argument(
        "--peers", type=_peer_list, metavar="N,N", help="many-peer counts (default 100,1000)"
    )
    parser.add_argument(
        "--memory-peers",
        type=_count,
        metavar="N",
        help="peers for the per-peer memory breakdown of the godot-dtls server "
        "(default 1000, 20 with --quick; 0 skips it)",
    )
    parser.add_argument(
        "--crowd",
        type=_count,
        nargs="?",
        const=10000,
        metavar="N",
        help="also N peers at once on one godot-dtls server (default N 10000; minutes)",
    )
    parser.add_argument(
        "--wait",
        choices=("block", "spin"),
        help="how every client waits for an echo: sleep on the socket (block, the default) "
        "or poll again at once (spin: shorter round trips on an idle machine, a collapse "
        "when other work shares the cores)",
    )
    parser.add_argument(
        "--anchor-check",
        action="store_true",
        help="instead: check pair 3's client against the least GDScript client and a C "
        "client (needs cc and the OpenSSL headers for the C one)",
    )
    parser.add_argument(
        "--key-type",
        choices=("rsa", "ecdsa"),
        default="rsa",
        help="server key: RSA 2048 (as Godot's Crypto.generate_rsa) or ECDSA P-256",
    )
    parser.add_argument(
        "--profile",
        metavar="DIR",
        help="instead: cProfile pair 1 (pipelined 64 B, then many peers) and the Python side"
        " of pair 5 (pipelined 64 B inside Godot) into DIR",
    )


def run_bench_command(args: argparse.Namespace) -> int:
    """Handler of ``godot-dtls bench``. Output files are checked before the run, so a
    typo in a folder name does not cost a whole benchmark."""
    from ..cli_support import check_writable_file
    from .main import run

    if args.json:
        check_writable_file(args.json, "--json")
    if args.plot:
        check_writable_file(args.plot, "--plot")

    return run(args)
