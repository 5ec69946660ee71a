"""ServiceEntry: the host of a service the target cluster has no Service for.

Without it ``<svc>.<ns>.svc.<domain>`` means nothing there. The entry is
MESH_INTERNAL with STATIC resolution and takes its endpoints from the
WorkloadEntries its ``workloadSelector`` matches (pods resolve the name through
Istio's DNS proxy).
"""

from __future__ import annotations

from federation.render.naming import dns_name, service_labels
from federation.render.view import ServiceView

API_VERSION = "networking.istio.io/v1"
KIND = "ServiceEntry"
PREFIX = "federation"


def service_entry(view: ServiceView) -> dict | None:
    """The ServiceEntry for the target, or None when it has the Service itself."""
    if view.local is not None:
        return None
    spec: dict = {
        "hosts": [view.host],
        "location": "MESH_INTERNAL",
        "resolution": "STATIC",
        "workloadSelector": {"labels": dict(view.selector)},
    }
    if view.ports:
        spec["ports"] = [{"name": p.name, "number": p.number, "protocol": p.protocol}
                         for p in view.ports]
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {
            "name": rule_name(view),
            "namespace": view.key.namespace,
            "labels": service_labels(view.key),
        },
        "spec": spec,
    }


def rule_name(view: ServiceView) -> str:
    """``federation-<svc>``: one per service and namespace, shared with the DestinationRule."""
    return dns_name([PREFIX, view.key.name], [view.key.namespace, view.key.name])
