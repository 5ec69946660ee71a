"""The registry thread: queue → classify → debounce → next snapshot → publish.

Each change is classified against the published snapshot as it arrives: an
availability change is flushed ahead of pending weight-only changes of other
services (a service's own changes always keep their order). Beside change sets
the queue carries typed requests, never code: ``RenderRequest``s, merged into
the next publish, and ``retain`` (a cluster's services are exactly these),
turned into a change set against the snapshot in its place in the queue.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass
from typing import Callable, Iterable

from federation.model import ChangeSet, ServiceChange, ServiceKey, Snapshot
from federation.model.snapshot import Delta
from federation.registry.classifying import AVAILABILITY, classify, service_key
from federation.registry.debouncing import URGENT, Debouncer
from federation.registry.requests import NOTHING, RenderRequest
from federation.workers import Worker, deadline_in

log = logging.getLogger(__name__)

# (snapshot, delta, earliest observed_at of the batch or 0.0, the merged requests)
Publisher = Callable[[Snapshot, Delta, float, RenderRequest], None]


@dataclass(frozen=True)
class _Retain:
    """``cluster``'s services are exactly ``keys`` (its watcher's full state)."""

    cluster: str
    keys: frozenset[ServiceKey]


class Registry:
    def __init__(self, publish: Publisher, quiet: float = 0.1, max_delay: float = 1.0,
                 initial: Snapshot | None = None, clock: Callable[[], float] = time.monotonic,
                 weight_max: float = 0.2):
        self._publish = publish
        self._debouncer = Debouncer(quiet, max_delay, weight_max)
        self._queue: queue.Queue = queue.Queue()
        self._snapshot = initial or Snapshot()
        self._clock = clock
        self._stop = threading.Event()
        self._worker = Worker("registry", self._run, stop=self._stop, wake=lambda: self._queue.put(None))
        self._pending: list[_Pending] = []  # in arrival order
        self._observed: float = 0.0  # earliest observed_at of what was applied, not yet published
        self._request = NOTHING
        self._pending_delta = Delta()
        self.published = 0

    @property
    def snapshot(self) -> Snapshot:
        return self._snapshot

    def submit(self, changes: ChangeSet) -> None:
        if changes.changes:
            self._queue.put(changes)

    def request(self, request: RenderRequest) -> None:
        """Merge ``request`` into the next publish (which it makes happen)."""
        self._queue.put(request)

    def retain(self, cluster: str, keys: Iterable[ServiceKey]) -> None:
        """``cluster``'s services are exactly ``keys``: the others it has in the
        snapshot once the change sets submitted before are applied go."""
        self._queue.put(_Retain(cluster, frozenset(keys)))

    def start(self, initial: Snapshot | None = None) -> None:
        """Run the registry thread, from ``initial`` when given (the last-known state)."""
        if initial is not None:
            self._snapshot = initial
        self._worker.start()

    def stop(self, timeout: float = 5.0) -> bool:
        return self._worker.stop(deadline_in(timeout))

    def _take(self, item) -> None:
        if isinstance(item, RenderRequest):
            self._request = self._request | item
            self._debouncer.add(self._clock())
            return
        if isinstance(item, _Retain):
            # Apply what is pending first so the removals are judged on current state.
            self._flush_changes()
            gone = _removed(self._snapshot, item.cluster, item.keys)
            if gone.changes:
                self._take(gone)
            self._debouncer.add(self._clock())
            return
        urgent_keys = {p.key for p in self._pending if p.urgent}
        any_urgent = False
        for change in item.changes:
            key = service_key(change)
            # Behind a pending availability change of the same service, a change is urgent too.
            urgent = key in urgent_keys or classify(self._snapshot, change) == AVAILABILITY
            if urgent:
                urgent_keys.add(key)
            any_urgent = any_urgent or urgent
            self._pending.append(_Pending(change, key, urgent, item.observed_at))
        self._debouncer.add(self._clock(), any_urgent)

    def _run(self) -> None:
        while not self._stop.is_set():
            due = self._debouncer.due_at()
            timeout = 0.5 if due is None else max(0.0, due - self._clock())
            try:
                item = self._queue.get(timeout=timeout)
            except queue.Empty:
                item = False
            if item is None:
                break
            if item is not False:
                self._take(item)
                # Drain what is already queued without waiting: coalescing.
                while True:
                    try:
                        more = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if more is None:
                        self._stop.set()
                        break
                    self._take(more)
            if self._debouncer.ready(self._clock()):
                self._flush()

    def _flush_changes(self, urgent_only: bool = False) -> None:
        """Apply pending changes: all, or the urgent ones and their services' others."""
        taken, kept = self._pending, []
        if urgent_only:
            keys = {p.key for p in self._pending if p.urgent}
            if None not in keys:  # a cluster-wide change orders with everything
                taken = [p for p in self._pending if p.key in keys]
                kept = [p for p in self._pending if p.key not in keys]
        self._pending = kept
        if not taken:
            return
        self._snapshot, delta = self._snapshot.apply(ChangeSet(tuple(p.change for p in taken)))
        self._pending_delta = _union(self._pending_delta, delta)
        seen = [p.observed_at for p in taken if p.observed_at]
        if self._observed:
            seen.append(self._observed)
        self._observed = min(seen, default=0.0)

    def _flush(self) -> None:
        what = self._debouncer.take(self._clock())
        self._flush_changes(urgent_only=what == URGENT)
        if not self._pending:
            self._debouncer.reset()  # nothing is left waiting
        delta, self._pending_delta = self._pending_delta, Delta()
        observed, self._observed = self._observed, 0.0
        request, self._request = self._request, NOTHING
        if not delta and not request:
            return
        try:
            self._publish(self._snapshot, delta, observed, request)
            self.published += 1
        except Exception:  # noqa: BLE001 - a publish bug must not kill the registry
            log.exception("publishing snapshot failed", extra={"fields": {
                "version": self._snapshot.version}})


class _Pending:
    __slots__ = ("change", "key", "urgent", "observed_at")

    def __init__(self, change, key, urgent: bool, observed_at: float):
        self.change, self.key, self.urgent, self.observed_at = change, key, urgent, observed_at


def _removed(snapshot: Snapshot, cluster: str, keep: frozenset[ServiceKey]) -> ChangeSet:
    return ChangeSet(tuple(ServiceChange(cluster, key, None) for key, per in snapshot.services.items()
                           if cluster in per and key not in keep))


def _union(a: Delta, b: Delta) -> Delta:
    return Delta(a.services | b.services, a.clusters | b.clusters)
