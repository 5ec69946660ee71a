"""Sharding member clusters between live hub replicas.

Every replica watches every member cluster (each needs the whole mesh to
render), but only one pushes into a given cluster: the one rendezvous hashing
picks among the live replicas. A replica is live while its lease-bound key
``replicas/<id>`` exists, so a dead replica's clusters move to the others
within one lease TTL; the new owner's pusher reads what is in the cluster and
writes only what differs.

Fencing: a replica may write only while it can prove it holds its lease
(``holds_lease``): the proof is the last successful keep-alive, counted from
when it was sent, for the TTL etcd granted minus ``margin``. So a replica cut
off from etcd stops writing before its lease can expire and another replica
take its clusters. State it writes to the store is conditioned on its
membership key (``guard``), which disappears with the lease.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from typing import Callable, Iterable

from federation import errors
from federation.store import Compare, Store
from federation.store.following import follow
from federation.store.keys import Keys
from federation.workers import Workers, deadline_in

log = logging.getLogger(__name__)

REPLICAS = Keys.REPLICAS


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
                 on_change: Callable[[frozenset[str]], None] | None = None,
                 margin: float | None = None):
        self.store = store
        self.replica_id = replica_id
        self.ttl = ttl
        # Shorter than the TTL: the proof ends this long before the lease could.
        self.margin = min(ttl / 3, 3.0) if margin is None else margin
        if not 0 < self.margin < ttl:
            raise errors.ConfigError(f"lease margin {self.margin}: must be above 0 and below the TTL {ttl}")
        self._proven_until = 0.0  # monotonic
        self._member_revision = 0  # mod revision of our membership key
        self._store_error = ""  # the last store failure, "" while the store answers
        self._store_error_since: float | None = None
        self._on_change = on_change or (lambda replicas: None)
        self._replicas: frozenset[str] = frozenset({replica_id})
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._workers = Workers(self._stop)
        self._lease = 0

    @property
    def replicas(self) -> frozenset[str]:
        with self._lock:
            return self._replicas

    def owns(self, cluster: str) -> bool:
        return owner(cluster, self.replicas) == self.replica_id

    def holds_lease(self) -> bool:
        """Whether this replica can prove it still holds its membership lease."""
        return time.monotonic() < self._proven_until

    def guard(self) -> Compare | None:
        """A transaction compare that holds only while our membership key (and so
        our lease) exists as we wrote it; None before joining."""
        revision = self._member_revision
        return Compare(f"{REPLICAS}{self.replica_id}", revision) if revision else None

    def store_health(self) -> str:
        """"ok", or since when and why the store does not answer keep-alives."""
        if not self._store_error:
            return "ok"
        since = self._store_error_since or time.monotonic()
        return f"unavailable for {time.monotonic() - since:.0f}s: {self._store_error}"

    def start(self) -> None:
        self._join()
        revision = self._reload()
        self._workers.spawn("membership-keepalive", self._keep_alive)
        self._workers.spawn("membership-watch", self._follow, revision + 1)

    def stop(self, timeout: float = 5.0) -> None:
        self._workers.stop(deadline_in(timeout))
        try:
            if self._lease:
                self.store.revoke_lease(self._lease)  # hand our clusters over at once
        except errors.FederationError:
            pass

    def _join(self) -> None:
        sent = time.monotonic()
        lease = self.store.grant_lease(self.ttl)
        revision = self.store.put(f"{REPLICAS}{self.replica_id}", b"{}", lease=lease.id)
        self._lease, self._member_revision = lease.id, revision
        self._proven(sent, lease.ttl)

    def _proven(self, sent: float, ttl: float) -> None:
        self._proven_until = sent + ttl - self.margin
        if self._store_error:
            log.info("store answers again", extra={"fields": {"replica": self.replica_id}})
        self._store_error, self._store_error_since = "", None

    def _failed(self, exc: errors.FederationError) -> None:
        if not self._store_error:
            self._store_error_since = time.monotonic()
        self._store_error = str(exc).split("\n")[0][:200]

    def _keep_alive(self) -> None:
        # Several tries per margin, so one lost call does not end the proof.
        interval = max(0.2, min(self.ttl / 3, self.margin / 2))
        while not self._stop.wait(interval):
            sent = time.monotonic()
            try:
                self._proven(sent, self.store.keep_alive(self._lease))
            except errors.LeaseLost:
                self._proven_until = 0.0
                log.warning("replica lease lost; rejoining", extra={"fields": {"replica": self.replica_id}})
                try:
                    self._join()
                except errors.FederationError as exc:
                    self._failed(exc)
                    log.warning("rejoin failed", extra={"fields": {"error": str(exc)}})
            except errors.FederationError as exc:
                self._failed(exc)
                log.warning("replica keep-alive failed", extra={"fields": {
                    "error": str(exc), "proof_left": round(self._proven_until - time.monotonic(), 2)}})

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
