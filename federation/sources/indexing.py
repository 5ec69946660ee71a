"""What one member cluster's objects say, kept as small indexes and derived from.

A ``ClusterIndex`` is fed the watch events of one cluster, one kind per handler,
and keeps only what the hub derives from them: namespace labels, node localities,
Services (without managedFields), the endpoints of each EndpointSlice, pods'
service accounts, ServiceExports and the hosts of user-owned DestinationRules and
VirtualServices. Each handler notes in ``pending`` which services an event can
affect (an EndpointSlice its service, a Node the services with endpoints on it,
a Namespace the services in it, a Pod the services whose endpoints it backs), so
only those are derived again. What the hub itself wrote there (stub Services, the
namespaces it created) is never read as the member's own.

No threads and no I/O but ``resolve`` (an east-west gateway's hostnames, looked up
because istiod ignores hostname entries for Kubernetes Services): the watcher
calls it under its lock.
"""

from __future__ import annotations

import logging
import socket
from collections import Counter
from typing import Callable, Iterable

from federation.model import ClusterInfo, ClusterService
from federation.model.ids import (
    EASTWEST_PORT, EXPORT_LABEL, NETWORK_LABEL, SERVICE_ACCOUNT_ANNOTATION, Locality, ServiceKey,
)
from federation.model.scope import export_setting, exported
from federation.sources import deriving
from federation.sources.reflecting import DELETED, ReflectorEvent
from federation.sources.settings import EXPORT_ALL, EXPORT_SERVICE_EXPORT, SourceSettings

log = logging.getLogger(__name__)

ISTIO_NAMESPACE = "istio-system"
API_SERVER_SERVICE = ServiceKey("default", "kubernetes")


def resolve_host(hostname: str) -> list[str]:
    """The IP addresses a gateway hostname resolves to (the system resolver)."""
    infos = socket.getaddrinfo(hostname, None, proto=socket.IPPROTO_TCP)
    return [info[4][0] for info in infos]


class Pending:
    """What events since the last emission may have changed."""

    def __init__(self) -> None:
        self.services: set[ServiceKey] = set()
        self.rules = False
        self.observed_at: float | None = None

    def touch(self, observed_at: float) -> None:
        if self.observed_at is None or observed_at < self.observed_at:
            self.observed_at = observed_at


