"""Wiring of the hub: store → members (watchers, pushers) → registry → render → push.

Threads: one registry thread owns snapshots and rendering; each member cluster has
its own watcher and pusher threads; one store-watch thread follows cluster and
policy records, so every replica reacts to the same stored state.

The hub's identity (``hub_id``) is created once per installation and kept in
the store; its pushers stamp it on every object and touch only objects that
carry it. Pushers write only while the replica proves its lease (fencing).
"""

from __future__ import annotations

import json
import logging
import secrets
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field

from federation import errors
from federation.desired import CLUSTER_BUCKET, DesiredState
from federation.kube.client import KubeClient
from federation.model import ChangeSet, ClusterChange, ServiceChange, Snapshot
from federation.model.ids import ServiceKey
from federation.model.policy import FailoverPolicy, parse_policy
from federation.model.snapshot import Delta
from federation.push.digest import describe
from federation.push.pushing import ClusterPusher
from federation.removing import Removals
from federation.registry import Registry
from federation.render import render_gateways, render_namespaces, render_service
from federation.settings import HubSettings
from federation.sharding import Membership, owner
from federation.sources.cluster_watching import ClusterWatcher
from federation.store import Store
from federation.store.following import follow
from federation.catalog import ClusterRecord, load_cluster_record
from federation.store.keys import Keys
from federation.summaries import SummaryWriter
from federation.telemetry import Telemetry

log = logging.getLogger(__name__)

STATUS_REFRESH = 30.0  # seconds between shared-status writes that only move lastPush


NAMESPACE_BUCKET = "namespace"  # buckets ("namespace", name): namespaces the hub creates


@dataclass
class Member:
    """The runtime of one member cluster on this replica."""

    record: ClusterRecord
    kube: KubeClient
    watcher: ClusterWatcher
    pusher: ClusterPusher | None  # only on the replica that owns the cluster
    state: str = "syncing"  # syncing | synced | unreachable | stale
    present: dict = field(default_factory=dict)  # service key -> what its watcher reported last
    rendered: bool = False  # every service rendered for it at least once
    full_pushed: bool = False  # its pusher got the complete desired set (pruning allowed)
    ever_synced: bool = False
    down_since: float | None = None  # monotonic time it stopped being synced
    expired: bool = False  # its last-known services were dropped after stale_ttl


