"""Deriving the federation's view from raw Kubernetes objects (pure functions).

Istio protocols follow Istio's own rules: a port's ``appProtocol`` first, else
the prefix of its name before the first ``-``; anything unknown is TCP.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from federation.model.ownership import taken_over  # noqa: F401  (the watchers' rule)
from federation.model.scope import IMPORT_SELECTOR_ANNOTATION
from federation.model.ids import (
    EASTWEST_LABEL, EASTWEST_PORT, MANAGED_BY, MANAGED_BY_LABEL, REGION_LABEL, ZONE_LABEL, PortSpec,
)

SUBZONE_LABEL = "topology.istio.io/subzone"
SERVICE_NAME_LABEL = "kubernetes.io/service-name"

_PROTOCOLS = {
    "http": "HTTP",
    "http2": "HTTP2",
    "h2c": "HTTP2",
    "kubernetes.io/h2c": "HTTP2",
    "kubernetes.io/ws": "HTTP",
    "kubernetes.io/wss": "HTTPS",
    "grpc": "GRPC",
    "grpc-web": "GRPC-Web",
    "https": "HTTPS",
    "tls": "TLS",
    "tcp": "TCP",
    "mongo": "MONGO",
    "mysql": "MYSQL",
    "redis": "REDIS",
}


@dataclass(frozen=True)
class EndpointRef:
    """One endpoint of an EndpointSlice, reduced to what counting needs."""

    identity: str  # its pod (targetRef) or first address: dual-stack slices count once
    pod: str  # "namespace/name" of its Pod, "" when not a Pod
    node: str
    zone: str
    ready: bool


def _meta(obj: dict) -> dict:
    return obj.get("metadata") or {}


def labels_of(obj: dict) -> dict[str, str]:
    return dict(_meta(obj).get("labels") or {})


def import_selector_of(service: dict) -> str:
    """Its ``federation.mesh/import-selector`` annotation, stripped ("": every cluster imports it)."""
    return str((_meta(service).get("annotations") or {}).get(IMPORT_SELECTOR_ANNOTATION, "")).strip()


def istio_protocol(port: dict) -> str:
    """The Istio protocol of a Service port (``appProtocol``, then name prefix)."""
    app = str(port.get("appProtocol") or "").lower()
    if app in _PROTOCOLS:
        return _PROTOCOLS[app]
    name = str(port.get("name") or "").lower()
    if name in _PROTOCOLS:  # "grpc-web" as a whole name
        return _PROTOCOLS[name]
    return _PROTOCOLS.get(name.split("-", 1)[0], "TCP")


def ports_of(service: dict) -> tuple[PortSpec, ...]:
    """TCP ports of a Service, sorted by number (east-west gateways carry TCP only)."""
    ports = []
    for port in (service.get("spec") or {}).get("ports") or []:
        if str(port.get("protocol") or "TCP").upper() != "TCP" or not port.get("port"):
            continue
        number = int(port["port"])
        target = port.get("targetPort", number)
        ports.append(PortSpec(
            name=str(port.get("name") or ""),  # a Service's only port may be unnamed
            number=number,
            protocol=istio_protocol(port),
            # a named targetPort resolves per pod: only its name is known here
            target_port=target if isinstance(target, int) else 0,
            target_name=target if isinstance(target, str) and not target.isdigit() else "",
        ))
    return tuple(sorted(ports, key=lambda p: (p.number, p.name)))


def is_ip(address: str) -> bool:
    try:
        ipaddress.ip_address(address)
    except ValueError:
        return False
    return True


def is_headless(service: dict) -> bool:
    return str((service.get("spec") or {}).get("clusterIP") or "") == "None"


def pod_service_account(pod: dict) -> str:
    return str((pod.get("spec") or {}).get("serviceAccountName") or "")


def slim_pod(pod: dict) -> dict:
    """What the hub keeps of a Pod: its identity, version and service account."""
    meta = _meta(pod)
    return {
        "metadata": {k: meta[k] for k in ("name", "namespace", "resourceVersion") if k in meta},
        "spec": {"serviceAccountName": pod_service_account(pod)},
    }


def without_managed_fields(obj: dict) -> dict:
    """``obj`` without its managedFields (often most of it), for objects kept between events;
    what is derived from them (``taken_over``) is read as each event comes."""
    meta = _meta(obj)
    if "managedFields" not in meta:
        return obj
    return {**obj, "metadata": {k: v for k, v in meta.items() if k != "managedFields"}}


def is_hub_owned(obj: dict) -> bool:
    """Objects the hub wrote (stub Services, their namespaces) are never read back
    as the member's own (but see ``taken_over``)."""
    return labels_of(obj).get(MANAGED_BY_LABEL) == MANAGED_BY




