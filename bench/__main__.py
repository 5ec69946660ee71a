"""``python -m bench``: run the benchmark and write its JSON results."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from bench.grid import GRIDS, configs, memory_slope, run_grid
from bench.running import run, summary
from bench.settings import BenchConfig
from federation import errors


def build_parser() -> argparse.ArgumentParser:
    d = BenchConfig()
    p = argparse.ArgumentParser(prog="python -m bench",
                                description="Measure a hub process against simulated member clusters.")
    p.add_argument("--clusters", type=int, default=d.clusters, help=f"member clusters (default {d.clusters})")
    p.add_argument("--networks", type=int, default=d.networks, help=f"networks (default {d.networks})")
    p.add_argument("--services", type=int, default=d.services, help=f"services in the mesh (default {d.services})")
    p.add_argument("--replicas-per-service", type=int, default=d.replicas_per_service,
                   help=f"clusters each service runs in (default {d.replicas_per_service})")
    p.add_argument("--endpoints", type=int, default=d.endpoints,
                   help=f"endpoints per service per cluster (default {d.endpoints})")
    p.add_argument("--changes", type=int, default=d.changes,
                   help=f"endpoint readiness flips to time (default {d.changes})")
    p.add_argument("--rate", type=float, default=d.rate, help=f"flips per second (default {d.rate:g})")
    p.add_argument("--idle-seconds", type=float, default=d.idle_seconds,
                   help=f"quiet period that must see no write (default {d.idle_seconds:g})")
    p.add_argument("--converge-timeout", type=float, default=d.converge_timeout,
                   help=f"give up on convergence after this many seconds (default {d.converge_timeout:g})")
    p.add_argument("--change-timeout", type=float, default=d.change_timeout,
                   help=f"a flip not seen everywhere by then is missed (default {d.change_timeout:g})")
    p.add_argument("--availability-every", type=int, default=d.availability_every,
                   help="every n-th change takes a cluster's endpoints to zero or back; 0: never "
                        f"(default {d.availability_every})")
    p.add_argument("--floor-requests", type=int, default=d.floor_requests,
                   help=f"applies of the minimal client measuring the CPU floor; 0: skip (default {d.floor_requests})")
    p.add_argument("--sim-processes", type=int, default=d.sim_processes,
                   help=f"processes serving the simulated clusters, dealt round-robin (default {d.sim_processes})")
    p.add_argument("--seed", type=int, default=d.seed, help="order of the flips")
    p.add_argument("--hub-arg", action="append", default=[], dest="hub_args",
                   help="extra `federation serve` flag, e.g. --hub-arg=--debounce-quiet=0.05 (repeatable)")
    p.add_argument("--hub-log-level", default=d.hub_log_level, choices=["debug", "info", "warning", "error"])
    p.add_argument("--workdir", default="", help="keep kubeconfigs and the hub's log here (default: temporary)")
    p.add_argument("--schemas", default="", help="CRD schemas for admission (default ../shared when present)")
    p.add_argument("--grid", default="none", choices=GRIDS,
                   help="none: one run as the flags say; rates: that run at 5, 20 and 50 changes/s; "
                        "full: rates, then 100/400 services at 20 clusters and 5/40 clusters at 200 services, "
                        "each at 5/s (default none)")
    p.add_argument("--out", default="bench-results.json", help="JSON results file (default bench-results.json)")
    p.add_argument("--plot", default="", help="PNG plot of the results (default: none)")
    p.add_argument("--strict", action="store_true", help="exit status 1 when a target is missed")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    options = {k: v for k, v in vars(args).items() if k not in ("out", "strict", "grid", "plot")}
    try:
        config = BenchConfig(**options)
        config.validate()
    except errors.ConfigError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 2
    say = lambda text: print(f"bench: {text}", flush=True)  # noqa: E731
    try:
        if args.grid == "none":
            results = run(config, progress=say)
            runs, grid = [results], {"runs": [results], "memory": memory_slope([results])}
        else:
            results = grid = run_grid(configs(config, args.grid), progress=say)
            runs = grid["runs"]
    except KeyboardInterrupt:  # everything is stopped by then
        print("bench: interrupted", file=sys.stderr)
        return 130
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    for r in runs:
        print(f"== {r['config']['clusters']} clusters × {r['config']['services']} services")
        print(summary(r))
    if len(runs) > 1:
        memory = grid["memory"]
        fleet = memory.get("one_fleet", {})
        print(f"marginal RSS: {memory.get('kb_per_object_after_convergence')} KB per rendered object after "
              f"convergence, {memory.get('kb_per_object_peak')} KB at peak, over every size; "
              f"{fleet.get('kb_per_object_after_convergence')} KB and {fleet.get('kb_per_object_peak')} KB "
              f"over the sizes of {fleet.get('clusters')} clusters")
        print("\n".join(f"target {name}: {'met' if ok else 'MISSED'}" for name, ok in grid["targets"].items()
                        if not name.startswith("run")))
    print(f"results written to {args.out}")
    if args.plot and not any("error" in r for r in runs):
        from bench.plotting import plot

        print(f"plot written to {plot(grid, args.plot)}")
    failed = [r["error"] for r in runs if "error" in r]
    if failed:
        print(f"bench failed: {failed[0]}", file=sys.stderr)
        return 2
    return 1 if args.strict and not all(results["targets"].values()) else 0


if __name__ == "__main__":
    sys.exit(main())