class Hub:
    def __init__(self, settings: HubSettings, store: Store, kek: bytes,
                 telemetry: Telemetry | None = None, trust=None, replica_id: str = ""):
        settings.validate()
        self.settings = settings
        self.store = store
        self.kek = kek
        self.telemetry = telemetry or Telemetry()
        self.trust = trust
        self._lock = threading.RLock()
        self._members: dict[str, Member] = {}
        self.refused: dict[str, str] = {}  # stored clusters whose kubeconfig is not accepted
        self._policies: dict[str, FailoverPolicy] = {}
        self._desired = DesiredState()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._started_at = 0.0
        self._complete = False
        self.hub_id = ""  # read or created by start()
        self.registry = Registry(self._publish, settings.debounce_quiet, settings.debounce_max,
                                 weight_max=settings.debounce_weight_max)
        self._extra_cluster_objects = []  # callables (target) -> list[dict], e.g. cacerts
        self._resource_kinds: dict = {"FailoverPolicy": _Kind(parse_policy)}
        self._resource_watchers: dict = {}
        self.replica_id = replica_id or settings.replica_id or f"{socket.gethostname()}-{uuid.uuid4().hex[:8]}"
        self._push_counts: dict[str, tuple[int, int, int]] = {}
        self._shared_status: dict[str, dict] = {}
        self.membership = Membership(store, self.replica_id, ttl=settings.lease_ttl,
                                     on_change=self._on_replicas)
        self.summaries = SummaryWriter(store, guard=self.membership.guard)
        self.removals = Removals(store, kek, lambda: self.hub_id, self._own_client,
                                 retry_max=settings.removal_retry_max)
        self._shared_cache: dict[str, dict] = {}  # shared statuses as last read

    # -- lifecycle ----------------------------------------------------------
    def start(self) -> None:
        self._started_at = time.monotonic()
        self.hub_id = load_hub_id(self.store)
        initial = self.summaries.load()
        self.registry = Registry(self._publish, self.settings.debounce_quiet,
                                 self.settings.debounce_max, initial=initial,
                                 weight_max=self.settings.debounce_weight_max)
        self._load_policies()
        self.membership.start()
        records, revision = self.store.range(Keys.CLUSTERS)
        _, policy_revision = self.store.range(Keys.POLICIES)
        self.registry.start()
        self.summaries.start()
        for kv in records:
            self._start_member(load_cluster_record(kv.value, self.kek))
        self._spawn("store-watch-clusters", self._follow_store, Keys.CLUSTERS, revision + 1)
        self._spawn("store-watch-policies", self._follow_store, Keys.POLICIES, policy_revision + 1)
        self._spawn("housekeeping", self._housekeep)
        self._install_gauges()
        # Render what is known (last-known state) right away; pruning waits.
        self.registry.request(full=True)

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        deadline = time.monotonic() + timeout
        with self._lock:
            members = list(self._members.values())
            self._members.clear()
        for member in members:
            member.watcher.stop()
        for member in members:
            if member.pusher is not None:
                member.pusher.stop(max(0.1, deadline - time.monotonic()))
            member.kube.close()
        self.membership.stop(max(0.1, deadline - time.monotonic()))
        self.registry.stop(max(0.1, deadline - time.monotonic()))
        self.summaries.stop(max(0.1, deadline - time.monotonic()))
        for thread in self._threads:
            thread.join(max(0.1, deadline - time.monotonic()))

    def _spawn(self, name: str, target, *args) -> None:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    # -- members ------------------------------------------------------------
    def _start_member(self, record: ClusterRecord) -> None:
        with self._lock:
            if record.name in self._members or self._stop.is_set():
                return
            try:  # a record stored under other --allow-kubeconfig-option flags
                kube = KubeClient(record.name, record.kubeconfig, timeout=self.settings.cluster_timeout,
                                  allow=self.settings.kubeconfig_options)
            except errors.ConfigError as exc:
                self.refused[record.name] = str(exc)
                log.error("stored cluster not loaded", extra={"fields": {
                    "cluster": record.name, "error": str(exc)}})
                return
            self.refused.pop(record.name, None)
            watcher = ClusterWatcher(
                record.name, kube, self._source_settings(record),
                emit=lambda cs, n=record.name: self._on_changes(n, cs),
                on_state=lambda state, n=record.name: self._on_state(n, state),
            )
            member = Member(record, kube, watcher, None)
            self._members[record.name] = member
            if self.membership.owns(record.name):
                self._start_pusher(member)
        watcher.start()
        log.info("member cluster started", extra={"fields": {
            "cluster": record.name, "server": kube.server}})

    def _start_pusher(self, member: Member) -> None:
        member.pusher = ClusterPusher(member.record.name, member.kube, on_applied=self._on_applied,
                                      on_status=self._on_push_status, tracer=self.telemetry.tracer,
                                      hub_id=self.hub_id, watch_owned=True,
                                      fence=self.membership.holds_lease,
                                      watch_timeout=self.settings.watch_timeout,
                                      watch_kube=self._own_client(member.record, self.settings.cluster_timeout))
        member.full_pushed = False
        member.pusher.start()
        self.registry.request(full=True)

    def _on_replicas(self, replicas: frozenset[str]) -> None:
        """Start pushers for clusters this replica now owns, stop the others'.
        Stopping waits on the network, so it happens outside the hub lock: a
        handover never stalls rendering."""
        leaving = []
        with self._lock:
            for name, member in self._members.items():
                owned = self.membership.owns(name)
                if owned and member.pusher is None:
                    log.info("taking over cluster", extra={"fields": {"cluster": name}})
                    self._start_pusher(member)
                elif not owned and member.pusher is not None:
                    log.info("handing over cluster", extra={"fields": {"cluster": name}})
                    member.pusher.request_stop()  # writes nothing more from now on
                    leaving.append(member.pusher)
                    member.pusher = None
        for pusher in leaving:
            pusher.stop(5.0)

    def _stop_member(self, name: str) -> list[str]:
        """Stop a member; returns what its pusher (if here) knew it owned there."""
        with self._lock:
            self.refused.pop(name, None)
            member = self._members.pop(name, None)
        if member is None:
            return []
        member.watcher.stop()
        owned: list[str] = []
        if member.pusher is not None:
            member.pusher.stop(5.0)
            owned = [describe(ref) for ref in member.pusher.owned_refs()]
        member.kube.close()
        self.registry.submit(ChangeSet((ClusterChange(name, None),)))
        self.registry.request(lambda snap, n=name: self._forget_target(n))
        log.info("member cluster stopped", extra={"fields": {"cluster": name}})
        return owned

    def _forget_target(self, name: str) -> None:
        self._desired.drop(name)
        self._shared_status.pop(name, None)
        self.summaries.put(Keys.STATUS + name, None)

    def _source_settings(self, record: ClusterRecord):
        from federation.sources.settings import SourceSettings

        return SourceSettings(export_mode=self.settings.export_mode,
                              watch_timeout=self.settings.watch_timeout,
                              network=record.network, region=record.region)

    def _on_changes(self, cluster: str, changes: ChangeSet) -> None:
        member = self._members.get(cluster)
        if member is not None:
            for change in changes.changes:
                if isinstance(change, ServiceChange):
                    if change.service is None:
                        member.present.pop(change.key, None)
                    else:
                        member.present[change.key] = change.service
        self.registry.submit(changes)

    def _on_state(self, cluster: str, state: str) -> None:
        member = self._members.get(cluster)
        if member is None:
            return
        first_sync = state == "synced" and not member.ever_synced
        member.ever_synced = member.ever_synced or state == "synced"
        member.state = state
        if state == "synced":
            member.down_since = None
            if member.expired:  # bring back what was dropped while it was away
                member.expired = False
                self.registry.submit(ChangeSet(tuple(
                    ServiceChange(cluster, key, svc) for key, svc in member.present.items())))
        elif member.down_since is None:
            member.down_since = time.monotonic()
        log.info("member cluster state", extra={"fields": {"cluster": cluster, "state": state}})
        if state == "synced":
            # The watcher's full state is authoritative: drop last-known services
            # it no longer has (they were deleted while we were not watching).
            present = set(member.present)
            self.registry.request(lambda snap: _removed_since(snap, cluster, present))
        if first_sync:
            self.registry.request(full=True)

    def _housekeep(self) -> None:
        rounds = 0
        while not self._stop.wait(0.2):
            if not self._complete:
                self._gate_initial_sync()
            self._expire_stale()
            rounds += 1
            if rounds % 5 == 0:  # about every second
                try:
                    self.removals.retry_due(self.membership.owns, self._stop.is_set)
                except errors.FederationError as exc:
                    log.warning("removal retry failed", extra={"fields": {"error": str(exc)}})

    def _gate_initial_sync(self) -> None:
        """Pruning waits for every member's first sync, or the initial sync timeout."""
        with self._lock:
            states = [m.state for m in self._members.values()]
        waited = time.monotonic() - self._started_at
        if all(s not in ("syncing", "unreachable") for s in states) or waited >= self.settings.initial_sync_timeout:
            self._complete = True
            log.info("initial sync complete", extra={"fields": {
                "clusters": len(states), "seconds": round(waited, 2)}})
            self.registry.request(full=True)

    def _expire_stale(self) -> None:
        """A cluster away longer than stale_ttl loses its last-known endpoints."""
        now = time.monotonic()
        for name, member in self.members().items():
            since = member.down_since
            if member.expired or since is None or now - since < self.settings.stale_ttl:
                continue
            member.expired = True
            log.warning("cluster away too long: dropping its last-known endpoints", extra={"fields": {
                "cluster": name, "seconds": round(now - since, 1)}})
            self.registry.request(lambda snap, n=name: _removed_since(snap, n, set()))

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
            self._start_member(record)
        for name in set(self._members) - names:
            self._stop_member(name)
        self._load_policies()
        self.registry.request(full=True)
        return revision

    def _on_store_event(self, event) -> None:
        if event.key.startswith(Keys.CLUSTERS):
            name = event.key[len(Keys.CLUSTERS):]
            if event.type == "DELETE":
                self._stop_member(name)
            else:
                record = load_cluster_record(event.value, self.kek)
                current = self._members.get(name)
                if current is not None and current.record != record:
                    self._stop_member(name)
                self._start_member(record)
        elif event.key.startswith(Keys.POLICIES + "FailoverPolicy/"):
            self._load_policies()
            self.registry.request(full=True)
        elif event.key.startswith(Keys.POLICIES):
            kind = event.key[len(Keys.POLICIES):].split("/", 1)[0]
            watcher = self._resource_watchers.get(kind)
            if watcher is not None:
                watcher(event)

    def _load_policies(self) -> None:
        items, _ = self.store.range(Keys.POLICIES + "FailoverPolicy/")
        policies = {}
        for kv in items:
            try:
                policies[kv.key] = parse_policy(json.loads(kv.value))
            except (errors.ValidationError, ValueError) as exc:
                log.error("stored policy invalid; ignored", extra={"fields": {
                    "key": kv.key, "error": str(exc)}})
        self._policies = policies

    @property
    def policies(self) -> list[FailoverPolicy]:
        return list(self._policies.values())

    # -- render and push (registry thread) -----------------------------------
    def _publish(self, snapshot: Snapshot, delta: Delta, observed: float, full: bool) -> None:
        with self.telemetry.tracer.start_as_current_span("reconcile") as span:
            span.set_attribute("snapshot.version", snapshot.version)
            span.set_attribute("delta.services", len(delta.services))
            self.summaries.record(snapshot, delta)
            with self._lock:
                members = dict(self._members)
            affected = set(delta.services)
            if delta.clusters:
                affected.update(k for k, per in snapshot.services.items()
                                if not delta.clusters.isdisjoint(per))
            policies = self.policies
            for target, member in members.items():
                if member.pusher is None:
                    continue  # another replica pushes into this cluster
                with self.telemetry.tracer.start_as_current_span("render", attributes={"cluster": target}):
                    self._render_target(snapshot, policies, target, member,
                                        affected, delta, observed, full)

    def _render_target(self, snapshot, policies, target, member, affected, delta, observed, full):
        whole = full or not member.rendered  # else only what the delta touched
        if whole:
            keys = sorted(set(snapshot.service_keys()) | set(self._desired_keys(target)))
        else:
            keys = sorted(affected)
        changes: dict = {}
        for key in keys:
            objs = render_service(snapshot, key, policies, target, self.settings.domain)
            changes.update(self._desired.set_bucket(target, key, objs))
        # Namespaces the hub creates for stub Services: redone for the namespaces of
        # what changed, and all of them when the target's own namespaces changed.
        namespaces = {key.namespace for key in keys}
        if target in delta.clusters:
            namespaces.update(key.namespace for key in snapshot.service_keys())
            namespaces.update(b[1] for b in self._desired.buckets(target) if isinstance(b, tuple))
        for namespace in sorted(namespaces):
            changes.update(self._desired.set_bucket(
                target, (NAMESPACE_BUCKET, namespace),
                render_namespaces(snapshot, namespace, target, self.settings.domain)))
        if whole or delta.clusters:
            changes.update(self._desired.set_bucket(target, CLUSTER_BUCKET,
                                                    self._cluster_objects(snapshot, target)))
        member.rendered = True
        ready = self._complete and member.state not in ("syncing", "unreachable")
        if ready and not member.full_pushed:
            member.pusher.replace_all(self._desired.all(target), observed or None)
            member.full_pushed = True
        elif changes:
            member.pusher.update(changes, observed or None)

    def _desired_keys(self, target: str) -> list:
        return [b for b in self._desired.buckets(target) if isinstance(b, ServiceKey)]

    def _cluster_objects(self, snapshot: Snapshot, target: str) -> list[dict]:
        objs = list(render_gateways(snapshot, target, self.settings.domain))
        for extra in self._extra_cluster_objects:
            objs.extend(extra(target))
        return objs

    def extra_cluster_objects(self, target: str) -> list[dict]:
        return [obj for extra in self._extra_cluster_objects for obj in extra(target)]

    def resource_kinds(self) -> dict:
        """Hub resource kinds accepted by ``federation apply``: kind -> parser."""
        return dict(self._resource_kinds)

    def add_resource_kind(self, kind: str, parse, on_change=None) -> None:
        self._resource_kinds[kind] = _Kind(parse)
        if on_change is not None:
            self._resource_watchers[kind] = on_change

    def remove_member_now(self, name: str) -> list[str]:
        """Stop a member at once (its record is already moved out of ``clusters/``);
        returns the objects its pusher knew it owned, if it ran here."""
        return self._stop_member(name)

    def owned_summary(self, name: str) -> list[str]:
        """What this hub owns in a cluster, as far as it knows: the pusher's own
        view when it runs here, else the count its owner last shared."""
        member = self.members().get(name)
        if member is not None and member.pusher is not None:
            return [describe(ref) for ref in member.pusher.owned_refs()]
        shared = self.shared_status(name)
        if shared and shared.get("objects"):
            return [f"{shared['objects']} object(s) (as last reported by replica {shared.get('replica')})"]
        return []

    def _own_client(self, record: ClusterRecord, timeout: float = 5.0) -> KubeClient:
        """A client of its own for a cluster (cleanups, the pushers' watches)."""
        return KubeClient(record.name, record.kubeconfig, timeout=min(self.settings.cluster_timeout, timeout),
                          allow=self.settings.kubeconfig_options)

    def refresh_cluster_objects(self) -> None:
        """Re-render after an extension's objects changed; only differences are pushed."""
        self.registry.request(full=True)

    def add_cluster_objects(self, source) -> None:
        """Register a callable (target) -> objects rendered into every cluster (e.g. cacerts)."""
        self._extra_cluster_objects.append(source)

    def _on_applied(self, cluster: str, observed_at: float, now: float) -> None:
        self.telemetry.propagation.record(max(0.0, now - observed_at), {"cluster": cluster})

    def _on_push_status(self, status) -> None:
        """Count pushes by result and share the status with the other replicas
        (a status write is never watched, so it never triggers a render)."""
        before = self._push_counts.get(status.cluster, (0, 0, 0))
        now = (status.applies, status.deletes, status.failures)
        for result, n, m in zip(("applied", "deleted", "failed"), now, before):
            if n > m:
                self.telemetry.pushes.add(n - m, {"cluster": status.cluster, "result": result})
        self._push_counts[status.cluster] = now
        self.telemetry.observe_push(status)
        shared = push_status_record(status, self.replica_id)
        # lastPush changes on every pass: alone it is shared at most every STATUS_REFRESH seconds.
        previous = self._shared_status.get(status.cluster)
        unchanged = previous is not None and {**previous, "lastPush": None} == {**shared, "lastPush": None}
        if unchanged and (shared["lastPush"] or 0) - (previous["lastPush"] or 0) < STATUS_REFRESH:
            return
        self._shared_status[status.cluster] = shared
        self.summaries.put(Keys.STATUS + status.cluster, json.dumps(shared).encode())

    def shared_status(self, cluster: str) -> dict | None:
        """The push status of a cluster as its owner (maybe another replica) stored
        it; while the store does not answer, as last read (``"unread"`` set)."""
        try:
            kv = self.store.get(Keys.STATUS + cluster)
        except errors.StoreError as exc:
            cached = self._shared_cache.get(cluster)
            return {**cached, "unread": str(exc)} if cached else None
        value = json.loads(kv.value) if kv else None
        if value is not None:
            self._shared_cache[cluster] = value
        return value

    def owner_of(self, cluster: str) -> str | None:
        """The live replica that pushes into ``cluster``."""
        return owner(cluster, self.membership.replicas)

    # -- views for the API ----------------------------------------------------
    @property
    def snapshot(self) -> Snapshot:
        return self.registry.snapshot

    def members(self) -> dict[str, Member]:
        with self._lock:
            return dict(self._members)

    def _install_gauges(self) -> None:
        def clusters():
            counts: dict[str, int] = {}
            for m in self.members().values():
                counts[m.state] = counts.get(m.state, 0) + 1
            return [(n, {"state": s}) for s, n in counts.items()]

        def services():
            return [(len(self.snapshot.services), {})]

        def endpoints():
            totals: dict[str, int] = {}
            for per in self.snapshot.services.values():
                for cluster, svc in per.items():
                    totals[cluster] = totals.get(cluster, 0) + svc.ready
            return [(n, {"cluster": c}) for c, n in totals.items()]

        self.telemetry.gauge("federation_clusters", clusters)
        self.telemetry.gauge("federation_services", services)
        self.telemetry.gauge("federation_endpoints", endpoints)


@dataclass(frozen=True)
class _Kind:
    parse: object  # (doc) -> resource with .namespace, .name, .to_dict()


def push_status_record(status, replica: str) -> dict:
    return {"replica": replica, "synced": status.synced, "lastPush": status.last_push,
            "objects": status.objects, "errors": list(status.errors)[-3:],
            "conflicts": list(status.conflicts), "fights": list(status.fights)}


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


def _removed_since(snapshot: Snapshot, cluster: str, present: set) -> ChangeSet:
    gone = [ServiceChange(cluster, key, None) for key, per in snapshot.services.items()
            if cluster in per and key not in present]
    return ChangeSet(tuple(gone))


