"""One snapshot rendered into many target clusters, sharing what they have in common.

A change to one service is rendered into every target cluster, and most targets
see it alike: the same source clusters (no import selector leaves them out), no
Service of their own, no user rule shadowing the hub's. What the hub writes for
the service is then the same in all of them. ``SharedRendering`` renders each
distinct case once per snapshot and hands every target that shares it the same
result, so a change costs O(distinct views) renders, not O(targets).

A case is told by what the objects are made of (``view_sources``, the target's
share of a TrafficSplit, whether user rules shadow the host: its VirtualServices
only where a split routes it), never by the target's name, so sharing cannot change what a target gets:
``shared.service(key, t) == render_service(snapshot, key, policies, t)``.
What it hands out is shared between targets: callers must not change it.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Iterable

from federation.model.ids import ServiceKey
from federation.model.policies import PolicySet
from federation.model.policy import FailoverPolicy, select_policy
from federation.model.snapshot import Snapshot
from federation.model.traffic_split import Share, TrafficSplit, winning_split
from federation.render.destination_rules import destination_rule, rule_name, shadowing_rules
from federation.render.service_stubs import stub_service
from federation.render.traffic_splits import own_share, split_routes, virtual_service
from federation.render.view import ServiceView, assemble_view, view_sources
from federation.render.workload_entries import workload_entries


def view_objects(view: ServiceView, policies: PolicySet, split: TrafficSplit | None, own: Share | None,
                 rules_shadowed: bool, routes_shadowed: bool) -> list[dict]:
    """The objects of one service for a target, from its view: nothing unless it has
    endpoints elsewhere (ready ones behind a remote gateway, or VMs) that the target
    can use. ``own`` is the target's share of ``split``; the shadowed flags say
    whether user-owned DestinationRules or VirtualServices in the target cover the
    host. Nothing here reads ``view.target``: that is what lets targets share."""
    if not view.federated:
        return []
    out = []
    stub = stub_service(view)
    if stub is not None:
        out.append(stub)
    out += workload_entries(view, split)
    if not rules_shadowed:
        policy = select_policy(policies.failover, view.key, view.label_sets)
        # A split's routes name the rule's subsets: without the hub's rule, no routes.
        routes = split_routes(view, split, own) if split is not None else ()
        if routes and routes_shadowed:
            routes = ()  # a user's VirtualService for the host: istiod would pick one of the two
        out.append(destination_rule(view, policy, routes))
        if routes:
            out.append(virtual_service(view, split, routes, rule_name(view)))
    return out


class SharedRendering:
    """Renders services of one snapshot into any of its targets (see the module doc).
    Lives as long as the snapshot it renders; no I/O."""

    def __init__(self, snapshot: Snapshot, policies: PolicySet | Iterable[FailoverPolicy],
                 domain: str = "cluster.local"):
        self._snapshot = snapshot
        self._policies = PolicySet.of(policies)
        self._domain = domain
        self._views: dict[tuple, ServiceView] = {}
        self._cases: dict[tuple, list[dict]] = {}
        self._splits: dict[ServiceKey, TrafficSplit | None] = {}

    def service(self, key: ServiceKey, target: str) -> list[dict]:
        """What the hub writes for ``key`` into ``target`` (nothing for a target the
        snapshot does not know)."""
        snapshot = self._snapshot
        info = snapshot.clusters.get(target)
        if info is None:
            return []
        local, exporters, others = view_sources(snapshot, key, target, info)
        # The target's own Service makes its view its own; else the sources tell it.
        sources = (key, target if local is not None else None, tuple(s.cluster for s in others))
        split = self._split(key)
        own = own_share(split, info) if split is not None else None
        host = key.host(self._domain)
        rules_shadowed = bool(shadowing_rules(host, snapshot.user_rules.get(target, ())))
        routes_shadowed = split is not None and bool(shadowing_rules(host, snapshot.user_routes.get(target, ())))
        case = (sources, own, rules_shadowed, routes_shadowed)
        done = self._cases.get(case)
        if done is None:
            view = self._views.get(sources)
            if view is None:
                view = self._views[sources] = assemble_view(snapshot, key, info, local, exporters, others,
                                                            self._domain)
            elif view.target is not info:
                view = replace(view, target=info)
            done = self._cases[case] = view_objects(view, self._policies, split, own, rules_shadowed,
                                                    routes_shadowed)
        return done

    def _split(self, key: ServiceKey) -> TrafficSplit | None:
        if key not in self._splits:
            self._splits[key] = winning_split(self._policies.splits, key)
        return self._splits[key]
