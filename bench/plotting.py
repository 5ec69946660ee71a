"""The benchmark's plot (PNG, matplotlib): latency by rate and by size, memory and CPU."""

from __future__ import annotations

from pathlib import Path


def plot(grid: dict, path: str | Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")  # files only, never a display
    from matplotlib import pyplot

    runs = grid["runs"]
    figure, axes = pyplot.subplots(2, 2, figsize=(12, 9))
    (rates_ax, sizes_ax), (memory_ax, cpu_ax) = axes

    first = runs[0].get("rates", [])
    xs = [r["rate"] for r in first]
    for kind, style in (("availability_ms", "o-"), ("weight_ms", "s--")):
        for q in ("p50", "p99"):
            rates_ax.plot(xs, [r[kind][q] for r in first], style, label=f"{kind[:-3]} {q}")
    rates_ax.set(title=f"propagation by rate ({runs[0]['config']['clusters']} clusters × "
                       f"{runs[0]['config']['services']} services)",
                 xlabel="changes per second", ylabel="ms", yscale="log")
    rates_ax.legend()

    sized = sorted((r for r in runs if r.get("rates")), key=lambda r: r["convergence"]["expected_objects"])
    labels = [f"{r['config']['clusters']}×{r['config']['services']}" for r in sized]
    for kind, style in (("availability_ms", "o-"), ("weight_ms", "s--")):
        sizes_ax.plot(labels, [r["rates"][0][kind]["p99"] for r in sized], style, label=f"{kind[:-3]} p99")
    sizes_ax.set(title=f"p99 at {runs[0]['config']['rate']:g}/s by size (clusters × services)",
                 ylabel="ms")
    sizes_ax.legend()

    points = grid.get("memory", {}).get("points", [])
    memory_ax.plot([p["objects"] for p in points], [p["rss_after_convergence_mb"] for p in points], "o",
                   label="after convergence")
    memory_ax.plot([p["objects"] for p in points], [p["peak_rss_mb"] for p in points], "x", label="peak")
    memory = grid.get("memory", {})
    fleet = memory.get("one_fleet", {})
    memory_ax.set(title=f"hub RSS ({fleet.get('kb_per_object_after_convergence')} KB per object at "
                        f"{fleet.get('clusters')} clusters, {memory.get('kb_per_object_after_convergence')} over all)",
                  xlabel="rendered objects", ylabel="MB")
    memory_ax.legend()

    names = [f"{r['config']['clusters']}×{r['config']['services']}" for r in runs if r.get("cpu_per_write")]
    hub = [r["cpu_per_write"]["hub_ms"] or 0 for r in runs if r.get("cpu_per_write")]
    floor = [r["cpu_per_write"]["floor_ms"] or 0 for r in runs if r.get("cpu_per_write")]
    positions = range(len(names))
    cpu_ax.bar([p - 0.2 for p in positions], hub, 0.4, label="hub")
    cpu_ax.bar([p + 0.2 for p in positions], floor, 0.4, label="floor (minimal keep-alive client)")
    cpu_ax.set_xticks(list(positions), names)
    cpu_ax.set(title="CPU per member write", ylabel="ms")
    cpu_ax.legend()

    figure.tight_layout()
    target = Path(path)
    figure.savefig(target, dpi=100)
    pyplot.close(figure)
    return target
