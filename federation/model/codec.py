"""JSON-able dict forms of model objects, for the store. Pure."""

from __future__ import annotations

from federation.model.cluster import ClusterInfo
from federation.model.ids import Locality, PortSpec, ServiceKey
from federation.model.service import ClusterService, VMWorkload


def _pairs(items) -> dict:
    return dict(items)


def service_to_dict(svc: ClusterService) -> dict:
    return {
        "cluster": svc.cluster,
        "namespace": svc.key.namespace,
        "name": svc.key.name,
        "ports": [[p.name, p.number, p.protocol, p.target_port] for p in svc.ports],
        "selector": _pairs(svc.selector),
        "labels": _pairs(svc.labels),
        "serviceAccount": svc.service_account,
        "endpoints": [[str(loc), count] for loc, count in svc.endpoints],
        "importSelector": svc.import_selector,
    }


def service_from_dict(data: dict) -> ClusterService:
    return ClusterService(
        cluster=data["cluster"],
        key=ServiceKey(data["namespace"], data["name"]),
        ports=tuple(PortSpec(*p) for p in data.get("ports", ())),
        selector=tuple(sorted(data.get("selector", {}).items())),
        labels=tuple(sorted(data.get("labels", {}).items())),
        service_account=data.get("serviceAccount", ""),
        endpoints=tuple((Locality.parse(loc), int(n)) for loc, n in data.get("endpoints", ())),
        import_selector=data.get("importSelector", ""),
    )


def cluster_info_to_dict(info: ClusterInfo) -> dict:
    return {"name": info.name, "network": info.network, "region": info.region,
            "gateways": list(info.gateways), "gatewayPort": info.gateway_port,
            "labels": dict(info.labels)}


def cluster_info_from_dict(data: dict, stale: bool = False) -> ClusterInfo:
    return ClusterInfo(name=data["name"], network=data.get("network", ""),
                       region=data.get("region", ""), gateways=tuple(data.get("gateways", ())),
                       gateway_port=int(data.get("gatewayPort", 15443)), stale=stale,
                       labels=tuple(sorted(data.get("labels", {}).items())))


def vm_to_dict(vm: VMWorkload) -> dict:
    return {
        "name": vm.name, "namespace": vm.key.namespace, "group": vm.key.name,
        "address": vm.address, "network": vm.network, "locality": str(vm.locality),
        "labels": _pairs(vm.labels), "serviceAccount": vm.service_account,
        "ports": [[p.name, p.number, p.protocol, p.target_port] for p in vm.ports],
    }


def vm_from_dict(data: dict) -> VMWorkload:
    return VMWorkload(
        name=data["name"], key=ServiceKey(data["namespace"], data["group"]),
        address=data["address"], network=data.get("network", ""),
        locality=Locality.parse(data.get("locality", "")),
        labels=tuple(sorted(data.get("labels", {}).items())),
        service_account=data.get("serviceAccount", ""),
        ports=tuple(PortSpec(*p) for p in data.get("ports", ())),
    )
