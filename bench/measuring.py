"""Measuring on the member clusters' side: when a weight arrives, and how many writes were made.

The simulated clusters run in worker processes (``bench.sim_processes``). What is
counted there reads each store in-process: its WorkloadEntry commits as they happen,
its resourceVersion (one per committed write) and its request log (every request
answered over HTTP). Arrivals are timed with ``time.monotonic`` where the store
commits them: on Linux one clock for every process of the machine.
"""

from __future__ import annotations

import functools
import math
import threading
import time
from dataclasses import dataclass, field

from bench.topology import HUB_OWNED, KINDS, SERVICE
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


@dataclass(frozen=True)
class Arrival:
    """A WorkloadEntry of ``service`` from ``source`` committed in ``cluster`` with ``weight``
    (0: deleted) at ``at`` (``time.monotonic``)."""

    cluster: str
    service: str
    source: str
    weight: int | None
    at: float


def arrival(cluster: str, event) -> Arrival:
    """What a WorkloadEntry commit in ``cluster``'s store tells the benchmark."""
    labels = event.entry.labels
    weight = 0 if event.type == "DELETED" else (event.entry.obj.get("spec") or {}).get("weight")
    return Arrival(cluster, labels.get(SERVICE_NAME_LABEL, ""), labels.get(SOURCE_CLUSTER_LABEL, ""), weight,
                   time.monotonic())


class WeightWatch:
    """Completes a pending change once its weight is committed in every cluster it waits for.

    The fleet reports every WorkloadEntry commit of its stores as it happens
    (``ObjectStore.observe`` in each worker, handed over as ``Arrival``): no thread is
    woken per write in the processes that serve the clusters.
    """

    def __init__(self, fleet):
        self._fleet = fleet
        self._lock = threading.Condition()
        self._pending: dict[tuple[str, str], Change] = {}

    def start(self) -> None:
        self._fleet.watch(self.arrived)

    def stop(self) -> None:
        self._fleet.unwatch()

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

    def arrived(self, seen: Arrival) -> None:
        key = (seen.service, seen.source)
        with self._lock:
            change = self._pending.get(key)
            if change is None or change.weight != seen.weight or seen.cluster not in change.waiting:
                return
            change.waiting.discard(seen.cluster)
            change.arrivals[seen.cluster] = seen.at
            if not change.waiting:
                change.done = seen.at
                del self._pending[key]
                self._lock.notify_all()


_OWNER_KEY, _OWNER_VALUE = HUB_OWNED.split("=", 1)


class HubCounts:
    """The hub's objects in one cluster by kind, kept as its store commits them
    (``ObjectStore.observe``), so that reading them costs nothing however often the
    benchmark asks: a count by label scans every Service each time. Of the Services
    only the hub's stubs count (they carry its label), beside the cluster's own.

    Made before the hub writes into the cluster (each worker makes them once its
    clusters are seeded), from a count of what is there then."""

    def __init__(self, sim):
        self._counts = {name: sim.store.count(*kind, label_selector=HUB_OWNED if kind == SERVICE else None)
                        for name, kind in KINDS.items()}
        for name, kind in KINDS.items():
            sim.store.observe(sim.store.rtype(*kind), functools.partial(self._committed, name, kind == SERVICE))

    def counts(self) -> dict[str, int]:
        return dict(self._counts)

    def _committed(self, name: str, labelled: bool, event) -> None:
        # Under the store's lock: one cluster's commits come one at a time.
        before = event.prev is not None and (not labelled or _owned(event.prev))
        after = event.type != "DELETED" and (not labelled or _owned(event.entry))
        self._counts[name] += after - before


def _owned(entry) -> bool:
    return entry.labels.get(_OWNER_KEY) == _OWNER_VALUE


def store_marks(fleet: SimFleet, clear: bool = True) -> dict[str, int]:
    """Each store's resourceVersion now; with ``clear`` the request logs start again."""
    marks = {}
    for sim in fleet:
        marks[sim.name] = sim.store.resource_version
        if clear and hasattr(sim, "clear_requests"):
            sim.clear_requests()
    return marks


def writes_since(fleet: SimFleet, marks: dict[str, int]) -> dict:
    """Writes into ``fleet``'s stores since ``marks``: committed (resourceVersion deltas,
    also by kind) and write/read requests answered (the request logs)."""
    committed, by_kind, writes, reads = 0, {}, None, None
    for sim in fleet:
        before = marks[sim.name]
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
    return {"committed": committed, "by_kind": by_kind, "write_requests": writes, "read_requests": reads}


def merged_writes(parts: list[dict]) -> dict:
    """``writes_since`` of several workers as one: sums; a request count is None only if
    no worker had a request log."""
    by_kind: dict[str, int] = {}
    for part in parts:
        for name, n in part["by_kind"].items():
            by_kind[name] = by_kind.get(name, 0) + n

    def total(key: str) -> int | None:
        counted = [p[key] for p in parts if p[key] is not None]
        return sum(counted) if counted else None

    return {"committed": sum(p["committed"] for p in parts), "by_kind": dict(sorted(by_kind.items())),
            "write_requests": total("write_requests"), "read_requests": total("read_requests")}


class WriteCounter:
    """Writes into the member clusters since ``mark()`` (``writes_since`` over the whole fleet)."""

    def __init__(self, fleet):
        self._fleet = fleet
        self._marks: dict[str, int] = {}

    def mark(self) -> None:
        self._marks = self._fleet.marks()

    def since_mark(self) -> dict:
        return self._fleet.writes_since(self._marks)

    def settle(self, quiet: float = 2.0, timeout: float = 20.0) -> None:
        """Wait until no store has changed for ``quiet`` seconds (at most ``timeout``)."""
        deadline = time.monotonic() + timeout
        last, since = None, time.monotonic()
        while time.monotonic() < deadline:
            now = self._fleet.marks(clear=False)
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
