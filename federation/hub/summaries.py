"""State the replicas share through the store: last-known service summaries, so
a restarted hub (or the replica taking over a cluster) starts from what was
known instead of from nothing, and each cluster's push status as its owner saw it.

Written by a background thread that coalesces by key: the registry thread never
waits on the store. With a ``guard`` (the replica's membership key, see
``sharding``) every write is conditioned on it: a replica whose lease is gone
writes nothing, and keeps its writes until it has joined again.

``PushStatuses`` counts this replica's pushes into the metrics and shares their
statuses (a status write is never watched, so it never triggers a render); its
``view`` of a cluster is what the admin API reports, from this replica's pusher
or from what the owner shared, judged against the live replicas.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from typing import Callable

from federation import errors
from federation.model import ChangeSet, ClusterChange, ServiceChange, Snapshot
from federation.model.codec import (
    cluster_info_from_dict, cluster_info_to_dict, service_from_dict, service_to_dict,
)
from federation.model.snapshot import Delta
from federation.push.status import PushStatus
from federation.store import Compare, Delete, Put, Store
from federation.store.keys import Keys
from federation.telemetry import Telemetry
from federation.workers import Worker, deadline_in

log = logging.getLogger(__name__)


def _service_key(cluster: str, key) -> str:
    return f"{Keys.SUMMARY_SERVICES}{cluster}/{key.namespace}/{key.name}"


TXN_OPS = 100  # below etcd's default limit of 128 operations per transaction
STATUS_REFRESH = 30.0  # seconds between shared-status writes that only move lastPush


class SummaryWriter:
    def __init__(self, store: Store, guard: Callable[[], Compare | None] | None = None):
        self._store = store
        self._guard = guard
        self._pending: dict[str, bytes | None] = {}
        self._cond = threading.Condition()
        self._worker = Worker("summaries", self._run, wake=self._notify)
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
        self._worker.start()

    def stop(self, timeout: float = 5.0) -> bool:
        """Write what is queued (unless the store fails) and end the thread."""
        return self._worker.stop(deadline_in(timeout))

    def _notify(self) -> None:
        with self._cond:
            self._cond.notify()

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until queued writes are stored (tests, shutdown)."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._pending, timeout)

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._pending or self._worker.stopping.is_set(), timeout=1.0)
                if self._worker.stopping.is_set() and not self._pending:
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
                    if self._worker.stopping.is_set():
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


def push_status_record(status: PushStatus, replica: str) -> dict:
    return {"replica": replica, "synced": status.synced, "lastPush": status.last_push,
            "objects": status.objects, "errors": list(status.errors)[-3:],
            "conflicts": list(status.conflicts), "fights": list(status.fights)}


@dataclass(frozen=True)
class PushView:
    """A cluster's push status as the admin API reports it: the status record,
    the replica that owns the cluster, and a state that overrides the member's
    ("owner lost"), or ""."""

    record: dict
    owner: str
    state: str = ""


class PushStatuses:
    def __init__(self, store: Store, writer: SummaryWriter, telemetry: Telemetry, replica_id: str):
        self._store = store
        self._writer = writer
        self._telemetry = telemetry
        self._replica_id = replica_id
        self._counts: dict[str, tuple[int, int, int]] = {}
        self._shared: dict[str, dict] = {}  # what this replica shared last
        self._cache: dict[str, dict] = {}  # shared statuses as last read

    def record(self, status: PushStatus) -> None:
        """A pusher's status: count pushes by result, and share it."""
        before = self._counts.get(status.cluster, (0, 0, 0))
        now = (status.applies, status.deletes, status.failures)
        for result, n, m in zip(("applied", "deleted", "failed"), now, before):
            if n > m:
                self._telemetry.pushes.add(n - m, {"cluster": status.cluster, "result": result})
        self._counts[status.cluster] = now
        self._telemetry.observe_push(status)
        shared = push_status_record(status, self._replica_id)
        # lastPush changes on every pass: alone it is shared at most every STATUS_REFRESH seconds.
        previous = self._shared.get(status.cluster)
        unchanged = previous is not None and {**previous, "lastPush": None} == {**shared, "lastPush": None}
        if unchanged and (shared["lastPush"] or 0) - (previous["lastPush"] or 0) < STATUS_REFRESH:
            return
        self._shared[status.cluster] = shared
        self._writer.put(Keys.STATUS + status.cluster, json.dumps(shared).encode())

    def forget(self, cluster: str) -> None:
        """A cluster left: its shared status goes."""
        self._shared.pop(cluster, None)
        self._writer.put(Keys.STATUS + cluster, None)

    def shared(self, cluster: str) -> dict | None:
        """The push status of a cluster as its owner (maybe another replica) stored
        it; while the store does not answer, as last read (``"unread"`` set)."""
        try:
            kv = self._store.get(Keys.STATUS + cluster)
        except errors.StoreError as exc:
            cached = self._cache.get(cluster)
            return {**cached, "unread": str(exc)} if cached else None
        value = json.loads(kv.value) if kv else None
        if value is not None:
            self._cache[cluster] = value
        return value

    def view(self, cluster: str, local: PushStatus | None, owner: str) -> PushView:
        """``cluster``'s push status: this replica's pusher's (``local``), or what
        its ``owner`` shared; a gone owner shows as "owner lost"."""
        if local is not None:
            push = push_status_record(local, self._replica_id)
            if local.fenced:
                push["errors"] = ["fenced: this replica cannot prove it holds its lease; "
                                  "not writing"] + push["errors"]
            return PushView(push, self._replica_id)
        shared = self.shared(cluster)
        if shared is None:
            return PushView({"synced": False, "objects": 0, "errors": [
                f"no status from the owning replica {owner} yet"], "conflicts": [], "fights": [],
                "lastPush": None}, owner)
        push = {"fights": [], **shared, "errors": list(shared.get("errors") or ())}
        state = ""
        if shared.get("replica") != owner:
            push["synced"] = False
            push["errors"].insert(0, f"owner lost: replica {shared.get('replica')} is gone; "
                                     f"{owner} has not taken over yet")
            state = "owner lost"
        if shared.get("unread"):
            push["errors"].insert(0, "store unavailable: status as last read")
        return PushView(push, owner, state)
