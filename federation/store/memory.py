"""The in-memory store: etcd's semantics in one process, for the embedded default and tests.

One lock guards everything. Leases expire lazily: every call (and every waiting
watch, which wakes at the next lease deadline) first revokes the leases whose
time is up, so no reaper thread exists and none can be left behind.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Iterator, Sequence

from federation import errors
from federation.store.base import Compare, Delete, KeyValue, Lease, Put, WatchEvent

log = logging.getLogger(__name__)

DEFAULT_HISTORY_LIMIT = 10_000


@dataclass
class _LeaseState:
    ttl: int
    deadline: float
    keys: set[str] = field(default_factory=set)


class MemoryStore:
    """A thread-safe ``Store`` held in memory.

    History of at most ``history_limit`` events is retained for watches; older
    start revisions raise ``RevisionCompacted`` as a compacted etcd would.
    """

    def __init__(self, prefix: str = "", history_limit: int = DEFAULT_HISTORY_LIMIT):
        if history_limit < 1:
            raise ValueError("history_limit must be positive")
        self._prefix = prefix
        self._history_limit = history_limit
        self._cond = threading.Condition(threading.RLock())
        self._kvs: dict[str, KeyValue] = {}
        # A fresh etcd reports revision 1 before any write.
        self._revision = 1
        self._compacted = 0
        self._history: deque[WatchEvent] = deque()
        self._leases: dict[int, _LeaseState] = {}
        self._next_lease_id = 0x1000
        self._watches: set[_MemoryWatch] = set()
        self._closed = False

    def __repr__(self) -> str:
        return f"MemoryStore(prefix={self._prefix!r})"

    # --- reads -------------------------------------------------------------
    def get(self, key: str) -> KeyValue | None:
        with self._cond:
            self._check_open_locked()
            kv = self._kvs.get(self._prefix + key)
            return self._relative(kv) if kv else None

    def range(self, prefix: str) -> tuple[list[KeyValue], int]:
        full = self._prefix + prefix
        with self._cond:
            self._check_open_locked()
            found = sorted((k, kv) for k, kv in self._kvs.items() if k.startswith(full))
            return [self._relative(kv) for _, kv in found], self._revision

    def revision(self) -> int:
        with self._cond:
            self._check_open_locked()
            return self._revision

    # --- writes ------------------------------------------------------------
    def put(self, key: str, value: bytes, lease: int = 0) -> int:
        with self._cond:
            self._check_open_locked()
            self._apply_locked([Put(key, value, lease)])
            return self._revision

    def delete(self, key: str) -> bool:
        with self._cond:
            self._check_open_locked()
            return self._apply_locked([Delete(key)])

    def txn(self, compares: Sequence[Compare], on_success: Sequence[Put | Delete],
            on_failure: Sequence[Put | Delete] = ()) -> bool:
        with self._cond:
            self._check_open_locked()
            held = all(self._mod_revision_locked(c.key) == c.mod_revision for c in compares)
            self._apply_locked(list(on_success if held else on_failure))
            return held

    def compare_and_swap(self, key: str, value: bytes, mod_revision: int, lease: int = 0) -> bool:
        return self.txn([Compare(key, mod_revision)], [Put(key, value, lease)])

    def compare_and_delete(self, key: str, mod_revision: int) -> bool:
        return self.txn([Compare(key, mod_revision)], [Delete(key)])

    def compact(self, revision: int) -> None:
        with self._cond:
            self._check_open_locked()
            if revision > self._revision:
                raise errors.StoreError(
                    f"cannot compact at revision {revision}: the store is at {self._revision}")
            if revision <= self._compacted:
                return  # already compacted there; etcd refuses, the protocol shrugs
            self._compacted = revision
            while self._history and self._history[0].mod_revision < revision:
                self._history.popleft()
            self._cond.notify_all()

    # --- watches -----------------------------------------------------------
    def watch(self, prefix: str, start_revision: int = 0) -> "_MemoryWatch":
        with self._cond:
            self._check_open_locked()
            cursor = start_revision if start_revision > 0 else self._revision + 1
            w = _MemoryWatch(self, self._prefix + prefix, cursor)
            self._watches.add(w)
            return w

    # --- leases ------------------------------------------------------------
    def grant_lease(self, ttl: int) -> Lease:
        ttl = max(int(ttl), 1)
        with self._cond:
            self._check_open_locked()
            self._next_lease_id += 1
            lease_id = self._next_lease_id
            self._leases[lease_id] = _LeaseState(ttl, time.monotonic() + ttl)
            self._cond.notify_all()  # waiting watches recompute their next wake-up
            return Lease(lease_id, ttl)

    def keep_alive(self, lease_id: int) -> int:
        with self._cond:
            self._check_open_locked()
            state = self._leases.get(lease_id)
            if state is None:
                raise errors.LeaseLost(f"lease {lease_id:x} expired or does not exist")
            state.deadline = time.monotonic() + state.ttl
            return state.ttl

    def revoke_lease(self, lease_id: int) -> None:
        with self._cond:
            self._check_open_locked()
            if lease_id in self._leases:
                self._revoke_locked(lease_id)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            watches = list(self._watches)
        for w in watches:
            w.cancel()

    # --- internals ---------------------------------------------------------
    def _check_open_locked(self) -> None:
        if self._closed:
            raise errors.StoreError("the store is closed")
        self._expire_locked()

    def _relative(self, kv: KeyValue) -> KeyValue:
        return KeyValue(kv.key[len(self._prefix):], kv.value, kv.create_revision,
                        kv.mod_revision, kv.version, kv.lease)

    def _mod_revision_locked(self, key: str) -> int:
        kv = self._kvs.get(self._prefix + key)
        return kv.mod_revision if kv else 0

    def _next_expiry_locked(self) -> float | None:
        return min((s.deadline for s in self._leases.values()), default=None)

    def _expire_locked(self) -> None:
        now = time.monotonic()
        for lease_id in [i for i, s in self._leases.items() if s.deadline <= now]:
            log.debug("lease expired", extra={"fields": {"lease": f"{lease_id:x}"}})
            self._revoke_locked(lease_id)

    def _revoke_locked(self, lease_id: int) -> None:
        state = self._leases.pop(lease_id)
        prefix_len = len(self._prefix)
        # One revision for all of the lease's keys, as etcd deletes them in one txn.
        self._apply_locked([Delete(k[prefix_len:]) for k in sorted(state.keys)])

    def _apply_locked(self, ops: Sequence[Put | Delete]) -> bool:
        """Apply ``ops`` at one new revision; False (and no revision) if nothing changed."""
        keys = [self._prefix + op.key for op in ops]
        if len(set(keys)) != len(keys):
            raise errors.StoreError("duplicate key given in one transaction")
        for op in ops:
            if isinstance(op, Put) and op.lease and op.lease not in self._leases:
                raise errors.LeaseLost(f"lease {op.lease:x} expired or does not exist")
        rev = self._revision + 1
        changed = False
        for full, op in zip(keys, ops):
            old = self._kvs.get(full)
            if old is not None and old.lease in self._leases:
                self._leases[old.lease].keys.discard(full)
            if isinstance(op, Put):
                self._kvs[full] = KeyValue(
                    full, bytes(op.value), old.create_revision if old else rev, rev,
                    old.version + 1 if old else 1, op.lease)
                if op.lease:
                    self._leases[op.lease].keys.add(full)
                self._record_locked(WatchEvent("PUT", full, bytes(op.value), rev))
                changed = True
            elif old is not None:
                del self._kvs[full]
                self._record_locked(WatchEvent("DELETE", full, b"", rev))
                changed = True
        if changed:
            self._revision = rev
            self._cond.notify_all()
        return changed

    def _record_locked(self, event: WatchEvent) -> None:
        self._history.append(event)
        if len(self._history) > self._history_limit:
            # Drop whole revisions so a watch never sees half a transaction.
            dropped = self._history.popleft().mod_revision
            while self._history and self._history[0].mod_revision == dropped:
                self._history.popleft()
            self._compacted = max(self._compacted, dropped + 1)


class _MemoryWatch:
    """A cursor over the store's history that waits for new events."""

    def __init__(self, store: MemoryStore, full_prefix: str, cursor: int):
        self._store = store
        self._prefix = full_prefix
        self._cursor = cursor
        self._cancelled = False

    def next_batch(self, timeout: float) -> list[WatchEvent]:
        store = self._store
        deadline = time.monotonic() + max(timeout, 0.0)
        with store._cond:
            while not self._cancelled:
                store._expire_locked()
                if self._cursor < store._compacted:
                    raise errors.RevisionCompacted(
                        f"watch of {self._prefix!r} from revision {self._cursor}: "
                        f"history before {store._compacted} was compacted",
                        store._compacted)
                batch = self._collect_locked()
                if batch:
                    return batch
                now = time.monotonic()
                if now >= deadline:
                    return []
                wake = deadline
                expiry = store._next_expiry_locked()
                if expiry is not None:
                    wake = min(wake, expiry)
                store._cond.wait(max(wake - now, 0.001))
            return []

    def _collect_locked(self) -> list[WatchEvent]:
        store = self._store
        newer: list[WatchEvent] = []
        for ev in reversed(store._history):
            if ev.mod_revision < self._cursor:
                break
            newer.append(ev)
        if not newer:
            return []
        self._cursor = newer[0].mod_revision + 1
        plen = len(store._prefix)
        return [WatchEvent(ev.type, ev.key[plen:], ev.value, ev.mod_revision)
                for ev in reversed(newer) if ev.key.startswith(self._prefix)]

    def cancel(self) -> None:
        with self._store._cond:
            self._cancelled = True
            self._store._watches.discard(self)
            self._store._cond.notify_all()

    def __iter__(self) -> Iterator[WatchEvent]:
        while not self._cancelled:
            yield from self.next_batch(0.5)
