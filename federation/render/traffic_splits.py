"""A TrafficSplit in one target cluster: weighted routes to subsets of the hub's entries.

What a real istiod needs to hand a sidecar those shares:

* a ``VirtualService federation-<svc>`` for the host with one weighted route
  (``http`` and ``tcp``) per share that can take traffic from this target;
* a subset per share in the hub's DestinationRule, selecting the entries the
  hub labels ``federation.mesh/share: <share>``. istiod overwrites
  ``topology.istio.io/cluster`` on WorkloadEntries with its own cluster, so
  subsets select on the hub's own label, which it keeps;
* in each subset, per port, ``tls: ISTIO_MUTUAL`` with the SNI of the plain host
  (``outbound_.<port>_._.<host>``): a subset's default SNI names the subset,
  and the remote east-west gateway (AUTO_PASSTHROUGH) routes on SNI to its own
  cluster's endpoints of that name, which its subset labels would not select.
  Port-level settings replace the rule's, so the locality and outlier settings
  are repeated there.

The target's own endpoints carry no label the hub could set, and no label
tells them from the hub's entries (which must carry the Service's selector). So
the share the target itself belongs to routes to the plain host when the
target has ready endpoints of its own: locality load balancing keeps that
traffic in the target and fails it over when they go. A share without
endpoints anywhere the target can reach is dropped and its weight spread over
the others in proportion, so it fails over instead of black-holing; with no
share left, no route is written and the service is routed as without a split.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

from federation.model.cluster import ClusterInfo
from federation.model.traffic_split import Share, TrafficSplit
from federation.render.naming import service_labels
from federation.render.view import RemoteGateway, ServiceView

API_VERSION = "networking.istio.io/v1"
KIND = "VirtualService"
SHARE_LABEL = "federation.mesh/share"
SPLIT_ANNOTATION = "federation.mesh/traffic-split"


@dataclass(frozen=True)
class Route:
    """One weighted destination: a share's subset, or ``subset`` "" for the plain host."""

    share: str
    subset: str
    weight: int


def gateway_share(split: TrafficSplit, gateway: RemoteGateway) -> str:
    """The share of the entry for ``gateway`` ("" if none takes its cluster)."""
    share = split.share_of(gateway.clusters[0], gateway.network, gateway.locality.region)
    return share.name if share is not None else ""


def vm_share(split: TrafficSplit, network: str, region: str) -> str:
    share = split.share_of("", network, region)
    return share.name if share is not None else ""


def own_share(split: TrafficSplit, target: ClusterInfo) -> Share | None:
    """The share ``target``'s own endpoints belong to."""
    return split.share_of(target.name, target.network, target.region)


def split_routes(view: ServiceView, split: TrafficSplit, own: Share | None) -> tuple[Route, ...]:
    """The routes of ``split`` from the target, whose own endpoints are ``own``'s
    (``own_share``), weights summing to 100 (see the module doc)."""
    reachable = {gateway_share(split, g) for g in view.remote}
    reachable |= {vm_share(split, vm.network, vm.locality.region) for vm in view.vms}
    local_ready = view.local is not None and view.local.ready > 0
    chosen: list[tuple[str, str, int]] = []
    for share in split.shares:
        if share.weight == 0:
            continue
        if share == own and local_ready:
            chosen.append((share.name, "", share.weight))
        elif share.name in reachable:
            chosen.append((share.name, share.name, share.weight))
    weights = spread([weight for _, _, weight in chosen])
    return tuple(Route(name, subset, weight)
                 for (name, subset, _), weight in zip(chosen, weights) if weight > 0)


def spread(weights: list[int], total: int = 100) -> list[int]:
    """``weights`` scaled to sum to ``total`` (largest remainder; ties to the earlier)."""
    have = sum(weights)
    if not have:
        return [0 for _ in weights]
    exact = [w * total / have for w in weights]
    out = [int(x) for x in exact]
    order = sorted(range(len(weights)), key=lambda i: (-(exact[i] - out[i]), i))
    for i in order[: total - sum(out)]:
        out[i] += 1
    return out


def subsets(view: ServiceView, routes: tuple[Route, ...], traffic_policy: dict) -> list[dict]:
    """The DestinationRule subsets the routes name, each reached with the plain host's SNI."""
    out = []
    for route in routes:
        if not route.subset:
            continue
        ports = [{"port": {"number": port.number}, **copy.deepcopy(traffic_policy),
                  "tls": {"mode": "ISTIO_MUTUAL", "sni": f"outbound_.{port.number}_._.{view.host}"}}
                 for port in view.ports]
        subset: dict = {"name": route.subset, "labels": {SHARE_LABEL: route.subset}}
        if ports:
            subset["trafficPolicy"] = {"portLevelSettings": ports}
        out.append(subset)
    return out


def virtual_service(view: ServiceView, split: TrafficSplit, routes: tuple[Route, ...], name: str) -> dict:
    """The weighted routes for the host, for HTTP and TCP ports alike."""
    def destinations() -> list[dict]:  # one list per section: rendered objects share no parts
        out = []
        for route in routes:
            destination: dict = {"host": view.host}
            if route.subset:
                destination["subset"] = route.subset
            out.append({"destination": destination, "weight": route.weight})
        return out

    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {
            "name": name,
            "namespace": view.key.namespace,
            "labels": service_labels(view.key),
            "annotations": {SPLIT_ANNOTATION: f"{split.namespace}/{split.name}"},
        },
        "spec": {
            "hosts": [view.host],
            "http": [{"name": "traffic-split", "route": destinations()}],
            "tcp": [{"route": destinations()}],
        },
    }
