"""The registry thread: queue → debounce → next snapshot → publish."""

from __future__ import annotations

import logging
import queue
import threading
import time
from typing import Callable

from federation.model import ChangeSet, Snapshot
from federation.model.snapshot import Delta
from federation.registry.debouncing import Debouncer

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
                 initial: Snapshot | None = None, clock: Callable[[], float] = time.monotonic):
        self._publish = publish
        self._debouncer = Debouncer(quiet, max_delay)
        self._queue: queue.Queue = queue.Queue()
        self._snapshot = initial or Snapshot()
        self._clock = clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pending: list = []
        self._observed: float = 0.0
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
                    self._pending.append(extra)
            self._debouncer.add(self._clock())
            return
        self._pending.append(item)
        if item.observed_at and (not self._observed or item.observed_at < self._observed):
            self._observed = item.observed_at
        self._debouncer.add(self._clock())

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

    def _flush_changes(self) -> Delta:
        merged = tuple(c for cs in self._pending for c in cs.changes)
        self._pending = []
        if not merged:
            return Delta()
        self._snapshot, delta = self._snapshot.apply(ChangeSet(merged))
        self._pending_delta = _union(self._pending_delta, delta)
        return delta

    def _flush(self) -> None:
        self._debouncer.reset()
        self._flush_changes()
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


def _union(a: Delta, b: Delta) -> Delta:
    return Delta(a.services | b.services, a.clusters | b.clusters)