class ClusterIndex:
    """The indexes of one cluster's objects and what is derived from them."""

    def __init__(self, name: str, settings: SourceSettings,
                 resolve: Callable[[str], Iterable[str]] | None = None):
        self.name = name
        self.settings = settings  # the watcher's: replaced when registration labels change
        self._resolve = resolve or resolve_host
        self._resolved: dict[str, tuple[str, ...]] = {}
        self.pending = Pending()
        self.services: dict[ServiceKey, dict] = {}
        self._namespace_labels: dict[str, dict[str, str]] = {}
        self._node_locality: dict[str, tuple[str, str, str]] = {}
        self._region_counts: Counter[str] = Counter()
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

    def mark_all(self, also: Iterable[ServiceKey] = ()) -> None:
        """Everything to be derived again: every service kept (and ``also``), and the user hosts."""
        self.pending.services |= set(self.services) | set(also)
        self.pending.rules = True

    def take_pending(self) -> Pending:
        """What changed since the last call, and a fresh record for what comes next."""
        pending, self.pending = self.pending, Pending()
        return pending

    def user_hosts(self) -> tuple[frozenset[str], frozenset[str]]:
        """The hosts of user-owned DestinationRules and of user-owned VirtualServices."""
        return (frozenset(host for host in self._user_rules.values() if host),
                frozenset().union(*self._user_routes.values()))

    # -- derived state ---------------------------------------------------------------
    def _region(self) -> str:
        return self.settings.region or deriving.most_common(self._region_counts)

    def info(self, stale: bool) -> ClusterInfo:
        """The cluster as the hub sees it: network, region, east-west gateway, namespaces."""
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
            gateways=tuple(sorted(addresses)), gateway_port=port or EASTWEST_PORT, stale=stale,
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

    def cluster_service(self, key: ServiceKey) -> ClusterService | None:
        service = self.services.get(key)
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

    # -- per-kind updates -------------------------------------------------------------
    def namespace_event(self, event: ReflectorEvent) -> None:
        name = (event.obj.get("metadata") or {}).get("name", "")
        labels = {} if event.type == DELETED else deriving.labels_of(event.obj)
        if self._namespace_labels.get(name) == labels and event.type != DELETED:
            return
        if event.type == DELETED or deriving.is_hub_owned(event.obj):
            self._namespace_labels.pop(name, None)
        else:
            self._namespace_labels[name] = labels
        self.pending.services |= self._services_by_namespace.get(name, set())

    def node_event(self, event: ReflectorEvent) -> None:
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
            self.pending.services |= set(self.services)  # fallback localities move
        else:
            self.pending.services |= self._services_on_node.get(name, set())

    def service_event(self, event: ReflectorEvent) -> None:
        meta = event.obj.get("metadata") or {}
        key = ServiceKey(meta.get("namespace", ""), meta.get("name", ""))
        self.pending.services.add(key)
        stub = deriving.is_hub_owned(event.obj) and not deriving.taken_over(event.obj)
        if event.type == DELETED or stub:
            self.services.pop(key, None)
            self._gateways.pop(key, None)
            members = self._services_by_namespace.get(key.namespace)
            if members is not None:
                members.discard(key)
                if not members:
                    del self._services_by_namespace[key.namespace]
            return
        self.services[key] = kept = deriving.without_managed_fields(event.obj)
        self._services_by_namespace.setdefault(key.namespace, set()).add(key)
        if deriving.is_eastwest_gateway(kept):
            self._gateways[key] = kept
        else:
            self._gateways.pop(key, None)

    def slice_event(self, event: ReflectorEvent) -> None:
        meta = event.obj.get("metadata") or {}
        namespace = meta.get("namespace", "")
        slice_key = f"{namespace}/{meta.get('name', '')}"
        old = self._slices.pop(slice_key, None)
        if old is not None:
            self._slices_by_service.get(old[0], set()).discard(slice_key)
            self._index_pods(old[0], old[1], add=False)
            self._reindex_nodes(old[0])
            self.pending.services.add(old[0])
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
        self.pending.services.add(key)

    def pod_event(self, event: ReflectorEvent) -> None:
        meta = event.obj.get("metadata") or {}
        pod = f"{meta.get('namespace', '')}/{meta.get('name', '')}"
        account = "" if event.type == DELETED else deriving.pod_service_account(event.obj)
        if self._pod_accounts.get(pod, "") == account:
            return
        if account:
            self._pod_accounts[pod] = account
        else:
            self._pod_accounts.pop(pod, None)
        self.pending.services |= self._services_of_pod.get(pod, set())

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

    def export_event(self, event: ReflectorEvent) -> None:
        meta = event.obj.get("metadata") or {}
        key = ServiceKey(meta.get("namespace", ""), meta.get("name", ""))
        if event.type == DELETED:
            self._exports.discard(key)
        else:
            self._exports.add(key)
        self.pending.services.add(key)

    def rule_event(self, event: ReflectorEvent) -> None:
        self._user_object(self._user_rules, event, deriving.destination_rule_host)

    def route_event(self, event: ReflectorEvent) -> None:
        self._user_object(self._user_routes, event, deriving.virtual_service_hosts)

    def _user_object(self, table: dict, event: ReflectorEvent, hosts_of) -> None:
        """A user-owned DestinationRule's or VirtualService's host(s), by object."""
        meta = event.obj.get("metadata") or {}
        key = f"{meta.get('namespace', '')}/{meta.get('name', '')}"
        if event.type == DELETED or not deriving.is_user_owned(event.obj):
            table.pop(key, None)
        else:
            table[key] = hosts_of(event.obj, self.settings.domain)
        self.pending.rules = True
