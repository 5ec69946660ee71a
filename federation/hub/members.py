"""The member clusters of one hub replica: the runtime of each, and its lifecycle.

A ``Member`` is one registered cluster as this replica runs it: its client, its
watcher (on every replica: each one renders the whole mesh), its pusher (only
on the replica that owns the cluster, see ``sharding``; kept in a ``PushFleet``)
and its ``ClusterState``, with what the reconciler needs to know of it.

``Members`` starts and stops them as records come and go and as ownership
moves, follows their watchers, and feeds the registry: change sets as they
come, a cluster's full state on each sync (``retain``), its own target rendered
whole when its pusher starts (and once the snapshot knows it; the other targets
get what its changes touch), ``forget`` when one leaves. Pruning
waits for every member's first sync, or the initial sync timeout (``complete``);
a cluster away longer than the stale TTL loses its last-known endpoints.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field, replace

from federation import errors
from federation.catalog import ClusterRecord
from federation.kube.client import KubeClient
from federation.kube.resources import ResourceType
from federation.model import ChangeSet, ClusterChange, ClusterState, ServiceChange
from federation.model.ids import Ref
from federation.push.fleet import PushFleet
from federation.push.inventory import take_inventory
from federation.push.pushing import ClusterPusher, StatusCallback
from federation.push.status import PushStatus
from federation.hub.sharding import Membership
from federation.registry import COMPLETE, Registry, RenderRequest
from federation.settings import HubSettings
from federation.sources.cluster_watching import ClusterWatcher
from federation.sources.settings import SourceSettings
from federation.telemetry import Telemetry

log = logging.getLogger(__name__)

HANDOVER_TIMEOUT = 5.0  # seconds a pusher handed over or stopped may take to end


@dataclass
class Member:
    """The runtime of one member cluster on this replica."""

    record: ClusterRecord
    kube: KubeClient
    watcher: ClusterWatcher
    pusher: ClusterPusher | None = None  # only on the replica that owns the cluster
    state: ClusterState = ClusterState.SYNCING
    present: dict = field(default_factory=dict)  # service key -> what its watcher reported last
    rendered: bool = False  # every service rendered for it while the snapshot knew it
    full_pushed: bool = False  # its pusher got the complete desired set (pruning allowed)
    ever_synced: bool = False
    down_since: float | None = None  # monotonic time it stopped being synced
    expired: bool = False  # its last-known services were dropped after stale_ttl

    def view(self) -> MemberView:
        lost = self.state in (ClusterState.UNREACHABLE, ClusterState.STALE)
        return MemberView(self.record, self.state, (self.watcher.last_error or "") if lost else "")


@dataclass(frozen=True)
class MemberView:
    """A member as the admin operations and the other features see it: no
    clients, no threads."""

    record: ClusterRecord
    state: ClusterState
    watch_error: str = ""  # why its watcher lost the cluster, while it is lost


class Members:
    """Every member cluster this replica runs (see the module doc)."""

    def __init__(self, settings: HubSettings, registry: Registry, membership: Membership,
                 telemetry: Telemetry, on_status: StatusCallback):
        self._settings = settings
        self._registry = registry
        self._membership = membership
        self._telemetry = telemetry
        self._lock = threading.RLock()
        self._members: dict[str, Member] = {}
        self._stopped = False
        self._started_at = 0.0
        self.hub_id = ""  # set by start(): the pushers stamp it on every object
        self.refused: dict[str, str] = {}  # stored clusters whose kubeconfig is not accepted
        self.complete = False  # every member synced once, or the initial sync timed out
        self._fleet = PushFleet(on_status=on_status, on_applied=self._on_applied,
                                tracer=telemetry.tracer, watch_owned=True,
                                fence=membership.holds_lease, watch_timeout=settings.watch_timeout)

    def start(self, hub_id: str) -> None:
        self._started_at = time.monotonic()
        self.hub_id = hub_id

    def stop(self, timeout: float) -> None:
        with self._lock:
            self._stopped = True
            members = list(self._members.values())
            self._members.clear()
        for member in members:
            member.watcher.stop()
        self._fleet.stop_all(timeout)
        for member in members:
            member.kube.close()

    # -- views ----------------------------------------------------------------
    def all(self) -> dict[str, Member]:
        with self._lock:
            return dict(self._members)

    def get(self, name: str) -> Member | None:
        with self._lock:
            return self._members.get(name)

    def views(self) -> dict[str, MemberView]:
        return {name: member.view() for name, member in self.all().items()}

    def push_status(self, name: str) -> PushStatus | None:
        """This replica's pusher's status of ``name``; None where another one pushes."""
        member = self.get(name)
        pusher = member.pusher if member is not None else None
        return pusher.status() if pusher is not None else None

    def owned_refs(self, name: str) -> list[Ref] | None:
        """What this replica's pusher knows it owns in ``name``; None where it runs no pusher."""
        member = self.get(name)
        pusher = member.pusher if member is not None else None
        return pusher.owned_refs() if pusher is not None else None

    def read_object(self, cluster: str, kind: ResourceType, namespace: str, name: str) -> dict | None:
        """One object of a member, read with the hub's credentials (None: absent)."""
        return self._running(cluster).kube.get(kind, namespace, name)

    def inventory(self, cluster: str):
        """What this hub owns in ``cluster`` as it is there now (raw objects kept)."""
        return take_inventory(self._running(cluster).kube, hub_id=self.hub_id, keep_raw=True)

    def _running(self, cluster: str) -> Member:
        member = self.get(cluster)
        if member is None:
            raise errors.NotFound(f"cluster {cluster!r} is not running on this hub")
        return member

    def client_for(self, record: ClusterRecord, timeout: float = 5.0) -> KubeClient:
        """A client of its own for a cluster (cleanups, the pushers' watches)."""
        return KubeClient(record.name, record.kubeconfig, timeout=min(self._settings.cluster_timeout, timeout),
                          allow=self._settings.kubeconfig_options)

    # -- lifecycle ----------------------------------------------------------------
    def add(self, record: ClusterRecord) -> None:
        """Run a member for ``record`` (nothing when it runs already)."""
        with self._lock:
            if record.name in self._members or self._stopped:
                return
            try:  # a record stored under other --allow-kubeconfig-option flags
                kube = KubeClient(record.name, record.kubeconfig, timeout=self._settings.cluster_timeout,
                                  allow=self._settings.kubeconfig_options)
            except errors.ConfigError as exc:
                self.refused[record.name] = str(exc)
                log.error("stored cluster not loaded", extra={"fields": {
                    "cluster": record.name, "error": str(exc)}})
                return
            self.refused.pop(record.name, None)
            watcher = ClusterWatcher(
                record.name, kube, SourceSettings(export_mode=self._settings.export_mode,
                                                  watch_timeout=self._settings.watch_timeout,
                                                  network=record.network, region=record.region,
                                                  labels=record.labels),
                emit=lambda cs, n=record.name: self._on_changes(n, cs),
                on_state=lambda state, n=record.name: self._on_state(n, state),
            )
            member = Member(record, kube, watcher)
            self._members[record.name] = member
            if self._membership.owns(record.name):
                self._start_pusher(member)
        watcher.start()
        log.info("member cluster started", extra={"fields": {
            "cluster": record.name, "server": kube.server}})

    def relabel(self, record: ClusterRecord) -> bool:
        """Take a record that differs from the running one only in its labels
        without restarting the member; False when it differs in more (or does not run)."""
        with self._lock:
            member = self._members.get(record.name)
            if member is None or replace(member.record, labels=record.labels) != record:
                return False
            member.record = record
        member.watcher.set_labels(record.labels)
        return True

    def remove(self, name: str) -> list[Ref]:
        """Stop a member; returns what its pusher (if here) knew it owned there."""
        with self._lock:
            self.refused.pop(name, None)
            member = self._members.pop(name, None)
            pusher = self._fleet.detach(name) if member is not None else None
        if member is None:
            return []
        member.watcher.stop()
        owned: list[Ref] = []
        if pusher is not None:
            pusher.stop(HANDOVER_TIMEOUT)
            owned = pusher.owned_refs()
        member.kube.close()
        self._registry.submit(ChangeSet((ClusterChange(name, None),)))
        self._registry.request(RenderRequest(forget=frozenset({name})))
        log.info("member cluster stopped", extra={"fields": {"cluster": name}})
        return owned

    def _start_pusher(self, member: Member) -> None:
        member.pusher = self._fleet.add(
            member.record.name, member.kube, hub_id=self.hub_id,
            watch_kube=self.client_for(member.record, self._settings.cluster_timeout))
        member.full_pushed = False
        # Its target whole; what the others need of it comes with its watcher's changes.
        self._registry.request(RenderRequest(whole=frozenset({member.record.name})))

    def on_replicas(self, replicas: frozenset[str]) -> None:
        """Start pushers for clusters this replica now owns, stop the others'.
        Stopping waits on the network, so it happens outside the lock: a
        handover never stalls rendering."""
        leaving = []
        with self._lock:
            for name, member in self._members.items():
                owned = self._membership.owns(name)
                if owned and member.pusher is None:
                    log.info("taking over cluster", extra={"fields": {"cluster": name}})
                    self._start_pusher(member)
                elif not owned and member.pusher is not None:
                    log.info("handing over cluster", extra={"fields": {"cluster": name}})
                    leaving.append(self._fleet.detach(name))  # writes nothing more from now on
                    member.pusher = None
        for pusher in leaving:
            if pusher is not None:
                pusher.stop(HANDOVER_TIMEOUT)

    # -- what the watchers report (their threads) --------------------------------
    def _on_changes(self, cluster: str, changes: ChangeSet) -> None:
        member = self.get(cluster)
        if member is not None:
            for change in changes.changes:
                if isinstance(change, ServiceChange):
                    if change.service is None:
                        member.present.pop(change.key, None)
                    else:
                        member.present[change.key] = change.service
        self._registry.submit(changes)

    def _on_state(self, cluster: str, state: ClusterState) -> None:
        member = self.get(cluster)
        if member is None:
            return
        state = ClusterState(state)
        synced = state == ClusterState.SYNCED
        first_sync = synced and not member.ever_synced
        member.ever_synced = member.ever_synced or synced
        member.state = state
        if synced:
            member.down_since = None
            if member.expired:  # bring back what was dropped while it was away
                member.expired = False
                self._registry.submit(ChangeSet(tuple(
                    ServiceChange(cluster, key, svc) for key, svc in member.present.items())))
        elif member.down_since is None:
            member.down_since = time.monotonic()
        log.info("member cluster state", extra={"fields": {"cluster": cluster, "state": state.value}})
        if synced:
            # The watcher's full state is authoritative: drop last-known services
            # it no longer has (they were deleted while we were not watching).
            self._registry.retain(cluster, set(member.present))
        if first_sync:
            # Its services and its gateway reach every target as this sync's changes
            # (the delta); its own target was rendered whole once the snapshot knew it
            # (``Reconciler``). Once pruning may start, its pusher gets its complete set.
            self._registry.request(COMPLETE)

    def _on_applied(self, cluster: str, observed_at: float, now: float) -> None:
        self._telemetry.propagation.record(max(0.0, now - observed_at), {"cluster": cluster})

    # -- housekeeping (the hub's housekeeping thread) -------------------------------
    def housekeep(self) -> None:
        if not self.complete:
            self._gate_initial_sync()
        self._expire_stale()

    def _gate_initial_sync(self) -> None:
        """Pruning waits for every member's first sync, or the initial sync timeout."""
        with self._lock:
            states = [m.state for m in self._members.values()]
        waited = time.monotonic() - self._started_at
        if all(s.known for s in states) or waited >= self._settings.initial_sync_timeout:
            self.complete = True
            log.info("initial sync complete", extra={"fields": {
                "clusters": len(states), "seconds": round(waited, 2)}})
            self._registry.request(COMPLETE)  # nothing to render: what each target lacks is handed over

    def _expire_stale(self) -> None:
        """A cluster away longer than stale_ttl loses its last-known endpoints."""
        now = time.monotonic()
        for name, member in self.all().items():
            since = member.down_since
            if member.expired or since is None or now - since < self._settings.stale_ttl:
                continue
            member.expired = True
            log.warning("cluster away too long: dropping its last-known endpoints", extra={"fields": {
                "cluster": name, "seconds": round(now - since, 1)}})
            self._registry.retain(name, ())
