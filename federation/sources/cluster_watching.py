"""Watching one member cluster and turning what it shows into change sets.

A ``ClusterWatcher`` runs one reflector per kind it reads (Namespace, Node,
Service, EndpointSlice, Pod, DestinationRule, and ServiceExport in
``service-export`` mode), keeps small indexes of what matters, and recomputes only
what an event can affect: an EndpointSlice its service, a Node the services with
endpoints on it, a Namespace the services in it, a Pod the services whose
endpoints it backs (for their service account). What the hub itself wrote there
(stub Services, the namespaces it created) is never read back as the member's own.
The east-west gateway's hostnames are resolved to addresses (``resolve``),
because istiod ignores hostname entries for Kubernetes Services. It emits a ``ChangeSet`` only for ClusterServices,
ClusterInfo and user-owned DestinationRule hosts that differ from what it emitted
last. Nothing is emitted until every kind has been listed once; then the full state
goes out in one change set.

States reported through ``on_state``: ``synced`` (first full sync, or back after
being unreachable), ``unreachable`` (failing before its first sync: nothing
emitted), ``stale`` (failing after a sync: its ClusterInfo goes out with
``stale=True`` and its services are kept).
"""

from __future__ import annotations

import dataclasses
import logging
import socket
import threading
import time
from collections import Counter
from typing import Callable, Iterable

from federation.kube.client import (
    DESTINATION_RULE, ENDPOINT_SLICE, NAMESPACE, NODE, POD, SERVICE, SERVICE_EXPORT, VIRTUAL_SERVICE,
    KubeClient, ResourceType,
)
from federation.model import ChangeSet, ClusterChange, ClusterInfo, ClusterService, ServiceChange
from federation.model import UserRulesChange
from federation.model.cluster import ClusterState
from federation.model.scope import export_setting, exported, import_selector
from federation.model.ids import (
    EASTWEST_PORT, EXPORT_LABEL, MANAGED_BY, MANAGED_BY_LABEL, NETWORK_LABEL,
    SERVICE_ACCOUNT_ANNOTATION, Locality, ServiceKey,
)
from federation.sources import deriving
from federation.sources.reflecting import DELETED, Reflector, ReflectorEvent, slim_identity
from federation.sources.settings import (
    EXPORT_ALL, EXPORT_SERVICE_EXPORT, SourceSettings,
)

log = logging.getLogger(__name__)

ISTIO_NAMESPACE = "istio-system"

SYNCING, SYNCED, UNREACHABLE, STALE = ClusterState


def resolve_host(hostname: str) -> list[str]:
    """The IP addresses a gateway hostname resolves to (the system resolver)."""
    infos = socket.getaddrinfo(hostname, None, proto=socket.IPPROTO_TCP)
    return [info[4][0] for info in infos]


API_SERVER_SERVICE = ServiceKey("default", "kubernetes")


class _Pending:
    """What events since the last emission may have changed."""

    def __init__(self) -> None:
        self.services: set[ServiceKey] = set()
        self.rules = False
        self.observed_at: float | None = None

    def touch(self, observed_at: float) -> None:
        if self.observed_at is None or observed_at < self.observed_at:
            self.observed_at = observed_at