def sorted_pairs(mapping: dict | None) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((str(k), str(v)) for k, v in (mapping or {}).items()))


def is_eastwest_gateway(service: dict) -> bool:
    key, value = EASTWEST_LABEL
    return labels_of(service).get(key) == value


def gateway_addresses(service: dict) -> list[str]:
    """LoadBalancer ingress IPs/hostnames of a gateway Service, else its externalIPs."""
    ingress = ((service.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    found = [entry.get("ip") or entry.get("hostname") for entry in ingress]
    found = [address for address in found if address]
    if not found:
        found = [str(ip) for ip in (service.get("spec") or {}).get("externalIPs") or [] if ip]
    return found


def gateway_port(service: dict) -> int | None:
    """The Service port that reaches the gateway's 15443 (by port, targetPort or name)."""
    ports = (service.get("spec") or {}).get("ports") or []
    for port in ports:
        if port.get("port") == EASTWEST_PORT:
            return EASTWEST_PORT
    for port in ports:
        if port.get("targetPort") == EASTWEST_PORT or port.get("name") == "tls":
            return int(port["port"])
    return None


def node_locality(node: dict) -> tuple[str, str, str]:
    """(region, zone, subzone) from a Node's topology labels; empty where unset."""
    labels = labels_of(node)
    return labels.get(REGION_LABEL, ""), labels.get(ZONE_LABEL, ""), labels.get(SUBZONE_LABEL, "")


def slice_service_name(endpoint_slice: dict) -> str:
    return labels_of(endpoint_slice).get(SERVICE_NAME_LABEL, "")


def slice_endpoints(endpoint_slice: dict) -> tuple[EndpointRef, ...]:
    """The endpoints of a slice; a missing ``conditions.ready`` means ready."""
    refs = []
    for endpoint in endpoint_slice.get("endpoints") or []:
        addresses = endpoint.get("addresses") or []
        target = endpoint.get("targetRef") or {}
        pod = ""
        if target.get("name"):
            identity = f"{target.get('kind', '')}/{target.get('namespace', '')}/{target['name']}"
            if target.get("kind", "Pod") == "Pod":
                pod = f"{target.get('namespace') or _meta(endpoint_slice).get('namespace', '')}/{target['name']}"
        elif addresses:
            identity = str(addresses[0])
        else:
            continue
        ready = (endpoint.get("conditions") or {}).get("ready")
        refs.append(EndpointRef(
            identity=identity,
            pod=pod,
            node=str(endpoint.get("nodeName") or ""),
            zone=str(endpoint.get("zone") or ""),
            ready=ready is None or bool(ready),
        ))
    return tuple(refs)


def is_user_owned(obj: dict) -> bool:
    return labels_of(obj).get(MANAGED_BY_LABEL) != MANAGED_BY


def destination_rule_host(rule: dict, domain: str) -> str:
    """A DestinationRule's host as Istio reads it: a short name (no dot) is
    relative to the rule's namespace; anything else is taken as written."""
    return _full_host(str((rule.get("spec") or {}).get("host") or ""), rule, domain)


def virtual_service_hosts(route: dict, domain: str) -> frozenset[str]:
    """A VirtualService's hosts as Istio reads them (short names as for rules)."""
    hosts = (route.get("spec") or {}).get("hosts") or ()
    return frozenset(h for h in (_full_host(str(h), route, domain) for h in hosts
                                 if isinstance(h, str)) if h)


def _full_host(host: str, obj: dict, domain: str) -> str:
    host = host.strip().lower()
    if host and "." not in host and host != "*":
        namespace = _meta(obj).get("namespace") or "default"
        return f"{host}.{namespace}.svc.{domain}"
    return host


def most_common(counts: dict[str, int]) -> str:
    """The key with the highest positive count; ties go to the smallest name."""
    best = sorted((-count, name) for name, count in counts.items() if name and count > 0)
    return best[0][1] if best else ""
