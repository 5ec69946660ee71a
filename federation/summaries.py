"""Last-known service summaries in the store, so a restarted hub (or the replica
taking over a cluster) starts from what was known instead of from nothing.

Written by a background thread that coalesces by key: the registry thread never
waits on the store. With a ``guard`` (the replica's membership key, see
``sharding``) every write is conditioned on it: a replica whose lease is gone
writes nothing, and keeps its writes until it has joined again.
"""

from __future__ import annotations

import json
import logging
import threading
from typing import Callable

from federation import errors
from federation.model import ChangeSet, ClusterChange, ServiceChange, Snapshot
from federation.model.codec import (
    cluster_info_from_dict, cluster_info_to_dict, service_from_dict, service_to_dict,
)
from federation.model.snapshot import Delta
from federation.store import Compare, Delete, Put, Store
from federation.store.keys import Keys

log = logging.getLogger(__name__)


def _service_key(cluster: str, key) -> str:
    return f"{Keys.SUMMARY_SERVICES}{cluster}/{key.namespace}/{key.name}"


TXN_OPS = 100  # below etcd's default limit of 128 operations per transaction


class SummaryWriter:
    def __init__(self, store: Store, guard: Callable[[], Compare | None] | None = None):
        self._store = store
        self._guard = guard
        self._pending: dict[str, bytes | None] = {}
        self._cond = threading.Condition()
        self._stop = False
        self._thread: threading.Thread | None = None
        self._last = Snapshot()
        self.writes = 0

    def load(self) -> Snapshot:
        """The last-known snapshot: every cluster marked stale until its watcher syncs."""
        changes = []
        infos, _ = self._store.range(Keys.SUMMARY_CLUSTERS)
        for kv in infos:
            changes.append(ClusterChange(kv.key.rsplit("/", 1)[-1],
                                         cluster_info_from_dict(json.loads(kv.value), stale=True)))
        services, _ = self._store.range(Keys.SUMMARY_SERVICES)
        for kv in services:
            svc = service_from_dict(json.loads(kv.value))
            changes.append(ServiceChange(svc.cluster, svc.key, svc))
        snapshot, _ = Snapshot().apply(ChangeSet(tuple(changes)))
        self._last = snapshot
        return snapshot

    def record(self, snapshot: Snapshot, delta: Delta) -> None:
        """Queue writes for what ``delta`` changed since the last recorded snapshot."""
        previous, self._last = self._last, snapshot
        updates: dict[str, bytes | None] = {}
        for key in delta.services:
            before = previous.services.get(key, {})
            after = snapshot.services.get(key, {})
            for cluster in set(before) | set(after):
                svc = after.get(cluster)
                if before.get(cluster) != svc:
                    updates[_service_key(cluster, key)] = (
                        json.dumps(service_to_dict(svc)).encode() if svc else None)
        for cluster in delta.clusters:
            info = snapshot.clusters.get(cluster)
            if info is not None and info.stale:
                continue  # a stale marker is runtime state, not a summary
            updates[f"{Keys.SUMMARY_CLUSTERS}{cluster}"] = (
                json.dumps(cluster_info_to_dict(info)).encode() if info else None)
        if updates:
            with self._cond:
                self._pending.update(updates)
                self._cond.notify()

    def put(self, key: str, value: bytes | None) -> None:
        """Queue one write (None deletes); the latest value per key wins."""
        with self._cond:
            self._pending[key] = value
            self._cond.notify()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="summaries", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify()
        if self._thread:
            self._thread.join(timeout)

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until queued writes are stored (tests, shutdown)."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._pending, timeout)

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._pending or self._stop, timeout=1.0)
                if self._stop and not self._pending:
                    return
                batch, self._pending = self._pending, {}
            try:
                self._write(batch)
            except errors.FederationError as exc:
                log.warning("storing summaries failed; will retry", extra={"fields": {
                    "error": str(exc), "keys": len(batch)}})
                with self._cond:
                    for key, value in batch.items():
                        self._pending.setdefault(key, value)
                    if self._stop:
                        return
                    self._cond.wait(1.0)
            with self._cond:
                self._cond.notify_all()

    def _write(self, batch: dict[str, bytes | None]) -> None:
        """Store ``batch``; entries written are taken out of it, so a failure
        leaves in it exactly what is still to write."""
        guard = self._guard() if self._guard is not None else None
        if guard is None:
            for key in list(batch):
                value = batch[key]
                if value is None:
                    self._store.delete(key)
                else:
                    self._store.put(key, value)
                del batch[key]
                self.writes += 1
            return
        while batch:
            keys = list(batch)[:TXN_OPS]
            ops = [Delete(key) if batch[key] is None else Put(key, batch[key]) for key in keys]
            if not self._store.txn([guard], ops):
                raise errors.LeaseLost("membership lease lost: shared state not written")
            for key in keys:
                del batch[key]
            self.writes += len(keys)
