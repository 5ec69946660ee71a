"""Building the objects a member cluster holds, and seeding a simulated cluster with them.

The builders are pure functions returning plain dicts shaped like what a real
cluster holds: Namespaces (``istio-system`` labelled with its network),
Nodes with region/zone labels, Services, EndpointSlices with per-endpoint
readiness, zone and node, and the east-west gateway Service with its
LoadBalancer ingress. ``seed_cluster`` writes a coherent set into anything
with an ``apply(obj, manager=...)`` method (``SimCluster`` or its store).
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

NETWORK_LABEL = "topology.istio.io/network"
REGION_LABEL = "topology.kubernetes.io/region"
ZONE_LABEL = "topology.kubernetes.io/zone"
SERVICE_NAME_LABEL = "kubernetes.io/service-name"
EASTWEST_NAME = "istio-eastwestgateway"
EASTWEST_PORT = 15443


@dataclass(frozen=True)
class Endpoint:
    address: str
    node: str
    zone: str
    ready: bool = True


@dataclass
class SeededCluster:
    """What ``seed_cluster`` wrote, for assertions and churn."""

    network: str
    region: str
    zones: list[str]
    gateway_address: str
    nodes: list[str] = field(default_factory=list)
    services: dict[str, list[Endpoint]] = field(default_factory=dict)  # "ns/name" → endpoints
    namespace: str = "default"


def namespace(name: str, labels: dict[str, str] | None = None) -> dict:
    meta: dict[str, Any] = {"name": name}
    if labels:
        meta["labels"] = dict(labels)
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": meta}


def istio_system_namespace(network: str) -> dict:
    return namespace("istio-system", {NETWORK_LABEL: network})


def node(name: str, region: str, zone: str, address: str | None = None) -> dict:
    obj = {"apiVersion": "v1", "kind": "Node",
           "metadata": {"name": name, "labels": {REGION_LABEL: region, ZONE_LABEL: zone,
                                                 "kubernetes.io/hostname": name}},
           "spec": {}}
    if address:
        obj["status"] = {"addresses": [{"type": "InternalIP", "address": address}]}
    return obj


def service(name: str, ns: str = "default", ports: Sequence[tuple[str, int]] = (("http", 8080),),
            selector: dict[str, str] | None = None, labels: dict[str, str] | None = None,
            annotations: dict[str, str] | None = None, service_type: str = "ClusterIP") -> dict:
    meta: dict[str, Any] = {"name": name, "namespace": ns, "labels": dict(labels or {"app": name})}
    if annotations:
        meta["annotations"] = dict(annotations)
    return {"apiVersion": "v1", "kind": "Service", "metadata": meta,
            "spec": {"type": service_type, "selector": dict(selector or {"app": name}),
                     "ports": [{"name": p, "port": n, "protocol": "TCP", "targetPort": n} for p, n in ports]}}


def endpoint_slice(service_name: str, ns: str, endpoints: Iterable[Endpoint],
                   ports: Sequence[tuple[str, int]] = (("http", 8080),), suffix: str = "sim") -> dict:
    return {
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": f"{service_name}-{suffix}", "namespace": ns,
                     "labels": {SERVICE_NAME_LABEL: service_name,
                                "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io"}},
        "addressType": "IPv4",
        "endpoints": [{"addresses": [e.address], "conditions": {"ready": e.ready, "serving": e.ready,
                                                                "terminating": False},
                       "nodeName": e.node, "zone": e.zone} for e in endpoints],
        "ports": [{"name": p, "port": n, "protocol": "TCP"} for p, n in ports],
    }


def eastwest_gateway_service(network: str, address: str, hostname: bool = False) -> dict:
    """The east-west gateway Service of a cluster: LoadBalancer, port 15443, ingress ``address``."""
    obj = service(EASTWEST_NAME, "istio-system",
                  ports=(("status-port", 15021), ("tls", EASTWEST_PORT), ("tls-istiod", 15012),
                         ("tls-webhook", 15017)),
                  selector={"istio": "eastwestgateway"},
                  labels={"istio": "eastwestgateway", "app": EASTWEST_NAME, NETWORK_LABEL: network},
                  service_type="LoadBalancer")
    obj["status"] = {"loadBalancer": {"ingress": [{"hostname": address} if hostname else {"ip": address}]}}
    return obj


def service_export(name: str, ns: str = "default") -> dict:
    return {"apiVersion": "multicluster.x-k8s.io/v1alpha1", "kind": "ServiceExport",
            "metadata": {"name": name, "namespace": ns}}


def cluster_number_of(name: str) -> int:
    """A number 1..250 per cluster for its address ranges: N for ``cluster-N``, else from a hash
    (pass ``cluster_number`` to ``seed_cluster`` when names are arbitrary and ranges must not collide)."""
    match = re.fullmatch(r"[a-z-]*?(\d+)", name)
    if match and 1 <= int(match.group(1)) <= 250:
        return int(match.group(1))
    return 1 + zlib.crc32(name.encode()) % 250


def pod_address(cluster: int, index: int) -> str:
    """The ``index``-th pod IP of cluster number ``cluster`` (10.<cluster>.0.0/16)."""
    return f"10.{cluster}.{(index >> 8) & 255}.{index & 255}"


def seed_cluster(sim: Any, network: str, region: str, zones: Sequence[str], services: int | Iterable[str], *,
                 namespace_name: str = "default", endpoints_per_service: int = 2, nodes_per_zone: int = 1,
                 gateway_address: str | None = None, ports: Sequence[tuple[str, int]] = (("http", 8080),),
                 export: bool = False, manager: str = "sim-seed",
                 cluster_number: int | None = None) -> SeededCluster:
    """Populate a cluster: istio-system (network label), nodes per zone, the east-west gateway
    and ``services`` (a count or names), each with a ready EndpointSlice spread over the zones.
    """
    cluster = getattr(sim, "name", network)
    zones = list(zones) or [f"{region}-a"]
    octet = cluster_number or cluster_number_of(cluster)
    seeded = SeededCluster(network, region, zones, gateway_address or f"172.18.{octet}.10",
                           namespace=namespace_name)
    sim.apply(istio_system_namespace(network), manager=manager)
    if namespace_name not in ("default", "istio-system"):
        sim.apply(namespace(namespace_name), manager=manager)
    for zone in zones:
        for i in range(nodes_per_zone):
            node_name = f"{cluster}-{zone}-{i}"
            sim.apply(node(node_name, region, zone, address=f"192.168.{octet}.{len(seeded.nodes) + 1}"),
                      manager=manager)
            seeded.nodes.append(node_name)
    sim.apply(eastwest_gateway_service(network, seeded.gateway_address), manager=manager)
    names = [f"svc-{i}" for i in range(services)] if isinstance(services, int) else list(services)
    next_ip = 1
    for name in names:
        endpoints = []
        for i in range(endpoints_per_service):
            zone = zones[i % len(zones)]
            node_name = f"{cluster}-{zone}-{i % nodes_per_zone}"
            endpoints.append(Endpoint(pod_address(octet, next_ip), node_name, zone))
            next_ip += 1
        sim.apply(service(name, namespace_name, ports), manager=manager)
        sim.apply(endpoint_slice(name, namespace_name, endpoints, ports), manager=manager)
        if export:
            sim.apply(service_export(name, namespace_name), manager=manager)
        seeded.services[f"{namespace_name}/{name}"] = endpoints
    return seeded


def set_endpoints(sim: Any, service_name: str, ns: str, endpoints: Iterable[Endpoint],
                  ports: Sequence[tuple[str, int]] = (("http", 8080),), manager: str = "sim-seed") -> dict:
    """Replace a seeded service's endpoints (readiness flips, scale up/down, zone moves)."""
    return sim.apply(endpoint_slice(service_name, ns, endpoints, ports), manager=manager)
