"""The two modes' figures side by side: ratios, goals, a watch model and a printed table (pure).

Watches: in hub mode each API server serves its own istiod (``L``, read before
the hub registers) and the hub (``H``); in multi-primary its own istiod and one
reader per other member (``R`` each). So the fleet serves ``N·(L+H)`` watches
with the hub, O(N), and ``N·(L+(N−1)·R)`` in multi-primary, O(N²); ``model``
evaluates both with this run's ``L``, ``H`` and ``R``.
"""

from __future__ import annotations

from peers.comparing.measuring import ratio

LATENCY_GOAL = 1.5  # hub latency / multi-primary latency, at most
MODEL_SIZES = (5, 20, 40, 100)


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def watch_model(hub: dict, multi: dict, clusters: int) -> dict:
    """L, H, R per API server (means over members) and the fleet totals they imply by size."""
    hub_w, multi_w = hub.get("watch_summary", {}), multi.get("watch_summary", {})
    local = _mean(hub_w.get("istiod_only_per_apiserver") or [])
    with_hub = hub_w.get("per_apiserver_mean")
    with_readers = multi_w.get("per_apiserver_mean")
    if local is None or with_hub is None or with_readers is None or clusters < 2:
        return {}
    per_hub, per_reader = with_hub - local, (with_readers - local) / (clusters - 1)
    sizes = sorted({clusters, *MODEL_SIZES})
    return {
        "istiod_local": round(local, 1), "hub_per_member": round(per_hub, 1),
        "remote_reader_per_member": round(per_reader, 1),
        "fleet_total": {str(n): {"hub": round(n * (local + per_hub)),
                                 "multi-primary": round(n * (local + (n - 1) * per_reader))} for n in sizes},
    }


def compare(hub: dict, multi: dict, clusters: int) -> dict:
    """Ratios hub / multi-primary and whether each goal is met (None: not measured)."""
    lat_h, lat_m = hub.get("latency_ms", {}).get("all", {}), multi.get("latency_ms", {}).get("all", {})
    ist_h, ist_m = hub.get("istiod_summary", {}), multi.get("istiod_summary", {})
    w_h, w_m = hub.get("watch_summary", {}), multi.get("watch_summary", {})
    ratios = {
        "latency_p50": ratio(lat_h.get("p50"), lat_m.get("p50")),
        "latency_p99": ratio(lat_h.get("p99"), lat_m.get("p99")),
        "istiod_rss": ratio(ist_h.get("rss_mb_mean"), ist_m.get("rss_mb_mean")),
        "istiod_cpu_startup": ratio(ist_h.get("cpu_seconds_ready_mean"), ist_m.get("cpu_seconds_ready_mean")),
        "istiod_cpu_changes": ratio(ist_h.get("cpu_seconds_changes_mean"), ist_m.get("cpu_seconds_changes_mean")),
        "watches_per_apiserver": ratio(w_h.get("per_apiserver_mean"), w_m.get("per_apiserver_mean")),
    }
    complete = not hub.get("missed") and not multi.get("missed") and not hub.get("error") \
        and not multi.get("error")

    def goal(value: float | None, met) -> bool | None:
        return None if value is None else bool(met(value))

    model = watch_model(hub, multi, clusters)
    goals = {
        f"latency_p50_ratio<={LATENCY_GOAL:g}": goal(ratios["latency_p50"], lambda r: r <= LATENCY_GOAL and complete),
        f"latency_p99_ratio<={LATENCY_GOAL:g}": goal(ratios["latency_p99"], lambda r: r <= LATENCY_GOAL and complete),
        "istiod_rss_ratio<1": goal(ratios["istiod_rss"], lambda r: r < 1),
        "watches_per_apiserver_ratio<1": goal(ratios["watches_per_apiserver"], lambda r: r < 1),
    }
    return {"ratios": ratios, "goals": goals, "watch_model": model, "changes_all_seen": complete}


