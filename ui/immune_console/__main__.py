"""Command line entry point of immune-console."""

import argparse
import getpass
import os
import sys
from pathlib import Path

from immune_sdk import Options

from immune_common.config import ConfigError, split_address

from .config import ConsoleConfig

DEFAULT_LISTEN = "127.0.0.1:8090"


def parse(argv: list[str] | None) -> ConsoleConfig:
    """Command line → ConsoleConfig."""
    parser = argparse.ArgumentParser(
        prog="immune-console",
        description="Immune: the operator console, a web page over control's API.",
    )
    parser.add_argument(
        "--control", default="127.0.0.1:50051", help="control's address (HOST:PORT)"
    )
    parser.add_argument(
        "--listen", default=DEFAULT_LISTEN, help=f"HOST:PORT to serve on ({DEFAULT_LISTEN})"
    )
    parser.add_argument(
        "--operator",
        default="",
        help="who acts through this console, for control's audit log (default: the OS user)",
    )
    parser.add_argument("--token-file", default="", help="file holding a bearer token for control")
    parser.add_argument("--tls", action="store_true", help="use TLS to reach control")
    parser.add_argument(
        "--ca", default="", help="CA certificate (PEM) that signed control's certificate"
    )
    parser.add_argument(
        "--login",
        action="store_true",
        help="operators sign in with their own API token and act as themselves "
        "(always on with --token-file: the console's token then only reads)",
    )
    parser.add_argument("--tls-cert-file", default="", help="serve HTTPS with this certificate")
    parser.add_argument("--tls-key-file", default="", help="the HTTPS certificate's key")
    parser.add_argument(
        "--allowed-host",
        action="append",
        default=[],
        metavar="NAME",
        help="a host name browsers use to reach the console (repeatable); others get 421",
    )
    args = parser.parse_args(argv)
    if bool(args.tls_cert_file) != bool(args.tls_key_file):
        parser.error("--tls-cert-file and --tls-key-file go together")
    try:
        host, port = split_address(args.listen, "--listen")
    except ConfigError as exc:
        parser.error(str(exc))
    for flag in ("token_file", "ca", "tls_cert_file", "tls_key_file"):
        path = getattr(args, flag)
        if path and not Path(path).is_file():
            parser.error(f"--{flag.replace('_', '-')} {path}: no such file")
    token = Path(args.token_file).read_text().strip() if args.token_file else ""
    operator = args.operator or os.environ.get("IMMUNE_OPERATOR") or getpass.getuser()
    control = Options(
        target=args.control, actor=operator, token=token, tls=args.tls, ca_file=args.ca
    )
    return ConsoleConfig(
        control=control,
        host=host,
        port=port,
        login=args.login or bool(token),
        tls_cert_file=args.tls_cert_file,
        tls_key_file=args.tls_key_file,
        allowed_hosts=tuple(args.allowed_host),
    )


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and serve the console until interrupted."""
    config = parse(argv)
    from .app import Console  # the web framework takes seconds to import; --help need not wait

    Console(config).serve()
    return 0


if __name__ in {"__main__", "__mp_main__"}:
    sys.exit(main())
