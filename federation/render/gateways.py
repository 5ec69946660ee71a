"""The local east-west gateway's cross-network server.

``mesh-federation-cross-network`` (an Istio Gateway) opens the gateway's port
15443 in AUTO_PASSTHROUGH mode for the mesh's domain: mTLS from other clusters
passes through to the service named by the SNI Istio sets. The name is the hub's
own, so it never collides with Istio's sample ``cross-network-gateway``.

No ``istio-remote`` network gateways are written: istiod spreads a network's
traffic evenly over every gateway of that network, whereas each hub entry
already points at the gateway of the cluster that has the endpoints.
"""

from __future__ import annotations

from federation.model.cluster import ClusterInfo
from federation.model.ids import EASTWEST_LABEL
from federation.render.naming import COMPONENT_LABEL, managed_labels

ISTIO_API_VERSION = "networking.istio.io/v1"
KIND = "Gateway"
NAMESPACE = "istio-system"
CROSS_NETWORK_NAME = "mesh-federation-cross-network"
COMPONENT = "gateway"


def gateway_labels() -> dict[str, str]:
    return {**managed_labels(), COMPONENT_LABEL: COMPONENT}


def cross_network_gateway(target: ClusterInfo, domain: str = "cluster.local") -> dict:
    return {
        "apiVersion": ISTIO_API_VERSION,
        "kind": KIND,
        "metadata": {"name": CROSS_NETWORK_NAME, "namespace": NAMESPACE, "labels": gateway_labels()},
        "spec": {
            "selector": {EASTWEST_LABEL[0]: EASTWEST_LABEL[1]},
            "servers": [{
                "port": {"number": target.gateway_port, "name": "tls", "protocol": "TLS"},
                "tls": {"mode": "AUTO_PASSTHROUGH"},
                "hosts": [f"*.{domain}"],
            }],
        },
    }
