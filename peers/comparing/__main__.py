"""``python -m peers.comparing``: both modes, one after the other, then the JSON and the table.

    python -m peers.comparing --out bench-multiprimary.json            # 5 clusters × 100 services
    python -m peers.comparing --clusters 2 --services 2 --changes 4     # a quick look

Exit status: 0 measured (goals missed or not, unless ``--strict``), 1 a mode failed or, with
``--strict``, a goal was missed, 2 bad arguments.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

from peers.comparing.reporting import compare, table
from peers.comparing.running import MODES, Scale, run_mode
from peers.errors import PeerError


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m peers.comparing", description=__doc__.split("\n")[0])
    d = Scale()
    p.add_argument("--clusters", type=int, default=d.clusters, help="members, each its own network")
    p.add_argument("--services", type=int, default=d.services, help="services, each in every member")
    p.add_argument("--pods", type=int, default=d.pods, help="ready pods per service and member")
    p.add_argument("--changes", type=int, default=d.changes, help="availability changes (even: to zero, back)")
    p.add_argument("--change-timeout", type=float, default=d.change_timeout, help="seconds per change")
    p.add_argument("--settle-timeout", type=float, default=d.settle_timeout,
                   help="seconds for a mode to converge")
    p.add_argument("--modes", default=",".join(MODES), help=f"comma-separated, of {', '.join(MODES)}")
    p.add_argument("--hub-arg", action="append", default=[], help="an extra `federation serve` flag (repeat)")
    p.add_argument("--istiod-env", action="append", default=[], metavar="KEY=VALUE",
                   help="istiod environment in both modes (repeat; default "
                        + ", ".join(f"{k}={v}" for k, v in d.istiod_env) + ")")
    p.add_argument("--workdir", default="", help="keep the fleets' files here (default: a temporary directory)")
    p.add_argument("--out", default="bench-multiprimary.json", help="the JSON results")
    p.add_argument("--strict", action="store_true", help="exit 1 when a goal is missed")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    try:
        env = dict(Scale().istiod_env)
        for item in args.istiod_env:
            key, sep, value = item.partition("=")
            if not sep or not key:
                raise PeerError(f"--istiod-env {item!r}: expected KEY=VALUE")
            env[key] = value
        scale = Scale(args.clusters, args.services, args.pods, args.changes, args.change_timeout,
                      args.settle_timeout, tuple(args.hub_arg), tuple(sorted(env.items())))
        scale.validate()
        if not modes or any(m not in MODES for m in modes):
            raise PeerError(f"--modes {args.modes!r}: a comma-separated list of {', '.join(MODES)}")
    except PeerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    def say(text: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)

    results: dict = {"config": {**asdict(scale), "modes": modes},
                     "machine": {"cpus": os.cpu_count(), "load_average_before": list(os.getloadavg())},
                     "modes": {}}
    with tempfile.TemporaryDirectory(prefix="bench-multiprimary-") as temp:
        workdir = Path(args.workdir or temp)
        for mode in modes:
            started = time.monotonic()
            results["modes"][mode] = run_mode(mode, scale, workdir, say)
            results["modes"][mode]["seconds"] = round(time.monotonic() - started, 1)
    results["machine"]["load_average_after"] = list(os.getloadavg())
    if {"hub", "multi-primary"} <= set(results["modes"]):
        results["comparison"] = compare(results["modes"]["hub"], results["modes"]["multi-primary"], scale.clusters)
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
    print(table(results))
    print(f"results: {args.out}")
    failed = any(m.get("error") for m in results["modes"].values())
    missed = any(v is False for v in results.get("comparison", {}).get("goals", {}).values())
    return 1 if failed or (args.strict and missed) else 0


if __name__ == "__main__":
    sys.exit(main())
