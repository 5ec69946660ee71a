"""The registry thread: queue → classify → debounce → next snapshot → publish.

Each change is classified against the published snapshot as it arrives: an
availability change is flushed ahead of pending weight-only changes of other
services (a service's own changes always keep their order).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from typing import Callable

from federation.model import ChangeSet, Snapshot
from federation.model.snapshot import Delta
from federation.registry.classifying import AVAILABILITY, classify, service_key
from federation.registry.debouncing import URGENT, Debouncer

log = logging.getLogger(__name__)

# (snapshot, delta, earliest observed_at of the batch or 0.0, forced full render)
Publisher = Callable[[Snapshot, Delta, float, bool], None]


class _Marker:
    """A non-change request handled in order with the change sets."""

    def __init__(self, action: Callable[[Snapshot], ChangeSet | None] | None, full: bool):
        self.action = action
        self.full = full


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
        self._thread: threading.Thread | None = None
        self._pending: list[_Pending] = []  # in arrival order
        self._observed: float = 0.0  # earliest observed_at of what was applied, not yet published
        self._full = False
        self._pending_delta = Delta()
        self.published = 0

    @property
    def snapshot(self) -> Snapshot:
        return self._snapshot

    def submit(self, changes: ChangeSet) -> None:
        if changes.changes:
            self._queue.put(changes)

    def request(self, action: Callable[[Snapshot], ChangeSet | None] | None = None,
                full: bool = False) -> None:
        """Run ``action`` on the registry thread against the current snapshot (its
        change set is merged like any other); ``full`` forces a full re-render."""
        self._queue.put(_Marker(action, full))

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="registry", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._queue.put(None)
        if self._thread:
            self._thread.join(timeout)

    def _take(self, item) -> None:
        if isinstance(item, _Marker):
            if item.full:
                self._full = True
            if item.action is not None:
                # Apply what is pending first so the action sees current state.
                self._flush_changes()
                extra = item.action(self._snapshot)
                if extra is not None and extra.changes:
                    self._take(extra)
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
        full, self._full = self._full, False
        if not delta and not full:
            return
        try:
            self._publish(self._snapshot, delta, observed, full)
            self.published += 1
        except Exception:  # noqa: BLE001 - a publish bug must not kill the registry
            log.exception("publishing snapshot failed", extra={"fields": {
                "version": self._snapshot.version}})


class _Pending:
    __slots__ = ("change", "key", "urgent", "observed_at")

    def __init__(self, change, key, urgent: bool, observed_at: float):
        self.change, self.key, self.urgent, self.observed_at = change, key, urgent, observed_at


def _union(a: Delta, b: Delta) -> Delta:
    return Delta(a.services | b.services, a.clusters | b.clusters)
