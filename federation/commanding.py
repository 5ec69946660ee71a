"""What every command-line entry point shares: the hub connection flags and client,
running a command with one clear error line, waiting for a signal.

``federation`` (federation/cli.py), its feature command groups (trust, vm, check,
dashboard) and ``federation-agent`` all build on this module, so none of them
imports another's entry point.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading

from federation import errors, logging_setup


def env(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def add_hub_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("hub connection (defaults from FEDERATION_HUB, FEDERATION_CA, FEDERATION_TOKEN_FILE)")
    g.add_argument("--hub", default=env("FEDERATION_HUB"), help="admin API address HOST:PORT")
    g.add_argument("--ca", default=env("FEDERATION_CA"), help="CA certificate file of the admin API")
    g.add_argument("--token-file", default=env("FEDERATION_TOKEN_FILE"), help="file holding the admin token")
    g.add_argument("--timeout", type=float, default=30.0, help="seconds per call (default 30)")


def connect(args, client_class=None):
    """A client of the hub's API from the connection flags; ``client_class``
    defaults to AdminClient (the trust and VM commands pass their own)."""
    if client_class is None:
        # grpc is loaded only by commands that talk to a hub (not by --help or completion)
        from federation.api.client import AdminClient as client_class
    if not args.hub:
        raise errors.ConfigError("no hub address: pass --hub or set FEDERATION_HUB (e.g. `. DIR/hub.env`)")
    if not args.ca:
        raise errors.ConfigError("no CA file: pass --ca or set FEDERATION_CA")
    token = os.environ.get("FEDERATION_TOKEN", "")
    if args.token_file:
        try:
            with open(args.token_file, encoding="utf-8") as fh:
                token = fh.read()
        except OSError as exc:
            raise errors.ConfigError(f"token file {args.token_file}: {exc.strerror}") from exc
    if not token.strip():
        raise errors.ConfigError("no admin token: pass --token-file or set FEDERATION_TOKEN_FILE")
    return client_class(args.hub, ca_file=args.ca, token=token.strip(), timeout=args.timeout)


def wait_for_signal(stop: threading.Event | None = None) -> None:
    """Block until SIGTERM or SIGINT (or ``stop`` is set)."""
    stop = stop or threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    while not stop.wait(0.5):
        pass


def run_command(parser: argparse.ArgumentParser, argv: list[str] | None = None) -> int:
    """Parse, configure logging, run the chosen command; a FederationError is one
    clear line on stderr and exit status 1."""
    args = parser.parse_args(argv)
    logging_setup.configure(args.log_level, args.log_format)
    try:
        return args.func(args) or 0
    except errors.FederationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
