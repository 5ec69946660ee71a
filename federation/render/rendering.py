"""Rendering a target cluster's federation objects from a snapshot and the policies.

Everything here is a pure function of its arguments, and output order is fixed
(gateway, MeshPolicy objects, then per service: Namespace, stub Service,
WorkloadEntries by name, DestinationRule), so equal inputs give byte-equal
objects and stable hashes.
A target the snapshot does not know gets nothing.

``render_target`` is the one per-target entry point: the hub's pipeline renders
the parts a change touched through it (``Scope``), every target of one snapshot
sharing the services' objects they have in common (``render.sharing``);
``federation render`` and ``render_cluster`` take everything.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Iterable

from federation.model.ids import ServiceKey
from federation.model.policies import PolicySet
from federation.model.policy import FailoverPolicy
from federation.model.traffic_split import shadowed_splits, winning_split
from federation.model.snapshot import Snapshot
from federation.render.destination_rules import shadowing_rules
from federation.render.gateways import cross_network_gateway
from federation.render.mesh_policies import render_mesh_policies
from federation.render.service_stubs import hub_namespace
from federation.render.sharing import SharedRendering
from federation.render.view import build_view


def render_service(snapshot: Snapshot, key: ServiceKey,
                   policies: PolicySet | Iterable[FailoverPolicy], target: str,
                   domain: str = "cluster.local") -> list[dict]:
    """The objects of one service in ``target``: nothing unless it has endpoints
    elsewhere (ready ones behind a remote gateway, or VMs) that the target can use."""
    return SharedRendering(snapshot, policies, domain).service(key, target)


def render_namespaces(snapshot: Snapshot, namespace: str, target: str,
                      domain: str = "cluster.local") -> list[dict]:
    """The Namespace the hub creates in ``target`` for its stub Services, when the
    target lacks ``namespace`` and some service of it gets a stub there. It is also
    kept while the target runs Services of its own in it: deleting a namespace
    deletes everything in it."""
    info = snapshot.clusters.get(target)
    if info is None or namespace in info.namespaces:
        return []
    for key in snapshot.service_keys():
        if key.namespace != namespace:
            continue
        if target in snapshot.services.get(key, {}):
            return [hub_namespace(namespace)]
        view = build_view(snapshot, key, target, domain)
        if view is not None and view.needs_stub:
            return [hub_namespace(namespace)]
    return []


def render_gateways(snapshot: Snapshot, target: str, domain: str = "cluster.local") -> list[dict]:
    """The local cross-network Gateway."""
    info = snapshot.clusters.get(target)
    if info is None:
        return []
    return [cross_network_gateway(info, domain)]


def render_cluster_wide(snapshot: Snapshot, policies: PolicySet, target: str,
                        domain: str = "cluster.local") -> list[dict]:
    """The cluster-wide objects: the gateway, then what the MeshPolicies selecting the target carry."""
    info = snapshot.clusters.get(target)
    if info is None:
        return []
    return render_gateways(snapshot, target, domain) + render_mesh_policies(policies.mesh, info)


@dataclass(frozen=True)
class Scope:
    """Which of a target's objects to render. ``services`` None: every service of
    the snapshot; ``namespaces`` None: the namespaces of those services;
    ``cluster``: the cluster-wide objects (gateway, MeshPolicy objects)."""

    services: tuple[ServiceKey, ...] | None = None
    namespaces: tuple[str, ...] | None = None
    cluster: bool = True


EVERYTHING = Scope()


@dataclass(frozen=True)
class Rendered:
    """A target's objects as rendered, by part: the cluster-wide ones (None: not
    in scope), each namespace's, each service's (an empty list: none wanted now).
    A service's objects may be shared with other targets (``render.sharing``):
    read them, do not change them."""

    cluster: tuple[dict, ...] | None = None
    namespaces: tuple[tuple[str, list[dict]], ...] = ()
    services: tuple[tuple[ServiceKey, list[dict]], ...] = ()

    def with_cluster_objects(self, objects: Iterable[dict]) -> "Rendered":
        """The same, with ``objects`` after the cluster-wide ones (when in scope)."""
        if self.cluster is None:
            return self
        return replace(self, cluster=self.cluster + tuple(objects))

    def objects(self) -> list[dict]:
        """Everything, in the fixed order: cluster-wide, namespaces, services."""
        out = list(self.cluster or ())
        for _, objs in self.namespaces:
            out += objs
        for _, objs in self.services:
            out += objs
        return out


def render_target(snapshot: Snapshot, policies: PolicySet | Iterable[FailoverPolicy], target: str,
                  domain: str = "cluster.local", scope: Scope = EVERYTHING,
                  shared: SharedRendering | None = None) -> Rendered:
    """The one per-target assembly: the parts of what the hub writes into ``target``
    that ``scope`` names (by default everything the snapshot holds). ``shared``,
    made for the same snapshot, policies and domain, shares the services' objects
    with the other targets rendered through it (``render.sharing``)."""
    policies = PolicySet.of(policies)
    if shared is None:
        shared = SharedRendering(snapshot, policies, domain)
    keys = tuple(snapshot.service_keys()) if scope.services is None else scope.services
    namespaces = (tuple(sorted({key.namespace for key in keys})) if scope.namespaces is None
                  else scope.namespaces)
    return Rendered(
        cluster=tuple(render_cluster_wide(snapshot, policies, target, domain)) if scope.cluster else None,
        namespaces=tuple((ns, render_namespaces(snapshot, ns, target, domain)) for ns in namespaces),
        services=tuple((key, shared.service(key, target)) for key in keys))


def render_cluster(snapshot: Snapshot, policies: PolicySet | Iterable[FailoverPolicy], target: str,
                   domain: str = "cluster.local") -> list[dict]:
    """Everything the hub renders into ``target`` from the snapshot (gateway, the
    namespaces it creates, every service), as one list: ``render_target`` flattened."""
    return render_target(snapshot, policies, target, domain).objects()


def conflicts(snapshot: Snapshot, target: str, domain: str = "cluster.local",
              policies: PolicySet | Iterable[FailoverPolicy] = ()) -> list[str]:
    """What the hub could not do in ``target``, as messages for people: hosts left
    without the hub's DestinationRule because a user-owned one covers them (and
    with it any TrafficSplit's routes), TrafficSplits left out where a user-owned
    VirtualService routes the host, services that have endpoints elsewhere but
    cannot be imported there, and TrafficSplits another one overrides."""
    user_hosts = snapshot.user_rules.get(target, frozenset())
    out = [f"{split} names {split.service.namespace}/{split.service.name}, which {winner} already "
           "splits; it is not in force" for split, winner in shadowed_splits(PolicySet.of(policies).splits)]
    for key in snapshot.service_keys():
        view = build_view(snapshot, key, target, domain)
        if view is None or not view.wanted:
            continue
        if view.not_importable:
            out.append(f"{view.host}: not federated into cluster {target}: {view.not_importable}")
            continue
        split = winning_split(PolicySet.of(policies).splits, key)
        routing = shadowing_rules(view.host, snapshot.user_routes.get(target, frozenset()))
        if split is not None and routing:
            out.append(f"{view.host}: VirtualService host(s) {', '.join(routing)} not managed by "
                       f"mesh-federation in cluster {target}; {split} is not applied there")
        shadowing = shadowing_rules(view.host, user_hosts)
        if shadowing:
            out.append(f"{view.host}: DestinationRule host(s) {', '.join(shadowing)} not managed by "
                       f"mesh-federation apply in cluster {target}; the hub's locality failover and "
                       "outlier detection (and any TrafficSplit's routes) were not applied")
    return out
