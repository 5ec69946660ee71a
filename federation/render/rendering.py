"""Rendering a target cluster's federation objects from a snapshot and the policies.

Everything here is a pure function of its arguments, and output order is fixed
(gateways, then per service: ServiceEntry, WorkloadEntries by name,
DestinationRule), so equal inputs give byte-equal objects and stable hashes.
A target the snapshot does not know gets nothing.
"""

from __future__ import annotations

from typing import Iterable

from federation.model.ids import ServiceKey
from federation.model.policy import FailoverPolicy, select_policy
from federation.model.snapshot import Snapshot
from federation.render.destination_rules import destination_rule
from federation.render.gateways import cross_network_gateway, remote_network_gateways
from federation.render.service_entries import service_entry
from federation.render.view import build_view
from federation.render.workload_entries import workload_entries


def render_service(snapshot: Snapshot, key: ServiceKey, policies: Iterable[FailoverPolicy],
                   target: str, domain: str = "cluster.local") -> list[dict]:
    """The objects of one service in ``target``: nothing unless it has endpoints
    elsewhere (ready ones in a reachable remote cluster, or VMs)."""
    view = build_view(snapshot, key, target, domain)
    if view is None or not view.federated:
        return []
    out = []
    entry = service_entry(view)
    if entry is not None:
        out.append(entry)
    out += workload_entries(view)
    if view.host not in snapshot.user_rules.get(target, frozenset()):
        policy = select_policy(policies, key, view.label_sets)
        out.append(destination_rule(view, policy))
    return out


def render_gateways(snapshot: Snapshot, target: str) -> list[dict]:
    """The local cross-network Gateway and one istio-remote Gateway per other network."""
    info = snapshot.clusters.get(target)
    if info is None:
        return []
    return [cross_network_gateway(info)] + remote_network_gateways(snapshot, info)


def render_cluster(snapshot: Snapshot, policies: Iterable[FailoverPolicy], target: str,
                   domain: str = "cluster.local") -> list[dict]:
    """Everything the hub writes into ``target`` from the snapshot (gateways + every service)."""
    policies = list(policies)
    out = render_gateways(snapshot, target)
    for key in snapshot.service_keys():
        out += render_service(snapshot, key, policies, target, domain)
    return out


def conflicts(snapshot: Snapshot, target: str, domain: str = "cluster.local") -> list[str]:
    """Federated hosts of ``target`` left without our DestinationRule because a
    user-owned one exists there, as messages for people."""
    user_hosts = snapshot.user_rules.get(target, frozenset())
    if not user_hosts:
        return []
    out = []
    for key in snapshot.service_keys():
        if key.host(domain) not in user_hosts:
            continue
        view = build_view(snapshot, key, target, domain)
        if view is not None and view.federated:
            out.append(f"{view.host}: a DestinationRule not managed by mesh-federation exists in "
                       f"cluster {target}; locality failover and outlier detection were not applied")
    return out
