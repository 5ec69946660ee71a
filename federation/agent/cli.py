"""``federation-agent`` command line.

    federation-agent join --hub HOST:PORT --token T --ca-bundle FILE --out DIR
                          [--address IP] [--hostname H] [--no-run]
    federation-agent run --out DIR
    federation-agent version

``join`` enrolls this VM, writes the sidecar's files into DIR, then keeps
running as ``run`` does. ``run`` resumes from DIR after a restart, without a
token. Both stop cleanly on SIGTERM or SIGINT. Only a hub that cannot be
reached is retried (with capped back-off); what no retry can fix ends ``join``
at once with a line naming the likely fix and its own exit status:

    1  bad flags or files        3  the hub refuses the token or this VM (enroll anew)
    4  --ca-bundle does not verify the hub's certificate
    5  --hub is not the enroll port (the session port, the admin API, a plaintext port)
"""

from __future__ import annotations

import os

# gRPC's C core logs handshake failures itself, on stderr, past our own error line;
# it reads these once, when grpc is first imported (below, through ``running``).
os.environ.setdefault("GRPC_VERBOSITY", "NONE")
os.environ.setdefault("GRPC_TRACE", "")

import argparse  # noqa: E402
import logging  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402

from federation import __version__, errors  # noqa: E402
from federation.commanding import run_command  # noqa: E402
from federation.agent.credentials import RENEW_FRACTION  # noqa: E402
from federation.agent.running import (  # noqa: E402
    NEEDS_ENROLLMENT, RETRYABLE, UNTRUSTED_HUB, WRONG_ENDPOINT, Agent, split_host_port,
)

_REFUSED_HINT = "the token is spent, expired, revoked or mistyped: create one with `federation vm token create`"

log = logging.getLogger("federation.agent")

TOKEN_ENV = "FEDERATION_AGENT_TOKEN"


def _token(args) -> str:
    if args.token_file:
        try:
            with open(args.token_file, encoding="utf-8") as fh:
                return fh.read().strip()
        except OSError as exc:
            raise errors.ConfigError(f"token file {args.token_file}: {exc.strerror}") from exc
    token = args.token or os.environ.get(TOKEN_ENV, "")
    if not token.strip():
        raise errors.ConfigError(f"no bootstrap token: pass --token, --token-file or set {TOKEN_ENV}")
    return token.strip()


def _read_ca(path: str) -> bytes:
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        raise errors.ConfigError(f"CA bundle {path}: {exc.strerror}") from exc
    if b"-----BEGIN CERTIFICATE-----" not in data:
        raise errors.ConfigError(f"CA bundle {path} holds no PEM certificate")
    return data


def local_address(hub: str) -> str:
    """The address this host uses to reach the hub (no packet is sent)."""
    host, port = split_host_port(hub)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)
        family, _, _, _, target = infos[0]
        with socket.socket(family, socket.SOCK_DGRAM) as sock:
            sock.connect(target)
            return sock.getsockname()[0]
    except OSError as exc:
        raise errors.ConfigError(f"cannot work out this VM's address towards {hub}: "
                                 f"{exc.strerror or exc}; pass --address") from exc


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    return stop


def cmd_join(args) -> int:
    stop = _stop_on_signals()
    agent = Agent(args.out, ca_pem=_read_ca(args.ca_bundle), renew_fraction=args.renew_fraction,
                  max_backoff=args.max_backoff, timeout=args.timeout, stop=stop)
    try:
        try:
            agent.join(args.hub, _token(args), args.address or local_address(args.hub),
                       args.hostname or socket.gethostname())
        except errors.AuthError as exc:
            return _give_up("enrollment refused", exc, NEEDS_ENROLLMENT, _REFUSED_HINT)
        except errors.TrustError as exc:
            return _give_up("the hub's certificate is not trusted", exc, UNTRUSTED_HUB)
        except errors.EndpointMismatch as exc:
            return _give_up("not the hub's enroll port", exc, WRONG_ENDPOINT)
        except RETRYABLE as exc:
            if not stop.is_set():
                raise
            log.info("stopped before enrolling", extra={"fields": {"error": str(exc)}})
            return 0
        if stop.is_set() or args.no_run:
            return 0
        return agent.run()
    finally:
        agent.close()


def _give_up(what: str, exc: errors.FederationError, status: int, hint: str = "") -> int:
    """One log line, then the error and its hint on stderr; ``status`` is the exit status."""
    hint = getattr(exc, "hint", "") or hint
    log.error(what, extra={"fields": {"error": str(exc), "exit_status": status}})
    print(f"error: {exc}", file=sys.stderr)
    if hint:
        print(f"hint: {hint}", file=sys.stderr)
    return status


def cmd_run(args) -> int:
    stop = _stop_on_signals()
    agent = Agent(args.out, renew_fraction=args.renew_fraction, max_backoff=args.max_backoff,
                  timeout=args.timeout, stop=stop)
    agent.load()
    try:
        return agent.run()
    finally:
        agent.close()


def _logging_flags(parser: argparse.ArgumentParser, level, fmt) -> None:
    parser.add_argument("--log-level", default=level, choices=["debug", "info", "warning", "error"],
                        help="log level (default info)")
    parser.add_argument("--log-format", default=fmt, choices=["kv", "json"],
                        help="log lines as key=value (default) or JSON")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="federation-agent",
                                     description="Onboard this VM into the federated mesh.")
    _logging_flags(parser, os.environ.get("FEDERATION_LOG_LEVEL", "info"),
                   os.environ.get("FEDERATION_LOG_FORMAT", "kv"))
    # Accepted after the command too; there they override the ones before it.
    after = argparse.ArgumentParser(add_help=False)
    _logging_flags(after, argparse.SUPPRESS, argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def tuning(p: argparse.ArgumentParser) -> None:
        p.add_argument("--out", required=True, help="directory for the sidecar's files and state")
        p.add_argument("--renew-fraction", type=float, default=RENEW_FRACTION,
                       help="renew once this fraction of the certificate's life has passed "
                            "(default 2/3)")
        p.add_argument("--max-backoff", type=float, default=30.0,
                       help="longest wait between retries while the hub is unreachable (s)")
        p.add_argument("--timeout", type=float, default=10.0, help="seconds per call to the hub")

    p = sub.add_parser("join", parents=[after],
                       help="enroll with a bootstrap token, write the files, then run")
    p.add_argument("--hub", required=True, help="the hub's onboarding address HOST:PORT")
    p.add_argument("--token", default="", help=f"bootstrap token (or --token-file, or ${TOKEN_ENV})")
    p.add_argument("--token-file", default="", help="file holding the bootstrap token")
    p.add_argument("--ca-bundle", required=True, help="CA certificate(s) that verify the hub")
    p.add_argument("--address", default="", help="IP other workloads reach this VM at "
                                                 "(default: the one towards the hub)")
    p.add_argument("--hostname", default="", help="this VM's host name (default: the system's)")
    p.add_argument("--no-run", action="store_true", help="exit after enrolling")
    tuning(p)
    p.set_defaults(func=cmd_join)

    p = sub.add_parser("run", parents=[after],
                       help="heartbeat and renew (resumes after a restart; no token)")
    tuning(p)
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("version", help="print the version")
    p.set_defaults(func=lambda args: print(f"federation-agent {__version__}") or 0)
    return parser


def main(argv: list[str] | None = None) -> int:
    return run_command(build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