def _cell(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value) < 10 else f"{value:,.0f}"
    return str(value)


def table(results: dict) -> str:
    modes = results.get("modes", {})
    hub, multi = modes.get("hub", {}), modes.get("multi-primary", {})
    ratios = results.get("comparison", {}).get("ratios", {})

    def lat(mode: dict, part: str, key: str):
        return mode.get("latency_ms", {}).get(part, {}).get(key)

    def ist(mode: dict, key: str):
        return mode.get("istiod_summary", {}).get(key)

    def wat(mode: dict, key: str):
        return mode.get("watch_summary", {}).get(key)

    rows = [
        ("change → B's sidecar p50 (ms)", lat(hub, "all", "p50"), lat(multi, "all", "p50"), ratios.get("latency_p50"),
         f"≤ {LATENCY_GOAL:g}"),
        ("change → B's sidecar p99 (ms)", lat(hub, "all", "p99"), lat(multi, "all", "p99"), ratios.get("latency_p99"),
         f"≤ {LATENCY_GOAL:g}"),
        ("  to zero p50 / p99 (ms)", _pair(lat(hub, "to_zero", "p50"), lat(hub, "to_zero", "p99")),
         _pair(lat(multi, "to_zero", "p50"), lat(multi, "to_zero", "p99")), None, ""),
        ("  back p50 / p99 (ms)", _pair(lat(hub, "back", "p50"), lat(hub, "back", "p99")),
         _pair(lat(multi, "back", "p50"), lat(multi, "back", "p99")), None, ""),
        ("changes seen / run", _pair(_seen(hub), hub.get("changes")), _pair(_seen(multi), multi.get("changes")),
         None, "all"),
        ("istiod RSS mean (MB)", ist(hub, "rss_mb_mean"), ist(multi, "rss_mb_mean"), ratios.get("istiod_rss"), "< 1"),
        ("istiod CPU s to converge, mean", ist(hub, "cpu_seconds_ready_mean"), ist(multi, "cpu_seconds_ready_mean"),
         ratios.get("istiod_cpu_startup"), ""),
        ("istiod CPU s in the changes, mean", ist(hub, "cpu_seconds_changes_mean"),
         ist(multi, "cpu_seconds_changes_mean"), ratios.get("istiod_cpu_changes"), ""),
        ("watches per API server, mean", wat(hub, "per_apiserver_mean"), wat(multi, "per_apiserver_mean"),
         ratios.get("watches_per_apiserver"), "< 1"),
        ("hub RSS MB / CPU s", _pair(hub.get("hub", {}).get("ready", {}).get("rss_mb"),
                                     hub.get("hub", {}).get("after", {}).get("cpu_seconds")), "(no hub)", None, ""),
    ]
    header = ("", "hub", "multi-primary", "hub/mp", "goal")
    cells = [header] + [(name, _cell(h), _cell(m), _cell(r), g) for name, h, m, r, g in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths)))
             for row in cells]
    model = results.get("comparison", {}).get("watch_model", {})
    if model:
        lines.append(f"watches per API server: own istiod {model['istiod_local']}, hub +{model['hub_per_member']}, "
                     f"each remote istiod +{model['remote_reader_per_member']}; fleet totals (hub vs multi-primary): "
                     + ", ".join(f"N={n}: {t['hub']} vs {t['multi-primary']}"
                                 for n, t in model["fleet_total"].items()))
    for name, met in results.get("comparison", {}).get("goals", {}).items():
        lines.append(f"goal {name}: {'not measured' if met is None else 'met' if met else 'MISSED'}")
    for mode_name, mode in modes.items():
        if mode.get("error"):
            lines.append(f"{mode_name} failed: {mode['error'][:500]}")
    return "\n".join(lines)


def _pair(a, b) -> str:
    return f"{_cell(a)} / {_cell(b)}"


def _seen(mode: dict):
    return None if "changes" not in mode else mode["changes"] - mode.get("missed", 0)