class ClusterWatcher:
    """Watches one member cluster; ``emit(ChangeSet)`` and ``on_state(state)`` are
    called from its reflector threads, one at a time and in order."""

    def __init__(
        self,
        name: str,
        kube: KubeClient,
        settings: SourceSettings | None = None,
        emit: Callable[[ChangeSet], None] | None = None,
        on_state: Callable[[ClusterState], None] | None = None,
        resolve: Callable[[str], Iterable[str]] | None = None,
    ):
        self.name = name
        self._resolve = resolve or resolve_host
        self._resolved: dict[str, tuple[str, ...]] = {}
        self.kube = kube
        self.settings = settings or SourceSettings()
        self._emit = emit or (lambda changes: None)
        self._on_state = on_state or (lambda state: None)
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self.state = SYNCING
        self.last_error = ""
        self._started = False
        # indexes of what was read
        self._namespace_labels: dict[str, dict[str, str]] = {}
        self._node_locality: dict[str, tuple[str, str, str]] = {}
        self._region_counts: Counter[str] = Counter()
        self._services: dict[ServiceKey, dict] = {}
        self._services_by_namespace: dict[str, set[ServiceKey]] = {}
        self._gateways: dict[ServiceKey, dict] = {}
        self._slices: dict[str, tuple[ServiceKey, tuple[deriving.EndpointRef, ...]]] = {}
        self._slices_by_service: dict[ServiceKey, set[str]] = {}
        self._nodes_of_service: dict[ServiceKey, frozenset[str]] = {}
        self._services_on_node: dict[str, set[ServiceKey]] = {}
        self._exports: set[ServiceKey] = set()
        self._user_rules: dict[str, str] = {}  # DestinationRule key -> host
        self._user_routes: dict[str, frozenset[str]] = {}  # VirtualService key -> hosts
        self._pod_accounts: dict[str, str] = {}  # "ns/name" -> serviceAccountName
        self._services_of_pod: dict[str, set[ServiceKey]] = {}
        # what was emitted last
        self._emitted_info: ClusterInfo | None = None
        self._emitted_services: dict[ServiceKey, ClusterService] = {}
        self._emitted_hosts: tuple[frozenset[str], frozenset[str]] | None = None  # rules', routes' hosts
        self._pending = _Pending()
        self._listed: set[str] = set()
        self._failing: set[str] = set()
        self._stale = False
        self.reflectors: dict[str, Reflector] = {}
        for rtype, handler, selector, missing_ok in self._kinds():
            self.reflectors[rtype.kind] = Reflector(
                kube, rtype,
                # Handlers keep what they derive; the caches need only what a delete found
                # by a relist is handled with (the hub's thousands of stubs among them).
                slim=deriving.slim_pod if rtype == POD else slim_identity,
                on_event=lambda event, h=handler: self._on_event(h, event),
                on_synced=lambda kind=rtype.kind: self._on_synced(kind),
                stop_event=self._stop,
                label_selector=selector,
                settings=self.settings,
                on_failure=lambda exc, n, kind=rtype.kind: self._on_failure(kind, exc, n),
                missing_ok=missing_ok,
            )

    def _kinds(self) -> list[tuple[ResourceType, Callable[[ReflectorEvent], None], str | None, bool]]:
        kinds = [
            (NAMESPACE, self._namespace_event, None, False),
            (NODE, self._node_event, None, False),
            (SERVICE, self._service_event, None, False),
            (ENDPOINT_SLICE, self._slice_event, deriving.SERVICE_NAME_LABEL, False),
            (POD, self._pod_event, None, False),
            # The hub's own rules are filtered on the server; a cluster without
            # Istio's CRDs simply has no user rules.
            (DESTINATION_RULE, self._rule_event, f"{MANAGED_BY_LABEL}!={MANAGED_BY}", True),
            (VIRTUAL_SERVICE, self._route_event, f"{MANAGED_BY_LABEL}!={MANAGED_BY}", True),
        ]
        if self.settings.export_mode == EXPORT_SERVICE_EXPORT:
            kinds.append((SERVICE_EXPORT, self._export_event, None, True))
        return kinds

    # -- lifecycle --------------------------------------------------------------
    def start(self) -> None:
        with self._lock:
            if self._started:
                return
            self._started = True
        log.info("watching cluster", extra={"fields": {
            "cluster": self.name, "server": self.kube.server, "export_mode": self.settings.export_mode}})
        for reflector in self.reflectors.values():
            reflector.start()

    def stop(self, timeout: float | None = None) -> bool:
        """Stop every reflector; True when all threads ended within ``timeout``."""
        deadline = time.monotonic() + (self.settings.stop_timeout_seconds if timeout is None else timeout)
        self._stop.set()
        for reflector in self.reflectors.values():
            reflector.interrupt()
        stopped = all([r.join(max(0.0, deadline - time.monotonic())) for r in self.reflectors.values()])
        if not stopped:
            log.warning("cluster watcher threads still running after stop", extra={"fields": {
                "cluster": self.name, "alive": [r.name for r in self.reflectors.values() if r.alive]}})
        return stopped

    @property
    def synced(self) -> bool:
        with self._lock:
            return self.state in (SYNCED, STALE)

    def set_labels(self, labels: tuple[tuple[str, str], ...]) -> None:
        """New registration labels: only the ClusterInfo goes out again (no relist)."""
        with self._lock:
            self.settings = dataclasses.replace(self.settings, labels=labels)
            self._flush()

    # -- reflector callbacks ----------------------------------------------------------
    def _on_event(self, handler: Callable[[ReflectorEvent], None], event: ReflectorEvent) -> None:
        with self._lock:
            handler(event)
            self._pending.touch(event.observed_at)
            if not event.relisted:  # a list's events are flushed together when it completes
                self._flush()

    def _on_synced(self, kind: str) -> None:
        with self._lock:
            self._listed.add(kind)
            self._failing.discard(kind)
            if self.state in (SYNCING, UNREACHABLE):
                if self._listed.issuperset(self.reflectors):
                    self._first_sync()
                return
            if self._stale and not self._failing:
                self._recover()
                return
            self._flush()

    def _on_failure(self, kind: str, exc: Exception, consecutive: int) -> None:
        with self._lock:
            self.last_error = str(exc)
            self._failing.add(kind)
            if consecutive < self.settings.unreachable_after_failures or self._stop.is_set():
                return
            if self.state == SYNCING:
                self._set_state(UNREACHABLE, exc)
            elif self.state == SYNCED:
                self._stale = True
                self._flush()  # carries the ClusterInfo with stale=True
                self._set_state(STALE, exc)

    def _set_state(self, state: str, exc: Exception | None = None) -> None:
        self.state = state
        fields = {"cluster": self.name, "state": state}
        if exc is not None:
            fields["error"] = str(exc)
        log.info("cluster watch state", extra={"fields": fields})
        try:
            self._on_state(state)
        except Exception:  # noqa: BLE001 - a consumer's bug must not stop the watch
            log.exception("state handler raised", extra={"fields": {"cluster": self.name}})

    def _first_sync(self) -> None:
        self._pending.services = set(self._services)
        self._pending.rules = True
        self._flush(initial=True)
        self._set_state(SYNCED)

    def _recover(self) -> None:
        self._stale = False
        self._pending.services |= set(self._services) | set(self._emitted_services)
        self._pending.rules = True
        self._flush()
        self._set_state(SYNCED)

    # -- emitting -------------------------------------------------------------------
    def _flush(self, initial: bool = False) -> None:
        """Emit what changed since the last emission; ``initial``: the full state."""
        if self.state in (SYNCING, UNREACHABLE) and not initial:
            return  # until the first sync only the indexes are kept; it emits everything
        pending, self._pending = self._pending, _Pending()
        changes: list = []
        info = self._info()
        if initial or info != self._emitted_info:
            changes.append(ClusterChange(self.name, info))
            self._emitted_info = info
        for key in sorted(pending.services):
            service = self._cluster_service(key)
            if service == self._emitted_services.get(key):
                if not (initial and service is not None):
                    continue
            elif service is None:
                del self._emitted_services[key]
            else:
                before = self._emitted_services.get(key)
                if (service.import_selector and import_selector(service.import_selector) is None
                        and (before is None or before.import_selector != service.import_selector)):
                    log.warning("import selector does not parse: imported nowhere", extra={"fields": {
                        "cluster": self.name, "service": str(key), "selector": service.import_selector}})
                self._emitted_services[key] = service
            changes.append(ServiceChange(self.name, key, service))
        if pending.rules:
            hosts = (frozenset(host for host in self._user_rules.values() if host),
                     frozenset().union(*self._user_routes.values()))
            if initial or hosts != self._emitted_hosts:
                changes.append(UserRulesChange(self.name, *hosts))
                self._emitted_hosts = hosts
        if not changes:
            return
        observed_at = pending.observed_at if pending.observed_at is not None else time.monotonic()
        try:
            self._emit(ChangeSet(tuple(changes), observed_at=observed_at, sources=(self.name,)))
        except Exception:  # noqa: BLE001
            log.exception("emit failed", extra={"fields": {"cluster": self.name}})

    # -- derived state ---------------------------------------------------------------
    def _region(self) -> str:
        return self.settings.region or deriving.most_common(self._region_counts)

    def _info(self) -> ClusterInfo:
        istio_labels = self._namespace_labels.get(ISTIO_NAMESPACE, {})
        network = self.settings.network or istio_labels.get(NETWORK_LABEL, "")
        addresses: set[str] = set()
        port = None
        for key in sorted(self._gateways):
            service = self._gateways[key]
            addresses.update(deriving.gateway_addresses(service))
            port = port or deriving.gateway_port(service)
        return ClusterInfo(
            name=self.name, network=network, region=self._region(),
            gateways=tuple(sorted(addresses)), gateway_port=port or EASTWEST_PORT, stale=self._stale,
            resolved=self._resolve_hostnames(addresses),
            namespaces=frozenset(self._namespace_labels),
            labels=self.settings.labels,
        )

    def _resolve_hostnames(self, addresses: set[str]) -> tuple[str, ...]:
        """IPs of the gateway's hostnames, looked up only when it publishes no IP;
        kept from the last lookup until they change."""
        out: set[str] = set()
        if any(deriving.is_ip(address) for address in addresses):
            return ()
        for address in sorted(addresses):
            if deriving.is_ip(address):
                continue
            if address not in self._resolved:
                try:
                    self._resolved[address] = tuple(sorted(set(self._resolve(address))))
                except OSError as exc:
                    log.warning("gateway hostname does not resolve", extra={"fields": {
                        "cluster": self.name, "hostname": address, "error": str(exc)}})
                    self._resolved[address] = ()
            out.update(self._resolved[address])
        return tuple(sorted(out))

    def _exported(self, key: ServiceKey, service: dict) -> bool:
        """The Service's own export label, else its namespace's, else the mode (model/scope.py)."""
        if key.namespace in self.settings.excluded_namespaces:
            return False
        if key in self._gateways:
            return False  # the east-west gateway itself is never federated
        if key == API_SERVER_SERVICE:
            return False  # every cluster's own API server: never another cluster's
        mode = self.settings.export_mode
        by_mode = mode == EXPORT_ALL or (mode == EXPORT_SERVICE_EXPORT and key in self._exports)
        return exported(export_setting(deriving.labels_of(service).get(EXPORT_LABEL)),
                        export_setting(self._namespace_labels.get(key.namespace, {}).get(EXPORT_LABEL)),
                        by_mode)

    def _cluster_service(self, key: ServiceKey) -> ClusterService | None:
        service = self._services.get(key)
        if service is None or not self._exported(key, service):
            return None
        spec = service.get("spec") or {}
        if spec.get("type") == "ExternalName":
            return None
        counts: Counter[Locality] = Counter()
        accounts: Counter[str] = Counter()
        seen: set[str] = set()
        region = self._region()
        for slice_key in self._slices_by_service.get(key, ()):
            for endpoint in self._slices[slice_key][1]:
                if not endpoint.ready or endpoint.identity in seen:
                    continue
                seen.add(endpoint.identity)
                account = self._pod_accounts.get(endpoint.pod, "")
                if account:
                    accounts[account] += 1
                node_region, node_zone, node_subzone = self._node_locality.get(endpoint.node, ("", "", ""))
                counts[Locality(node_region or region, node_zone or endpoint.zone, node_subzone)] += 1
        annotations = (service.get("metadata") or {}).get("annotations") or {}
        return ClusterService(
            cluster=self.name,
            key=key,
            ports=deriving.ports_of(service),
            selector=deriving.sorted_pairs(spec.get("selector")),
            labels=deriving.sorted_pairs(deriving.labels_of(service)),
            service_account=str(annotations.get(SERVICE_ACCOUNT_ANNOTATION, ""))
            or deriving.most_common(dict(accounts)),
            endpoints=tuple(sorted(counts.items())),
            headless=deriving.is_headless(service),
            import_selector=deriving.import_selector_of(service),
        )

    # -- per-kind index updates (under the lock) ------------------------------------
    def _namespace_event(self, event: ReflectorEvent) -> None:
        name = (event.obj.get("metadata") or {}).get("name", "")
        labels = {} if event.type == DELETED else deriving.labels_of(event.obj)
        if self._namespace_labels.get(name) == labels and event.type != DELETED:
            return
        if event.type == DELETED or deriving.is_hub_owned(event.obj):
            self._namespace_labels.pop(name, None)
        else:
            self._namespace_labels[name] = labels
        self._pending.services |= self._services_by_namespace.get(name, set())

    def _node_event(self, event: ReflectorEvent) -> None:
        name = (event.obj.get("metadata") or {}).get("name", "")
        old = self._node_locality.get(name)
        new = None if event.type == DELETED else deriving.node_locality(event.obj)
        if old == new:
            return
        region_before = self._region()
        if old is not None:
            self._region_counts[old[0]] -= 1
            self._node_locality.pop(name)
        if new is not None:
            self._region_counts[new[0]] += 1
            self._node_locality[name] = new
        if self._region() != region_before:
            self._pending.services |= set(self._services)  # fallback localities move
        else:
            self._pending.services |= self._services_on_node.get(name, set())

    def _service_event(self, event: ReflectorEvent) -> None:
        meta = event.obj.get("metadata") or {}
        key = ServiceKey(meta.get("namespace", ""), meta.get("name", ""))
        self._pending.services.add(key)
        stub = deriving.is_hub_owned(event.obj) and not deriving.taken_over(event.obj)
        if event.type == DELETED or stub:
            self._services.pop(key, None)
            self._gateways.pop(key, None)
            members = self._services_by_namespace.get(key.namespace)
            if members is not None:
                members.discard(key)
                if not members:
                    del self._services_by_namespace[key.namespace]
            return
        self._services[key] = kept = deriving.without_managed_fields(event.obj)
        self._services_by_namespace.setdefault(key.namespace, set()).add(key)
        if deriving.is_eastwest_gateway(kept):
            self._gateways[key] = kept
        else:
            self._gateways.pop(key, None)

    def _slice_event(self, event: ReflectorEvent) -> None:
        meta = event.obj.get("metadata") or {}
        namespace = meta.get("namespace", "")
        slice_key = f"{namespace}/{meta.get('name', '')}"
        old = self._slices.pop(slice_key, None)
        if old is not None:
            self._slices_by_service.get(old[0], set()).discard(slice_key)
            self._index_pods(old[0], old[1], add=False)
            self._reindex_nodes(old[0])
            self._pending.services.add(old[0])
        if event.type == DELETED:
            return
        service_name = deriving.slice_service_name(event.obj)
        if not service_name:
            return
        key = ServiceKey(namespace, service_name)
        self._slices[slice_key] = (key, deriving.slice_endpoints(event.obj))
        self._index_pods(key, self._slices[slice_key][1], add=True)
        self._slices_by_service.setdefault(key, set()).add(slice_key)
        self._reindex_nodes(key)
        self._pending.services.add(key)

    def _pod_event(self, event: ReflectorEvent) -> None:
        meta = event.obj.get("metadata") or {}
        pod = f"{meta.get('namespace', '')}/{meta.get('name', '')}"
        account = "" if event.type == DELETED else deriving.pod_service_account(event.obj)
        if self._pod_accounts.get(pod, "") == account:
            return
        if account:
            self._pod_accounts[pod] = account
        else:
            self._pod_accounts.pop(pod, None)
        self._pending.services |= self._services_of_pod.get(pod, set())

    def _index_pods(self, key: ServiceKey, refs, add: bool) -> None:
        for ref in refs:
            if not ref.pod:
                continue
            if add:
                self._services_of_pod.setdefault(ref.pod, set()).add(key)
                continue
            users = self._services_of_pod.get(ref.pod)
            if users is not None:
                users.discard(key)
                if not users:
                    del self._services_of_pod[ref.pod]

    def _reindex_nodes(self, key: ServiceKey) -> None:
        slice_keys = self._slices_by_service.get(key, set())
        nodes = frozenset(e.node for s in slice_keys for e in self._slices[s][1] if e.node)
        old = self._nodes_of_service.get(key, frozenset())
        for node in old - nodes:
            users = self._services_on_node.get(node)
            if users is not None:
                users.discard(key)
                if not users:
                    del self._services_on_node[node]
        for node in nodes - old:
            self._services_on_node.setdefault(node, set()).add(key)
        if nodes:
            self._nodes_of_service[key] = nodes
        else:
            self._nodes_of_service.pop(key, None)
        if not slice_keys:
            self._slices_by_service.pop(key, None)

    def _export_event(self, event: ReflectorEvent) -> None:
        meta = event.obj.get("metadata") or {}
        key = ServiceKey(meta.get("namespace", ""), meta.get("name", ""))
        if event.type == DELETED:
            self._exports.discard(key)
        else:
            self._exports.add(key)
        self._pending.services.add(key)

    def _rule_event(self, event: ReflectorEvent) -> None:
        self._user_object(self._user_rules, event, deriving.destination_rule_host)

    def _route_event(self, event: ReflectorEvent) -> None:
        self._user_object(self._user_routes, event, deriving.virtual_service_hosts)

    def _user_object(self, table: dict, event: ReflectorEvent, hosts_of) -> None:
        """A user-owned DestinationRule's or VirtualService's host(s), by object."""
        meta = event.obj.get("metadata") or {}
        key = f"{meta.get('namespace', '')}/{meta.get('name', '')}"
        if event.type == DELETED or not deriving.is_user_owned(event.obj):
            table.pop(key, None)
        else:
            table[key] = hosts_of(event.obj, self.settings.domain)
        self._pending.rules = True
