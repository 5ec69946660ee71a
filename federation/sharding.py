"""Sharding member clusters between live hub replicas.

Every replica watches every member cluster (each needs the whole mesh to
render), but only one pushes into a given cluster: the one rendezvous hashing
picks among the live replicas. A replica is live while its lease-bound key
``replicas/<id>`` exists, so a dead replica's clusters move to the others
within one lease TTL; the new owner's pusher reads what is in the cluster and
writes only what differs.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from typing import Callable, Iterable

from federation import errors
from federation.store import Store
from federation.store.following import follow

log = logging.getLogger(__name__)

REPLICAS = "replicas/"


def owner(cluster: str, replicas: Iterable[str]) -> str | None:
    """Rendezvous (highest random weight) hashing: stable, and moving only the
    clusters of a replica that leaves or joins."""
    best, best_score = None, b""
    for replica in replicas:
        score = hashlib.sha256(f"{replica}\x00{cluster}".encode()).digest()
        if best is None or score > best_score:
            best, best_score = replica, score
    return best


class Membership:
    """This replica's lease-bound membership and the current set of live replicas."""

    def __init__(self, store: Store, replica_id: str, ttl: int = 10,
                 on_change: Callable[[frozenset[str]], None] | None = None):
        self.store = store
        self.replica_id = replica_id
        self.ttl = ttl
        self._on_change = on_change or (lambda replicas: None)
        self._replicas: frozenset[str] = frozenset({replica_id})
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._lease = 0

    @property
    def replicas(self) -> frozenset[str]:
        with self._lock:
            return self._replicas

    def owns(self, cluster: str) -> bool:
        return owner(cluster, self.replicas) == self.replica_id

    def start(self) -> None:
        self._join()
        revision = self._reload()
        for name, target, args in (("membership-keepalive", self._keep_alive, ()),
                                   ("membership-watch", self._follow, (revision + 1,))):
            thread = threading.Thread(target=target, args=args, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout)
        try:
            if self._lease:
                self.store.revoke_lease(self._lease)  # hand our clusters over at once
        except errors.FederationError:
            pass

    def _join(self) -> None:
        lease = self.store.grant_lease(self.ttl)
        self.store.put(f"{REPLICAS}{self.replica_id}", b"{}", lease=lease.id)
        self._lease = lease.id

    def _keep_alive(self) -> None:
        while not self._stop.wait(max(0.5, self.ttl / 3)):
            try:
                self.store.keep_alive(self._lease)
            except errors.LeaseLost:
                log.warning("replica lease lost; rejoining", extra={"fields": {"replica": self.replica_id}})
                try:
                    self._join()
                except errors.FederationError as exc:
                    log.warning("rejoin failed", extra={"fields": {"error": str(exc)}})
            except errors.FederationError as exc:
                log.warning("replica keep-alive failed", extra={"fields": {"error": str(exc)}})

    def _follow(self, revision: int) -> None:
        follow(self.store, REPLICAS, revision, on_batch=self._on_events, reload=self._reload,
               stop=self._stop, what="replicas")

    def _on_events(self, events) -> None:
        current = set(self.replicas)
        for event in events:
            name = event.key[len(REPLICAS):]
            (current.add if event.type == "PUT" else current.discard)(name)
        current.add(self.replica_id)  # we are live while running
        self._set(current)

    def _reload(self) -> int:
        items, revision = self.store.range(REPLICAS)
        self._set({kv.key[len(REPLICAS):] for kv in items} | {self.replica_id})
        return revision

    def _set(self, replicas: set[str]) -> None:
        new = frozenset(replicas)
        with self._lock:
            if new == self._replicas:
                return
            self._replicas = new
        log.info("hub replicas changed", extra={"fields": {"replicas": ",".join(sorted(new))}})
        self._on_change(new)
