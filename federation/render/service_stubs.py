"""Stub Services: the host of a service the target cluster has no Service for.

An unmodified pod resolves ``<svc>.<ns>.svc.<domain>`` through kube-dns, which
knows only Kubernetes Services (a ServiceEntry's host resolves only for proxies
with Istio's DNS capture, off by default). So where the target lacks the Service,
the hub writes one: same name, namespace and port numbers, ports named so istiod
maps them onto the entries, and a selector of the federation's own labels, which
only the hub's WorkloadEntries carry. kube-dns answers with its ClusterIP, the
sidecar's listener for that address routes to the entries. Istio recommends
exactly this for services consumed from clusters that do not run them.

A namespace the target does not have is created, owned by the hub, and goes
with the last stub in it.
"""

from __future__ import annotations

from federation.model.ids import PortSpec
from federation.render.naming import COMPONENT_LABEL, managed_labels, service_labels
from federation.render.view import ServiceView

COMPONENT = "service-import"
_APP_PROTOCOLS = {"HTTP": "http", "HTTP2": "http2", "GRPC": "grpc", "HTTPS": "https", "TLS": "tls",
                  "TCP": "tcp", "MONGO": "mongo", "MYSQL": "mysql", "REDIS": "redis"}


def stub_service(view: ServiceView) -> dict | None:
    """The stub Service for the target, or None when it has the Service itself."""
    if not view.needs_stub:
        return None
    labels = {**service_labels(view.key), COMPONENT_LABEL: COMPONENT}
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": view.key.name, "namespace": view.key.namespace, "labels": labels},
        "spec": {
            "type": "ClusterIP",
            "selector": dict(view.selector),
            "ports": [_port(p) for p in view.ports],
        },
    }


def _port(port: PortSpec) -> dict:
    out: dict = {"name": port.name, "port": port.number, "targetPort": port.number, "protocol": "TCP"}
    app = _APP_PROTOCOLS.get(port.protocol.upper())
    if app:
        out["appProtocol"] = app
    return out


def hub_namespace(name: str) -> dict:
    """A namespace the hub creates for stub Services (labelled as the hub's own)."""
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name, "labels": {**managed_labels(), COMPONENT_LABEL: COMPONENT}},
    }
