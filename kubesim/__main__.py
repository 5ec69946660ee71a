"""``python -m kubesim``: the simulated member clusters on their own."""

import argparse
import sys

from federation.logging_setup import configure
from kubesim.cli import add_arguments, run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kubesim", description="Run simulated member clusters.")
    add_arguments(parser)
    parser.add_argument("--log-level", default="info")
    parser.add_argument("--log-format", default="kv", choices=("kv", "json"))
    args = parser.parse_args(argv)
    configure(args.log_level, args.log_format)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
