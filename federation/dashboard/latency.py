"""Propagation latency per target cluster, from the hub's Prometheus histogram
``federation_propagation_latency_seconds`` (p50/p95 as ``histogram_quantile`` estimates)."""

from __future__ import annotations

import math
import re
import urllib.error
import urllib.request

from federation import errors

METRIC = "federation_propagation_latency_seconds"
_BUCKET = re.compile(METRIC + r'_bucket\{(?P<labels>[^}]*)\} (?P<value>\S+)')
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')
FETCH_TIMEOUT_S = 3.0


def parse(scrape: str) -> dict[str, dict]:
    """Cluster → {"p50", "p95" (seconds), "count"} from a Prometheus text scrape."""
    buckets: dict[str, list[tuple[float, float]]] = {}
    for match in _BUCKET.finditer(scrape):
        labels = dict(_LABEL.findall(match["labels"]))
        cluster, le = labels.get("cluster"), labels.get("le")
        if cluster is None or le is None:
            continue
        buckets.setdefault(cluster, []).append((math.inf if le == "+Inf" else float(le), float(match["value"])))
    out = {}
    for cluster, rows in buckets.items():
        rows.sort()
        count = rows[-1][1] if rows else 0.0
        if count <= 0:
            continue
        out[cluster] = {"p50": quantile(0.5, rows), "p95": quantile(0.95, rows), "count": int(count)}
    return out


def quantile(q: float, rows: list[tuple[float, float]]) -> float:
    """Linear interpolation inside the bucket holding rank ``q`` (as Prometheus does)."""
    total = rows[-1][1]
    rank = q * total
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in rows:
        if count >= rank:
            if math.isinf(bound):
                return lower_bound  # beyond the last finite bucket: its bound is all we know
            span = count - lower_count
            return lower_bound + (bound - lower_bound) * ((rank - lower_count) / span if span else 1.0)
        lower_bound, lower_count = bound, count
    return lower_bound


def fetch(url: str) -> dict[str, dict]:
    """Scrape ``url`` (the hub's ``/metrics``) and parse it."""
    try:
        with urllib.request.urlopen(url, timeout=FETCH_TIMEOUT_S) as response:  # noqa: S310 - operator's URL
            return parse(response.read().decode("utf-8", "replace"))
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise errors.Transient(f"metrics at {url}: {getattr(exc, 'reason', exc)}") from exc
