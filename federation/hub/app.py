"""The hub: members (watchers, pushers) → registry → reconciling → push, wired.

Threads: one registry thread owns snapshots and rendering; each member cluster has
its own watcher and pusher threads; one store-watch thread each follows cluster
and policy records, so every replica reacts to the same stored state; one
housekeeping thread gates the initial sync, expires stale clusters and retries
removals.

The hub's identity (``hub_id``) is created once per installation and kept in
the store; its pushers stamp it on every object and touch only objects that
carry it. Pushers write only while the replica proves its lease (fencing).
"""

from __future__ import annotations

import logging
import secrets
import socket
import threading
import time
import uuid

from federation import errors
from federation.catalog import load_cluster_record
from federation.hub.members import Member, Members, MemberView
from federation.hub.reconciling import ClusterObjectSource, Reconciler
from federation.hub.removing import Removals
from federation.hub.resources import Resources
from federation.hub.sharding import Membership, owner
from federation.hub.summaries import PushStatuses, PushView, SummaryWriter
from federation.kube.resources import ResourceType
from federation.model import ChangeSet, Snapshot
from federation.model.policies import PolicySet
from federation.model.snapshot import Delta
from federation.push.digest import describe
from federation.registry import FULL, Registry, RenderRequest
from federation.render import Rendered
from federation.settings import HubSettings
from federation.store import Store
from federation.store.following import follow
from federation.store.keys import Keys
from federation.telemetry import Telemetry
from federation.workers import Workers

log = logging.getLogger(__name__)


