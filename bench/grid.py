"""The benchmark's grid: a rate sweep on one converged hub and a size sweep at a low rate.

Each size is its own fleet and hub. The marginal RSS per rendered object is the
slope of the hub's RSS after convergence against the objects it rendered: fitted
over every size, and over the sizes of one fleet (the base run's number of
clusters, services changing), which the target reads, since each cluster brings
threads and connections of its own whatever it holds. Each run's own targets are
kept, and the grid adds its own.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Callable

from bench.running import run
from bench.settings import TARGET_RSS_KB_PER_OBJECT, BenchConfig

GRIDS = ("none", "rates", "full")
# (clusters, services) of the size sweep besides the base 20 × 200
SIZES = ((20, 100), (20, 400), (5, 200), (40, 200))
RATES = ((20.0, 400), (50.0, 500))  # after the base rate: (rate, changes)


def configs(base: BenchConfig, grid: str) -> list[BenchConfig]:
    """``none``: the base run alone; ``rates``: base at 5, 20 and 50 changes/s;
    ``full``: that, then every size of ``SIZES`` at 5/s."""
    if grid == "none":
        return [base]
    first = replace(base, more_rates=list(RATES)) if not base.more_rates else base
    if grid == "rates":
        return [first]
    sized = [replace(base, clusters=c, services=s, networks=min(base.networks, c), more_rates=[],
                     changes=min(base.changes, 100), idle_seconds=min(base.idle_seconds, 10.0))
             for c, s in SIZES]
    return [first, *sized]


def run_grid(runs: list[BenchConfig], progress: Callable[[str], None] | None = None) -> dict:
    say = progress or (lambda text: None)
    results = []
    for i, config in enumerate(runs, start=1):
        say(f"run {i} of {len(runs)}: {config.clusters} clusters × {config.services} services")
        results.append(run(config, progress))
    out = {"runs": results, "memory": memory_slope(results)}
    slope = out["memory"].get("one_fleet", {}).get("kb_per_object_after_convergence")
    out["targets"] = {f"run{i}:{name}": ok for i, r in enumerate(results, start=1)
                      for name, ok in r.get("targets", {}).items()}
    if len(results) > 1:
        out["targets"][f"rss_kb_per_object<={TARGET_RSS_KB_PER_OBJECT:g}"] = \
            slope is not None and slope <= TARGET_RSS_KB_PER_OBJECT
    return out


def memory_slope(results: list[dict]) -> dict:
    """Least-squares slope of RSS (after convergence, and peak) against rendered objects,
    over every run and over the runs with the first run's number of clusters (``one_fleet``)."""
    measured = [r for r in results if r.get("convergence", {}).get("expected_objects")
                and r.get("hub", {}).get("rss_after_convergence_mb")]
    out: dict = {"points": [{"objects": r["convergence"]["expected_objects"],
                             "clusters": r.get("config", {}).get("clusters"),
                             "rss_after_convergence_mb": r["hub"]["rss_after_convergence_mb"],
                             "peak_rss_mb": r["hub"].get("peak_rss_mb")} for r in measured]}
    out.update(_slopes(out["points"]))
    if measured:
        clusters = out["points"][0]["clusters"]
        fleet = _slopes([p for p in out["points"] if p["clusters"] == clusters])
        if fleet:
            out["one_fleet"] = {"clusters": clusters, **fleet}
    return out


def _slopes(points: list[dict]) -> dict:
    if len({p["objects"] for p in points}) < 2:
        return {}
    return {key: round(_slope([(p["objects"], p[field]) for p in points]) * 1024, 3)
            for key, field in (("kb_per_object_after_convergence", "rss_after_convergence_mb"),
                               ("kb_per_object_peak", "peak_rss_mb"))}


def _slope(points: list[tuple[float, float]]) -> float:
    mx = sum(x for x, _ in points) / len(points)
    my = sum(y for _, y in points) / len(points)
    return sum((x - mx) * (y - my) for x, y in points) / sum((x - mx) ** 2 for x, _ in points)
