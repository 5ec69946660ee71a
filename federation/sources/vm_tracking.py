"""Tracking VM liveness from the store into the registry.

``LivenessTracker`` reads every registration, alive key and WorkloadGroup once,
then follows ``vms/`` with a store watch from the revision it read at (resuming
from the last event after a failure; a compacted history means a full reload).
WorkloadGroup changes arrive from the hub's own store watch (``on_group_event``).
From these it derives which VMs are workloads now — registered, not revoked,
alive, healthy, with an existing group — and submits only the differences to
the registry as ``VMChange``s, so a VM appears in every member cluster while
its lease lives and disappears when the lease expires or it is revoked.
Every replica runs one, so all of them render the same VMs.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Callable

from federation import errors
from federation.model import ChangeSet, VMChange, VMWorkload
from federation.onboarding.groups import KIND as GROUP_KIND, WorkloadGroup, parse_workload_group
from federation.onboarding.records import Liveness, VMRecord
from federation.store.base import Store, WatchEvent
from federation.store.following import follow
from federation.store.keys import Keys
from federation.workers import Worker, deadline_in

log = logging.getLogger(__name__)

GROUPS = Keys.policies(GROUP_KIND)


def workload_for(record: VMRecord, group: WorkloadGroup) -> VMWorkload:
    return VMWorkload(name=record.name, key=group.key, address=record.address,
                      network=group.network, locality=group.parsed_locality, labels=group.labels,
                      service_account=record.service_account, ports=group.ports)


class LivenessTracker:
    def __init__(self, store: Store, submit: Callable[[ChangeSet], None]):
        self._store = store
        self._submit = submit
        self._lock = threading.RLock()
        self._records: dict[str, VMRecord] = {}
        self._alive: dict[str, Liveness] = {}
        self._groups: dict[tuple[str, str], WorkloadGroup] = {}
        self._group_revisions: dict[tuple[str, str], int] = {}
        self._submitted: dict[str, VMWorkload] = {}
        self._stop = threading.Event()
        self._worker = Worker("vm-liveness", self._follow, stop=self._stop)

    # -- views ---------------------------------------------------------------------
    def live_names(self) -> list[str]:
        """VMs registered, not revoked and alive (healthy or not): the agents a
        rotation step waits for."""
        with self._lock:
            return sorted(n for n in self._alive
                          if n in self._records and not self._records[n].revoked)

    def workloads(self) -> dict[str, VMWorkload]:
        with self._lock:
            return dict(self._submitted)

    def gauge(self) -> list[tuple[float, dict]]:
        with self._lock:
            counts = {"alive": 0, "unhealthy": 0, "down": 0, "revoked": 0}
            for name, record in self._records.items():
                state = ("revoked" if record.revoked else
                         "down" if name not in self._alive else
                         "alive" if self._alive[name].healthy else "unhealthy")
                counts[state] += 1
        return [(float(n), {"state": s}) for s, n in counts.items()]

    # -- lifecycle -------------------------------------------------------------------
    def start(self) -> None:
        revision = self._reload()
        self._stop.clear()
        self._worker.start(revision + 1)

    def stop(self, timeout: float = 5.0) -> bool:
        return self._worker.stop(deadline_in(timeout))

    def _reload(self) -> int:
        kvs, revision = self._store.range(Keys.VMS)
        groups, _ = self._store.range(GROUPS)
        with self._lock:
            self._records = {kv.key[len(Keys.VM_RECORDS):]: VMRecord.from_bytes(kv.value)
                             for kv in kvs if kv.key.startswith(Keys.VM_RECORDS)}
            self._alive = {kv.key[len(Keys.VM_ALIVE):]: Liveness.from_bytes(kv.value)
                           for kv in kvs if kv.key.startswith(Keys.VM_ALIVE)}
            for kv in groups:
                self._apply_group(kv.key, kv.value, kv.mod_revision)
            self._publish(set(self._records) | set(self._submitted))
        return revision

    def _follow(self, revision: int) -> None:
        follow(self._store, Keys.VMS, revision,
               on_batch=lambda events: [self._on_event(e) for e in events],
               reload=self._reload, stop=self._stop, what="vm liveness")

    # -- events -----------------------------------------------------------------------
    def _on_event(self, event: WatchEvent) -> None:
        if event.key.startswith(Keys.VM_RECORDS):
            name = event.key[len(Keys.VM_RECORDS):]
            with self._lock:
                if event.type == "DELETE":
                    self._records.pop(name, None)
                else:
                    self._records[name] = VMRecord.from_bytes(event.value)
                self._publish({name})
        elif event.key.startswith(Keys.VM_ALIVE):
            name = event.key[len(Keys.VM_ALIVE):]
            with self._lock:
                if event.type == "DELETE":
                    self._alive.pop(name, None)
                    log.info("VM liveness lapsed", extra={"fields": {"vm": name}})
                else:
                    self._alive[name] = Liveness.from_bytes(event.value)
                self._publish({name})

    def on_group_event(self, event: WatchEvent) -> None:
        """A WorkloadGroup was applied or deleted (called from the hub's store watch)."""
        with self._lock:
            group = self._apply_group(event.key, event.value if event.type == "PUT" else None,
                                      event.mod_revision)
            if group is not None:
                self._publish({n for n, r in self._records.items()
                               if (r.group_namespace, r.group_name) == group})

    def _apply_group(self, key: str, value: bytes | None, revision: int):
        """Update the group at ``key`` unless a newer revision was seen; returns its
        (namespace, name) when it changed."""
        namespace, _, name = key[len(GROUPS):].partition("/")
        ident = (namespace, name)
        if revision <= self._group_revisions.get(ident, 0):
            return None
        self._group_revisions[ident] = revision
        if value is None:
            self._groups.pop(ident, None)
            return ident
        try:
            self._groups[ident] = parse_workload_group(json.loads(value))
        except (errors.ValidationError, ValueError) as exc:
            log.error("stored WorkloadGroup invalid; its VMs are withdrawn", extra={"fields": {
                "key": key, "error": str(exc)}})
            self._groups.pop(ident, None)
        return ident

    def _desired(self, name: str) -> VMWorkload | None:
        record = self._records.get(name)
        alive = self._alive.get(name)
        if record is None or record.revoked or alive is None or not alive.healthy:
            return None
        group = self._groups.get((record.group_namespace, record.group_name))
        return workload_for(record, group) if group is not None else None

    def _publish(self, names: set[str]) -> None:
        changes = []
        for name in sorted(names):
            wanted = self._desired(name)
            if self._submitted.get(name) == wanted:
                continue
            if wanted is None:
                self._submitted.pop(name, None)
            else:
                self._submitted[name] = wanted
            changes.append(VMChange(name, wanted))
        if changes:
            self._submit(ChangeSet(tuple(changes), observed_at=time.monotonic(), sources=("vms",)))
            log.debug("VM workloads changed", extra={"fields": {"changes": len(changes)}})
