"""The ``godot-dtls`` command line: demo, serve, connect (and more subcommands).

No path shows a traceback: errors are one line on stderr (exit 2 for usage and set-up
errors, 1 for a failure), Ctrl-C is one line and exit 130 (see :mod:`.cli_support`).
"""

from __future__ import annotations

import argparse
import logging
import sys
import time

from godot_dtls.api.errors import Error

from .bench import add_bench_arguments, run_bench_command
from .cli_support import (
    INTERRUPTED,
    CommandError,
    check_free_udp_port,
    check_writable_file,
    ignore_interrupts,
    interrupts_handled,
    library_messages,
    non_negative_float,
    non_negative_int,
    port_number,
    positive_float,
    remote_port,
)
from .fuzz import add_fuzz_parser
from .godot3.command import add_godot3_parser
from .impairment import add_proxy_parser
from .presets import add_check_presets_command

__all__ = ["main"]


def _configure_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )


def _cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    return run_demo(sys.stdout, packets=args.packets, burst=args.burst, port=args.port)


def _reason(messages: list[str], fallback: str) -> str:
    return messages[-1] if messages else fallback


def _load_server_options(args: argparse.Namespace):
    from godot_dtls.api.crypto import Crypto
    from godot_dtls.api.tls_options import TLSOptions
    from godot_dtls.api.x509 import CryptoKey, X509Certificate

    if args.cert or args.key:
        if not (args.cert and args.key):
            raise CommandError("--cert and --key go together")
        key, certificate = CryptoKey(), X509Certificate()
        with library_messages(args.verbose) as messages:
            if key.load(args.key) != Error.OK:
                raise CommandError(f"--key {args.key}: {_reason(messages, 'no private key')}")
            if certificate.load(args.cert) != Error.OK:
                raise CommandError(f"--cert {args.cert}: {_reason(messages, 'no certificate')}")
        try:
            return TLSOptions.server(key, certificate)
        except (TypeError, ValueError) as exc:
            raise CommandError(str(exc)) from None
    if args.save_cert:
        check_writable_file(args.save_cert, "--save-cert")
    crypto = Crypto()
    key = crypto.generate_rsa(2048)
    try:
        certificate = crypto.generate_self_signed_certificate(key, f"CN={args.name}")
    except ValueError as exc:
        raise CommandError(f"--name {args.name!r}: {exc}") from None
    if args.save_cert:
        with library_messages(args.verbose) as messages:
            if certificate.save(args.save_cert) != Error.OK:
                reason = _reason(messages, "cannot write it")
                raise CommandError(f"--save-cert {args.save_cert}: {reason}")
        print(f"self-signed certificate for CN={args.name} saved to {args.save_cert}", flush=True)
    return TLSOptions.server(key, certificate)


def _cmd_serve(args: argparse.Namespace) -> int:
    from .serve import EchoServer, wait_readable

    check_free_udp_port(args.bind, args.port)
    options = _load_server_options(args)
    with library_messages(args.verbose) as messages:
        try:
            server = EchoServer(
                options,
                args.port,
                args.bind,
                max_pending_connections=args.max_pending,
                on_status=lambda peer_id, status: print(
                    f"peer {peer_id}: {status.name}", flush=True
                ),
            )
        except (OSError, ValueError) as exc:
            raise CommandError(_reason(messages, str(exc))) from None
    print(f"READY {server.port}", flush=True)
    deadline = time.monotonic() + args.duration if args.duration > 0 else None
    try:
        while deadline is None or time.monotonic() < deadline:
            server.poll()
            wait_readable([server.fileno()], 0.005 if server.peers else 0.05)
    finally:
        server.stop()  # close_notify to every connected client, on Ctrl-C too
        print(
            f"served {server.connections} connection(s), echoed {server.packets_echoed} packets",
            flush=True,
        )
    return 0


def _cmd_connect(args: argparse.Namespace) -> int:
    from .connect import run_client

    return run_client(args)


def _cmd_pin(args: argparse.Namespace) -> int:
    from .pin import run_pin

    return run_pin(args.target, sys.stdout, args.hostname, errors=sys.stderr)


