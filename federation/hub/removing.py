"""Removing member clusters truthfully: a cluster that does not answer stays ``removing``.

Removal moves the cluster's record from ``clusters/<name>`` to
``removing/<name>`` in one transaction, so every replica stops serving it at
once and the state survives restarts. Cleanup (deleting what this hub owns
there) is tried at once; when the cluster does not answer, the replica that
owns the name retries with exponential back-off until it answers, or until an
operator forces the removal, which forgets the record and names what is left
behind. A name registered again meanwhile ends the cleanup untouched: the new
registration owns what is there.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from typing import Callable

from federation import errors
from federation.catalog import ClusterRecord, load_cluster_record
from federation.kube.client import KubeClient
from federation.push.inventory import delete_all_owned
from federation.store import Compare, Delete, Put, Store
from federation.store.keys import Keys

log = logging.getLogger(__name__)

REMOVING = Keys.REMOVING
MAX_LISTED = 20  # objects named in a removal's "left behind", then a count


@dataclass(frozen=True)
class Removal:
    """A cluster being removed, as stored."""

    name: str
    since: float  # unix seconds
    attempts: int
    error: str
    left: tuple[str, ...]  # what the hub last knew it had there


@dataclass(frozen=True)
class Outcome:
    state: str  # "removed", "removing" or "forced"
    deleted: int = 0
    error: str = ""
    left_behind: tuple[str, ...] = ()


def summarize(objects: list[str]) -> tuple[str, ...]:
    shown = sorted(objects)[:MAX_LISTED]
    more = len(objects) - len(shown)
    return tuple(shown) + ((f"... and {more} more",) if more > 0 else ())


class Removals:
    """The removals in the store, and their cleanup attempts."""

    def __init__(self, store: Store, kek: bytes, hub_id: Callable[[], str],
                 make_kube: Callable[[ClusterRecord], KubeClient], retry_max: float = 30.0):
        self._store = store
        self._kek = kek
        self._hub_id = hub_id
        self._make_kube = make_kube
        self._retry_max = retry_max
        self._due: dict[str, float] = {}  # name -> monotonic time of the next attempt

    def begin(self, name: str, left: list[str]) -> None:
        """Move ``clusters/<name>`` to ``removing/<name>``; NotFound when it is not registered."""
        for _ in range(5):  # bounded: only a concurrent change of the record repeats it
            kv = self._store.get(Keys.cluster(name))
            if kv is None:
                if self._store.get(REMOVING + name) is not None:
                    return  # already being removed
                raise errors.NotFound(f"cluster {name!r} is not registered")
            value = json.dumps({"cluster": json.loads(kv.value), "since": time.time(), "attempts": 0,
                                "error": "", "left": summarize(left)}).encode()
            if self._store.txn([Compare(Keys.cluster(name), kv.mod_revision)],
                               [Put(REMOVING + name, value), Delete(Keys.cluster(name))]):
                return
        raise errors.Conflict(f"cluster {name!r} changed while being removed; try again")

    def get(self, name: str) -> Removal | None:
        kv = self._store.get(REMOVING + name)
        return None if kv is None else _removal(name, kv.value)

    def pending(self) -> list[Removal]:
        items, _ = self._store.range(REMOVING)
        return [_removal(kv.key[len(REMOVING):], kv.value) for kv in items]

    def attempt(self, name: str) -> Outcome:
        """One cleanup attempt: "removed" when the cluster answered, else
        "removing" with the error (the record keeps it and the attempt count)."""
        kv = self._store.get(REMOVING + name)
        if kv is None:
            return Outcome("removed")
        data = json.loads(kv.value)
        if self._store.get(Keys.cluster(name)) is not None:  # registered again meanwhile
            self._store.compare_and_delete(REMOVING + name, kv.mod_revision)
            return Outcome("removed")
        try:
            record = load_cluster_record(json.dumps(data["cluster"]).encode(), self._kek)
            kube = self._make_kube(record)
        except errors.FederationError as exc:
            return self._failed(name, kv, data, f"cannot use its kubeconfig: {exc}")
        try:
            deleted = delete_all_owned(kube, self._hub_id())
        except errors.FederationError as exc:
            return self._failed(name, kv, data, str(exc).split("\n")[0][:300])
        finally:
            kube.close()
        self._store.compare_and_delete(REMOVING + name, kv.mod_revision)
        self._due.pop(name, None)
        log.info("cluster removed", extra={"fields": {"cluster": name, "objects_deleted": deleted}})
        return Outcome("removed", deleted)

    def _failed(self, name: str, kv, data: dict, error: str) -> Outcome:
        data["attempts"] = int(data.get("attempts", 0)) + 1
        data["error"] = error
        # Lost to a concurrent attempt or a forced removal: either has its own record.
        self._store.compare_and_swap(REMOVING + name, json.dumps(data).encode(), kv.mod_revision)
        delay = min(self._retry_max, 2 ** min(data["attempts"] - 1, 16))
        self._due[name] = time.monotonic() + delay
        log.warning("cluster cleanup incomplete; retrying", extra={"fields": {
            "cluster": name, "error": error, "attempt": data["attempts"], "retry_in": delay}})
        return Outcome("removing", error=error, left_behind=tuple(data.get("left") or ()))

    def force(self, name: str) -> Outcome:
        """Forget the removal, whatever is left in the cluster (named in the outcome)."""
        removal = self.get(name)
        if removal is None:
            return Outcome("removed")
        self._store.delete(REMOVING + name)
        self._due.pop(name, None)
        left = removal.left or ("whatever the hub wrote there (it never reported its objects)",)
        log.warning("cluster removal forced; objects left behind", extra={"fields": {
            "cluster": name, "left": len(removal.left)}})
        return Outcome("forced", error=removal.error, left_behind=left)

    def retry_due(self, owns: Callable[[str], bool], stop: Callable[[], bool]) -> None:
        """Attempt the removals this replica owns whose back-off has passed."""
        now = time.monotonic()
        for removal in self.pending():
            if stop():
                return
            if owns(removal.name) and self._due.setdefault(removal.name, now) <= now:
                self.attempt(removal.name)


def _removal(name: str, value: bytes) -> Removal:
    data = json.loads(value)
    return Removal(name, float(data.get("since", 0.0)), int(data.get("attempts", 0)),
                   str(data.get("error", "")), tuple(data.get("left") or ()))
