"""Immutable, versioned snapshots of the federation and the deltas between them.

A new snapshot is the previous one plus a change set; unchanged parts are shared,
so applying a change costs O(change), not O(mesh).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Mapping

from federation.model.changes import (
    ChangeSet, ClusterChange, GatewayChange, ServiceChange, UserRulesChange, VMChange,
)
from federation.model.cluster import ClusterInfo
from federation.model.ids import ServiceKey, host_matches
from federation.model.service import ClusterService, VMWorkload

_EMPTY: Mapping = MappingProxyType({})


@dataclass(frozen=True)
class Delta:
    """What a change set changed: renderers redo only these."""

    services: frozenset[ServiceKey] = frozenset()
    clusters: frozenset[str] = frozenset()  # clusters whose info changed, appeared or left

    def __bool__(self) -> bool:
        return bool(self.services or self.clusters)


@dataclass(frozen=True)
class Snapshot:
    version: int = 0
    clusters: Mapping[str, ClusterInfo] = field(default_factory=lambda: _EMPTY)
    services: Mapping[ServiceKey, Mapping[str, ClusterService]] = field(default_factory=lambda: _EMPTY)
    vms: Mapping[ServiceKey, Mapping[str, VMWorkload]] = field(default_factory=lambda: _EMPTY)
    # cluster -> hosts with a user-owned DestinationRule there (reported, never overwritten)
    user_rules: Mapping[str, frozenset[str]] = field(default_factory=lambda: _EMPTY)
    # cluster -> hosts with a user-owned VirtualService there (a TrafficSplit's routes yield)
    user_routes: Mapping[str, frozenset[str]] = field(default_factory=lambda: _EMPTY)

    def service_keys(self) -> list[ServiceKey]:
        return sorted(set(self.services) | set(self.vms))

    def apply(self, changes: ChangeSet) -> tuple["Snapshot", Delta]:
        """Return the next snapshot and the delta; the same snapshot if nothing changed."""
        clusters = dict(self.clusters)
        services: dict[ServiceKey, Mapping[str, ClusterService]] = dict(self.services)
        vms: dict[ServiceKey, Mapping[str, VMWorkload]] = dict(self.vms)
        user_rules = dict(self.user_rules)
        user_routes = dict(self.user_routes)
        # VM name -> group; built only when a change set carries VM changes.
        vm_index = ({name: key for key, per in self.vms.items() for name in per}
                    if any(isinstance(c, VMChange) for c in changes.changes) else {})
        changed_services: set[ServiceKey] = set()
        changed_clusters: set[str] = set()
        for change in changes.changes:
            if isinstance(change, ClusterChange):
                info, current = change.info, clusters.get(change.cluster)
                if info is not None and current is not None:
                    # The prober's to say, not the watcher's: kept across its updates.
                    info = replace(info, gateway_reachable=current.gateway_reachable)
                if current == info:
                    continue
                changed_clusters.add(change.cluster)
                if info is None:
                    clusters.pop(change.cluster, None)
                    user_rules.pop(change.cluster, None)
                    user_routes.pop(change.cluster, None)
                    for key, per in list(services.items()):
                        if change.cluster in per:
                            _set(services, key, change.cluster, None)
                            changed_services.add(key)
                else:
                    clusters[change.cluster] = info
            elif isinstance(change, GatewayChange):
                current = clusters.get(change.cluster)
                if current is None or current.gateway_reachable == change.reachable:
                    continue
                clusters[change.cluster] = replace(current, gateway_reachable=change.reachable)
                changed_clusters.add(change.cluster)
            elif isinstance(change, ServiceChange):
                current = services.get(change.key, _EMPTY).get(change.cluster)
                if current == change.service:
                    continue
                _set(services, change.key, change.cluster, change.service)
                changed_services.add(change.key)
            elif isinstance(change, UserRulesChange):
                for table, hosts in ((user_rules, change.hosts), (user_routes, change.routes)):
                    before = table.get(change.cluster, frozenset())
                    if before == hosts:
                        continue
                    if hosts:
                        table[change.cluster] = hosts
                    else:
                        table.pop(change.cluster, None)
                    # A wildcard host covers every service whose host it matches.
                    for pattern in before ^ hosts:
                        changed_services.update(k for k in set(services) | set(vms)
                                                if host_matches(pattern, k.host()))
            elif isinstance(change, VMChange):
                old_key = vm_index.get(change.name)
                if old_key is not None:
                    if vms[old_key].get(change.name) == change.workload:
                        continue
                    _set(vms, old_key, change.name, None)
                    changed_services.add(old_key)
                    vm_index.pop(change.name)
                if change.workload is not None:
                    _set(vms, change.workload.key, change.name, change.workload)
                    vm_index[change.name] = change.workload.key
                    changed_services.add(change.workload.key)
        delta = Delta(frozenset(changed_services), frozenset(changed_clusters))
        if not delta:
            return self, delta
        return (
            Snapshot(
                version=self.version + 1,
                clusters=MappingProxyType(clusters),
                services=MappingProxyType(services),
                vms=MappingProxyType(vms),
                user_rules=MappingProxyType(user_rules), user_routes=MappingProxyType(user_routes),
            ),
            delta,
        )


def _set(table: dict, key, member: str, value) -> None:
    """Copy-on-write update of ``table[key][member]``; drops empty entries."""
    per = dict(table.get(key, _EMPTY))
    if value is None:
        per.pop(member, None)
    else:
        per[member] = value
    if per:
        table[key] = MappingProxyType(per)
    else:
        table.pop(key, None)
