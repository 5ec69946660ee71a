"""``federation-agent`` command line."""

from __future__ import annotations

import argparse
import sys

from federation import __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="federation-agent",
                                     description="Onboard this VM into the federated mesh.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    p = sub.add_parser("version", help="print the version")
    p.set_defaults(func=lambda args: print(f"federation-agent {__version__}") or 0)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args) or 0


if __name__ == "__main__":
    sys.exit(main())
