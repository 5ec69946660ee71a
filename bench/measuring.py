"""Measuring on the member clusters' side: when a weight arrives, and how many writes were made.

Both read the simulated clusters' stores in-process: each store's WorkloadEntry
commits as they happen, and each store's resourceVersion (one per committed write)
and request log (every request answered over HTTP).
"""

from __future__ import annotations

import functools
import math
import threading
import time
from dataclasses import dataclass, field

from bench.topology import WE
from federation import errors
from federation.model.ids import SERVICE_NAME_LABEL, SOURCE_CLUSTER_LABEL
from kubesim.fleet import SimFleet

WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")


@dataclass
class Change:
    """One endpoint flip: ``service``'s WorkloadEntries from ``source`` must get ``weight``."""

    service: str
    source: str
    weight: int
    started: float
    waiting: set[str]  # clusters not yet showing the new weight
    affected: int = 0  # writes it calls for: objects whose rendering changes
    kind: str = "weight"  # or "availability": its entries go or return
    arrivals: dict[str, float] = field(default_factory=dict)
    done: float | None = None


class WeightWatch:
    """Observes WorkloadEntry commits in every cluster's store and completes a pending
    change once its weight is committed in every cluster it waits for.

    The stores call it as they commit (``ObjectStore.observe``), so an arrival is timed
    when the write is stored, and no thread is woken per write in the process that
    serves every simulated cluster (a thread per cluster would compete with them for it).
    """

    def __init__(self, fleet: SimFleet):
        self._fleet = fleet
        self._lock = threading.Condition()
        self._pending: dict[tuple[str, str], Change] = {}
        self._observers = [(sim.store, sim.store.rtype(*WE), functools.partial(self._committed, sim.name))
                           for sim in fleet]

    def start(self) -> None:
        for store, rtype, observer in self._observers:
            store.observe(rtype, observer)

    def stop(self) -> None:
        for store, rtype, observer in self._observers:
            store.unobserve(rtype, observer)

    def expect(self, change: Change) -> None:
        with self._lock:
            self._pending[(change.service, change.source)] = change

    def wait(self, change: Change, timeout: float) -> bool:
        """True once ``change`` is visible everywhere; False (and forgotten) after ``timeout``."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while change.done is None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    if self._pending.get((change.service, change.source)) is change:
                        del self._pending[(change.service, change.source)]
                    return False
                self._lock.wait(remaining)
        return True

    def _committed(self, cluster: str, event) -> None:
        labels = event.entry.labels
        key = (labels.get(SERVICE_NAME_LABEL, ""), labels.get(SOURCE_CLUSTER_LABEL, ""))
        weight = 0 if event.type == "DELETED" else (event.entry.obj.get("spec") or {}).get("weight")
        self._arrived(key, cluster, weight, time.monotonic())

    def _arrived(self, key: tuple[str, str], cluster: str, weight, now: float) -> None:
        with self._lock:
            change = self._pending.get(key)
            if change is None or change.weight != weight or cluster not in change.waiting:
                return
            change.waiting.discard(cluster)
            change.arrivals[cluster] = now
            if not change.waiting:
                change.done = now
                del self._pending[key]
                self._lock.notify_all()


class WriteCounter:
    """Writes into the member clusters since ``mark()``: committed writes (resourceVersion
    deltas, also by kind) and write/read requests (the API servers' request logs)."""

    def __init__(self, fleet: SimFleet):
        self._fleet = fleet
        self._rvs: dict[str, int] = {}

    def mark(self) -> None:
        for sim in self._fleet:
            self._rvs[sim.name] = sim.store.resource_version
            if hasattr(sim, "clear_requests"):
                sim.clear_requests()

    def since_mark(self) -> dict:
        committed, by_kind, writes, reads = 0, {}, None, None
        for sim in self._fleet:
            before = self._rvs[sim.name]
            committed += sim.store.resource_version - before
            for rtype in sim.store.catalog.types:
                try:
                    events, _ = sim.store.wait_events(rtype, before, 0)
                except errors.ResourceExpired:
                    continue  # history shorter than the phase: counted in the total only
                if events:
                    name = f"{rtype.kind}.{rtype.group or 'core'}"
                    by_kind[name] = by_kind.get(name, 0) + len(events)
            if hasattr(sim, "requests"):
                answered = sim.requests()
                count = sum(1 for r in answered if r.method in WRITE_METHODS)
                writes = (writes or 0) + count
                reads = (reads or 0) + len(answered) - count
        return {"committed": committed, "by_kind": dict(sorted(by_kind.items())),
                "write_requests": writes, "read_requests": reads}

    def settle(self, quiet: float = 2.0, timeout: float = 20.0) -> None:
        """Wait until no store has changed for ``quiet`` seconds (at most ``timeout``)."""
        deadline = time.monotonic() + timeout
        last, since = None, time.monotonic()
        while time.monotonic() < deadline:
            now = tuple(sim.store.resource_version for sim in self._fleet)
            if now != last:
                last, since = now, time.monotonic()
            elif time.monotonic() - since >= quiet:
                return
            time.sleep(0.1)


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (``q`` in 0..100); None without values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def distribution_ms(seconds: list[float]) -> dict:
    ms = [s * 1000 for s in seconds]
    out: dict = {f"p{q}": _rounded(percentile(ms, q), 1) for q in (50, 95, 99)}
    out["max"] = _rounded(max(ms) if ms else None, 1)
    out["mean"] = _rounded(sum(ms) / len(ms) if ms else None, 1)
    return out


def spread(values: list[float]) -> dict:
    return {"min": _rounded(min(values) if values else None, 2), "median": _rounded(percentile(values, 50), 2),
            "max": _rounded(max(values) if values else None, 2)}


def _rounded(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)