class _OneLineErrors(argparse.ArgumentParser):
    """argparse, with a usage error on one line (the usage itself is in --help)."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _OneLineErrors(
        prog="godot-dtls",
        description="Godot's PacketPeerDTLS / DTLSServer in Python (DTLS 1.2 over UDP).",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log every detail")
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo", help="embedded DTLS server and client over loopback")
    demo.add_argument(
        "--packets", type=non_negative_int, default=5, help="packets to echo and show"
    )
    demo.add_argument(
        "--burst", type=non_negative_int, default=2000, help="packets for the echo-rate burst"
    )
    demo.add_argument("--port", type=port_number, default=0, help="server port (0: any free port)")
    demo.set_defaults(handler=_cmd_demo)

    serve = commands.add_parser("serve", help="DTLS echo server")
    serve.add_argument("--port", type=port_number, default=4433, help="UDP port (0: any free)")
    serve.add_argument(
        "--bind", default="127.0.0.1", help="IP address to bind ('*' for all; no DNS)"
    )
    serve.add_argument("--cert", help="PEM certificate (chain) file")
    serve.add_argument("--key", help="PEM private key file")
    serve.add_argument("--name", default="localhost", help="CN of a generated certificate")
    serve.add_argument("--save-cert", help="write the generated certificate here (for clients)")
    serve.add_argument(
        "--duration", type=non_negative_float, default=0, help="stop after N seconds (0: never)"
    )
    serve.add_argument(
        "--max-pending", type=non_negative_int, default=16, help="UDPServer pending cap"
    )
    serve.set_defaults(handler=_cmd_serve)

    connect = commands.add_parser("connect", help="DTLS client: scripted or interactive")
    connect.add_argument("host", help="server IP address (Godot's connect_to_host takes IPs)")
    connect.add_argument("port", type=remote_port)
    connect.add_argument("--hostname", default="localhost", help="name to verify (and SNI)")
    connect.add_argument("--ca", help="trusted CA / certificate PEM (default: certifi bundle)")
    connect.add_argument(
        "--unsafe",
        action="store_true",
        help="TLSOptions.client_unsafe(): no name check, and no chain check without --ca",
    )
    connect.add_argument("--send", action="append", default=[], help="message to send (repeat)")
    connect.add_argument("--var", action="store_true", help="send with put_var, read get_var")
    connect.add_argument("--timeout", type=positive_float, default=10.0)
    connect.set_defaults(handler=_cmd_connect)

    pin = commands.add_parser("pin", help="print SPKI SHA-256 pins of a cert file or server")
    pin.add_argument("target", help="PEM certificate file, or HOST:PORT of a DTLS server")
    pin.add_argument("--hostname", default="", help="SNI name to send to a server")
    pin.set_defaults(handler=_cmd_pin)

    # The tools below keep their options next to their code.
    add_proxy_parser(commands)
    add_check_presets_command(commands)
    add_fuzz_parser(commands)
    add_godot3_parser(commands)
    bench = commands.add_parser("bench", help="benchmark against Godot 3.2.3's own DTLS")
    add_bench_arguments(bench)
    bench.set_defaults(handler=run_bench_command)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; ``argv`` None means the process's own arguments (the console
    script, ``python -m godot_dtls``): the process exits afterwards, so a late Ctrl-C
    is ignored rather than restored to Python's default."""
    parser = build_parser()
    args = argparse.Namespace(command="", verbose=False)
    with interrupts_handled(restore=argv is not None):
        try:
            args = parser.parse_args(argv)
            _configure_logging(args.verbose)
            return int(args.handler(args))
        except KeyboardInterrupt:
            ignore_interrupts()
            print("interrupted", file=sys.stderr, flush=True)
            return INTERRUPTED
        except CommandError as exc:
            print(f"godot-dtls {args.command}: {exc}", file=sys.stderr, flush=True)
            return 2
        except Exception as exc:  # the one place a bug meets the user: one line, no trace
            if args.verbose:
                raise
            print(
                f"godot-dtls {args.command}: error: {type(exc).__name__}: {exc} "
                "(run with -v for the traceback)",
                file=sys.stderr,
                flush=True,
            )
            return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