class Hub:
    def __init__(self, settings: HubSettings, store: Store, kek: bytes,
                 telemetry: Telemetry | None = None, replica_id: str = ""):
        settings.validate()
        self.settings = settings
        self.store = store
        self.kek = kek
        self.telemetry = telemetry or Telemetry()
        self.replica_id = replica_id or settings.replica_id or f"{socket.gethostname()}-{uuid.uuid4().hex[:8]}"
        self.hub_id = ""  # read or created by start()
        self._stop = threading.Event()
        self._workers = Workers(self._stop)
        self.resources = Resources(store)
        self.membership = Membership(store, self.replica_id, ttl=settings.lease_ttl,
                                     on_change=self._on_replicas)
        self.summaries = SummaryWriter(store, guard=self.membership.guard)
        self.statuses = PushStatuses(store, self.summaries, self.telemetry, self.replica_id)
        self.reconciler = Reconciler(settings.domain, lambda: self.resources.policy_set, self.telemetry.tracer)
        self.registry = Registry(self._publish, settings.debounce_quiet, settings.debounce_max,
                                 weight_max=settings.debounce_weight_max)
        self._members = Members(settings, self.registry, self.membership, self.telemetry,
                                on_status=self.statuses.record)
        self.removals = Removals(store, kek, lambda: self.hub_id, self._members.client_for,
                                 retry_max=settings.removal_retry_max)

    # -- lifecycle ----------------------------------------------------------
    def start(self) -> None:
        self.hub_id = load_hub_id(self.store)
        self._members.start(self.hub_id)
        initial = self.summaries.load()
        self.resources.load_policies()
        self.membership.start()
        records, revision = self.store.range(Keys.CLUSTERS)
        _, policy_revision = self.store.range(Keys.POLICIES)
        self.registry.start(initial)
        self.summaries.start()
        for kv in records:
            self._members.add(load_cluster_record(kv.value, self.kek))
        self._workers.spawn("store-watch-clusters", self._follow_store, Keys.CLUSTERS, revision + 1)
        self._workers.spawn("store-watch-policies", self._follow_store, Keys.POLICIES, policy_revision + 1)
        self._workers.spawn("housekeeping", self._housekeep)
        self._install_gauges()
        # Render what is known (last-known state) right away; pruning waits.
        self.registry.request(FULL)

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        deadline = time.monotonic() + timeout
        self._members.stop(max(0.1, deadline - time.monotonic()))
        self.membership.stop(max(0.1, deadline - time.monotonic()))
        self.registry.stop(max(0.1, deadline - time.monotonic()))
        self.summaries.stop(max(0.1, deadline - time.monotonic()))
        self._workers.stop(max(deadline, time.monotonic() + 0.1))

    def _on_replicas(self, replicas: frozenset[str]) -> None:
        self._members.on_replicas(replicas)

    def _housekeep(self) -> None:
        rounds = 0
        while not self._stop.wait(0.2):
            self._members.housekeep()
            rounds += 1
            if rounds % 5 == 0:  # about every second
                try:
                    self.removals.retry_due(self.membership.owns, self._stop.is_set)
                except errors.FederationError as exc:
                    log.warning("removal retry failed", extra={"fields": {"error": str(exc)}})

    # -- store following ------------------------------------------------------
    def _follow_store(self, prefix: str, revision: int) -> None:
        follow(self.store, prefix, revision,
               on_batch=lambda events: [self._on_store_event(e) for e in events],
               reload=self._resync_from_store, stop=self._stop, what=prefix)

    def _resync_from_store(self) -> int:
        records, revision = self.store.range(Keys.CLUSTERS)
        names = set()
        for kv in records:
            record = load_cluster_record(kv.value, self.kek)
            names.add(record.name)
            self._members.relabel(record)  # a label change missed while not following
            self._members.add(record)
        for name in set(self._members.all()) - names:
            self._members.remove(name)
        self.resources.load_policies()
        self.registry.request(FULL)
        return revision

    def _on_store_event(self, event) -> None:
        if event.key.startswith(Keys.CLUSTERS):
            name = event.key[len(Keys.CLUSTERS):]
            if event.type == "DELETE":
                self._members.remove(name)
            else:
                record = load_cluster_record(event.value, self.kek)
                current = self._members.get(name)
                if current is not None and current.record != record and not self._members.relabel(record):
                    self._members.remove(name)
                self._members.add(record)
        elif event.key.startswith(Keys.POLICIES):
            if self.resources.on_event(event):
                self.registry.request(FULL)

    # -- render and push (registry thread) -----------------------------------
    def _publish(self, snapshot: Snapshot, delta: Delta, observed: float, request: RenderRequest) -> None:
        for name in request.forget:
            self.statuses.forget(name)
        with self.telemetry.tracer.start_as_current_span("reconcile") as span:
            span.set_attribute("snapshot.version", snapshot.version)
            span.set_attribute("delta.services", len(delta.services))
            self.summaries.record(snapshot, delta)
            self.reconciler.reconcile(snapshot, delta, observed, request, self._members.all(),
                                      self._members.complete)

    def submit(self, changes: ChangeSet) -> None:
        """Changes from a source beside the member watchers (VM liveness)."""
        self.registry.submit(changes)

    def add_cluster_objects(self, source: ClusterObjectSource) -> None:
        """Declare a source of objects rendered into every cluster (the trust keeper)."""
        self.reconciler.add_source(source)

    def refresh_cluster_objects(self) -> None:
        """Re-render after a source's objects changed; only differences are pushed."""
        self.registry.request(FULL)

    def add_resource_kind(self, kind: str, parse, on_change=None) -> None:
        self.resources.add_kind(kind, parse, on_change)

    # -- the hub's view, for the admin operations and the other features ---------
    @property
    def snapshot(self) -> Snapshot:
        return self.registry.snapshot

    @property
    def policies(self) -> PolicySet:
        """Every hub resource render reads, as in force now."""
        return self.resources.policy_set

    @property
    def refused(self) -> dict[str, str]:
        """Stored clusters whose kubeconfig is not accepted, with why."""
        return dict(self._members.refused)

    def members(self) -> dict[str, Member]:
        """The members' runtime (tests and the hub's own parts)."""
        return self._members.all()

    def clusters(self) -> dict[str, MemberView]:
        """The member clusters running on this replica."""
        return self._members.views()

    def member_names(self) -> list[str]:
        return sorted(self._members.all())

    def render(self, cluster: str) -> Rendered:
        """Everything the hub writes into ``cluster``, as the pipeline renders it."""
        return self.reconciler.render(self.snapshot, cluster)

    def read_member_object(self, cluster: str, kind: ResourceType, namespace: str, name: str) -> dict | None:
        return self._members.read_object(cluster, kind, namespace, name)

    def live_inventory(self, cluster: str):
        return self._members.inventory(cluster)

    def push_view(self, cluster: str) -> PushView:
        return self.statuses.view(cluster, self._members.push_status(cluster), self.owner_of(cluster) or "")

    def shared_status(self, cluster: str) -> dict | None:
        return self.statuses.shared(cluster)

    def owner_of(self, cluster: str) -> str | None:
        """The live replica that pushes into ``cluster``."""
        return owner(cluster, self.membership.replicas)

    def store_health(self) -> str:
        return self.membership.store_health()

    def resource_kinds(self) -> dict:
        return self.resources.kinds()

    def remove_member_now(self, name: str) -> list[str]:
        """Stop a member at once (its record is already moved out of ``clusters/``);
        returns the objects its pusher knew it owned, if it ran here."""
        return [describe(ref) for ref in self._members.remove(name)]

    def owned_summary(self, name: str) -> list[str]:
        """What this hub owns in a cluster, as far as it knows: the pusher's own
        view when it runs here, else the count its owner last shared."""
        refs = self._members.owned_refs(name)
        if refs is not None:
            return [describe(ref) for ref in refs]
        shared = self.shared_status(name)
        if shared and shared.get("objects"):
            return [f"{shared['objects']} object(s) (as last reported by replica {shared.get('replica')})"]
        return []

    def _install_gauges(self) -> None:
        def clusters():
            counts: dict[str, int] = {}
            for m in self._members.all().values():
                counts[m.state.value] = counts.get(m.state.value, 0) + 1
            return [(n, {"state": s}) for s, n in counts.items()]

        def states():
            return [(1.0, {"cluster": name, "state": member.state.value})
                    for name, member in sorted(self._members.all().items())]

        def last_sync():
            members = self._members.all()
            return [(when, {"cluster": name}) for name, when in sorted(dict(self.telemetry.last_sync).items())
                    if name in members]

        def services():
            return [(len(self.snapshot.services), {})]

        def endpoints():
            totals: dict[str, int] = {}
            for per in self.snapshot.services.values():
                for cluster, svc in per.items():
                    totals[cluster] = totals.get(cluster, 0) + svc.ready
            return [(n, {"cluster": c}) for c, n in totals.items()]

        self.telemetry.gauge("federation_clusters", clusters)
        self.telemetry.gauge("federation_cluster_state", states)
        self.telemetry.gauge("federation_cluster_last_sync_timestamp_seconds", last_sync)
        self.telemetry.gauge("federation_services", services)
        self.telemetry.gauge("federation_endpoints", endpoints)


def load_hub_id(store: Store) -> str:
    """This installation's hub identity: read from the store, or created there
    once (the first replica to start wins; every other one reads its value)."""
    for _ in range(3):  # bounded: only a concurrent first start repeats it
        kv = store.get(Keys.HUB_ID)
        if kv is not None:
            return kv.value.decode()
        candidate = f"hub-{secrets.token_hex(6)}"
        if store.compare_and_swap(Keys.HUB_ID, candidate.encode(), 0):
            log.info("hub identity created", extra={"fields": {"hub": candidate}})
            return candidate
    raise errors.StoreError("hub identity neither readable nor creatable in the store")
