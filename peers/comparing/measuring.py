"""What the comparison measures: change latency on an xDS stream, process usage, API server watches.

* ``follow_flip``: one availability change timed on the stream of a probe
  connected as a sidecar to the viewing cluster's istiod: subscribe, wait for the
  state before the change, write the change, and stop at the first push that
  shows the new state (``XdsProbe.follow_endpoints``; no polling, no sleeps).
* ``usage``: CPU seconds (utime + stime from ``/proc/<pid>/stat``), RSS and peak
  RSS (``VmRSS``, ``VmHWM``) of a process.
* ``watches``: the WATCH requests a kube-apiserver is serving, from its
  ``/metrics`` gauge ``apiserver_longrunning_requests{verb="WATCH"}`` (STABLE in
  ``k8s.io/apiserver`` v0.37, counted in ``handlers/rest.go``; the older
  ``apiserver_registered_watchers`` no longer exists there).
* ``latency_ms``: nearest-rank percentiles of a set of latencies.
"""

from __future__ import annotations

import math
import os
import re
import time
from dataclasses import dataclass
from typing import Callable, Iterable

from peers.apiserver import KubeAPIServer
from peers.errors import PeerError
from peers.xds import Endpoint, XdsProbe

WATCH_GAUGE = "apiserver_longrunning_requests"
STREAM_SETUP = 10.0  # seconds a fresh stream may take for its CDS and first EDS answer
_SAMPLE = re.compile(r'^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)\{(?P<labels>[^}]*)\}\s+(?P<value>\S+)')
_LABEL = re.compile(r'(?P<key>[a-zA-Z_][a-zA-Z0-9_]*)="(?P<value>(?:[^"\\]|\\.)*)"')


# -- statistics -------------------------------------------------------------------
def percentile(values: Iterable[float], q: float) -> float | None:
    """Nearest-rank percentile (``q`` in 0..100) of ``values``; None when there are none."""
    ordered = sorted(values)
    if not ordered:
        return None
    if not 0 <= q <= 100:
        raise ValueError(f"percentile {q} is outside 0..100")
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def latency_ms(seconds: Iterable[float]) -> dict:
    """count, p50, p99, max and mean in milliseconds (None where nothing was measured)."""
    ms = [s * 1000 for s in seconds]

    def rounded(value: float | None) -> float | None:
        return None if value is None else round(value, 1)

    return {"count": len(ms), "p50": rounded(percentile(ms, 50)), "p99": rounded(percentile(ms, 99)),
            "max": rounded(max(ms) if ms else None), "mean": rounded(sum(ms) / len(ms) if ms else None)}


def ratio(numerator: float | None, denominator: float | None, digits: int = 2) -> float | None:
    if numerator is None or not denominator:
        return None
    return round(numerator / denominator, digits)


# -- processes --------------------------------------------------------------------
def usage(pid: int) -> dict:
    """CPU seconds so far, RSS and peak RSS (MB) of a live process."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            fields = fh.read().rpartition(")")[2].split()  # from field 3 (state) on
        status = {}
        with open(f"/proc/{pid}/status", encoding="ascii") as fh:
            for line in fh:
                key, _, value = line.partition(":")
                status[key] = value.strip()
    except OSError as exc:
        raise PeerError(f"process {pid} is gone: {exc}") from exc
    ticks = os.sysconf("SC_CLK_TCK")
    return {"cpu_seconds": round((int(fields[11]) + int(fields[12])) / ticks, 2),  # utime, stime
            "rss_mb": _kb_to_mb(status.get("VmRSS")), "peak_rss_mb": _kb_to_mb(status.get("VmHWM")),
            "threads": int(status.get("Threads", "0"))}


def _kb_to_mb(text: str | None) -> float:
    return round(int((text or "0 kB").split()[0]) / 1024, 1)


# -- API server watches -------------------------------------------------------------
def parse_watches(metrics_text: str) -> dict[str, int]:
    """WATCH requests being served, by resource (``group/resource``, core as ``resource``)."""
    out: dict[str, int] = {}
    for line in metrics_text.splitlines():
        match = _SAMPLE.match(line)
        if match is None or match["name"] != WATCH_GAUGE:
            continue
        labels = {m["key"]: m["value"] for m in _LABEL.finditer(match["labels"])}
        if labels.get("verb") != "WATCH":
            continue
        count = int(float(match["value"]))
        if count:
            group, resource = labels.get("group", ""), labels.get("resource", "") or labels.get("subresource", "")
            key = f"{group}/{resource}" if group else resource
            out[key] = out.get(key, 0) + count
    return dict(sorted(out.items()))


def watches(server: KubeAPIServer) -> dict[str, int]:
    status, body = server.get_raw("/metrics", timeout=15.0)
    if status != 200:
        raise PeerError(f"kube-apiserver {server.name!r}: GET /metrics: {status} {body[:200]!r}")
    return parse_watches(body.decode(errors="replace"))


def difference(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    """Per resource, what ``after`` has beyond ``before`` (only the positive entries)."""
    keys = set(after) | set(before)
    return {k: after.get(k, 0) - before.get(k, 0) for k in sorted(keys) if after.get(k, 0) > before.get(k, 0)}


# -- one availability change, timed on the xDS stream --------------------------------
@dataclass
class Flip:
    """``service``'s endpoints in ``source`` go to ``ready`` (True: N ready, False: none);
    timed until the sidecar probe on ``viewer``'s istiod sees it."""

    service: str
    source: str
    viewer: str
    ready: bool
    seconds: float | None = None  # from the first write of the change to the push showing it
    write_seconds: float | None = None  # how long the change's writes took
    pushes: int = 0  # EDS pushes the probe received (the first shows the state before)
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.seconds is not None


def follow_flip(probe: XdsProbe, cluster_name: str, flip: Flip, present: Callable[[list[Endpoint]], bool],
                write: Callable[[], None], *, settle_timeout: float, timeout: float) -> Flip:
    """Wait (within ``settle_timeout``) until a push shows the state before the change
    (``present`` != ``flip.ready``); then, on a fresh stream whose first push shows it again,
    run ``write`` and time until a push shows the state after it (the stream ends ``timeout``
    seconds after the write at the latest). Fills and returns ``flip``."""
    before = probe.follow_endpoints(cluster_name, lambda eps: present(eps) != flip.ready, timeout=settle_timeout)
    if not before.ok:
        flip.error = f"the state before the change was not seen within {settle_timeout:.0f}s: " \
                     f"{before.error or 'other endpoints'}"
        return flip
    state = {"started": 0.0, "written": 0.0, "seen": 0.0}

    def condition(endpoints: list[Endpoint]) -> bool:
        if not state["written"]:
            if present(endpoints) == flip.ready:
                return False  # the state before came and went: wait for it again (the stream is bounded)
            state["started"] = time.monotonic()
            write()
            state["written"] = time.monotonic()
            return False
        if present(endpoints) == flip.ready:
            state["seen"] = time.monotonic()
            return True
        return False

    outcome = probe.follow_endpoints(cluster_name, condition, timeout=timeout + STREAM_SETUP)
    flip.pushes = outcome.attempts
    if state["written"]:
        flip.write_seconds = round(state["written"] - state["started"], 4)
    if outcome.ok and state["seen"] - state["started"] <= timeout:
        flip.seconds = round(state["seen"] - state["started"], 4)
    elif not state["written"]:
        flip.error = f"the state before the change was gone again: {outcome.error or 'other endpoints'}"
    else:
        flip.error = f"the change was not seen within {timeout:.0f}s: {outcome.error or 'other endpoints'}"
    return flip
