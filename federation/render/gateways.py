"""Gateways: accept cross-network traffic locally, and say where other networks' gateways are.

``cross-network-gateway`` (Istio Gateway) opens port 15443 of the local
east-west gateway in AUTO_PASSTHROUGH mode: mTLS from other networks passes
through to the service named by the SNI. One ``istio-remote`` Gateway API
Gateway per other network tells istiod the addresses of that network's
gateways, so it sends traffic for that network's endpoints there. Networks of
VMs get none: a VM is reached at its own address.
"""

from __future__ import annotations

import ipaddress
import re

from federation.model.cluster import ClusterInfo
from federation.model.ids import EASTWEST_LABEL, NETWORK_LABEL
from federation.model.snapshot import Snapshot
from federation.render.naming import COMPONENT_LABEL, dns_name, managed_labels

ISTIO_API_VERSION = "networking.istio.io/v1"
GATEWAY_API_VERSION = "gateway.networking.k8s.io/v1"
KIND = "Gateway"
NAMESPACE = "istio-system"
CROSS_NETWORK_NAME = "cross-network-gateway"
REMOTE_CLASS = "istio-remote"
COMPONENT = "gateway"
MAX_ADDRESSES = 16  # Gateway API's limit on spec.addresses
_HOSTNAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def gateway_labels() -> dict[str, str]:
    return {**managed_labels(), COMPONENT_LABEL: COMPONENT}


def cross_network_gateway(target: ClusterInfo) -> dict:
    return {
        "apiVersion": ISTIO_API_VERSION,
        "kind": KIND,
        "metadata": {"name": CROSS_NETWORK_NAME, "namespace": NAMESPACE, "labels": gateway_labels()},
        "spec": {
            "selector": {EASTWEST_LABEL[0]: EASTWEST_LABEL[1]},
            "servers": [{
                "port": {"number": target.gateway_port, "name": "tls", "protocol": "TLS"},
                "tls": {"mode": "AUTO_PASSTHROUGH"},
                "hosts": ["*.local"],
            }],
        },
    }


def remote_network_gateways(snapshot: Snapshot, target: ClusterInfo) -> list[dict]:
    """One istio-remote Gateway per network other than the target's, sorted by name."""
    networks: dict[str, list[ClusterInfo]] = {}
    for name in sorted(snapshot.clusters):
        info = snapshot.clusters[name]
        if info.network and info.network != target.network and info.gateways:
            networks.setdefault(info.network, []).append(info)
    out = []
    for network in sorted(networks):
        gateway = _remote_gateway(network, networks[network])
        if gateway is not None:
            out.append(gateway)
    return sorted(out, key=lambda obj: obj["metadata"]["name"])


def address_entry(address: str) -> dict | None:
    """A Gateway API address: an IP, else a (lower-cased) hostname; None if neither."""
    try:
        return {"type": "IPAddress", "value": str(ipaddress.ip_address(address))}
    except ValueError:
        pass
    host = address.lower().rstrip(".")
    if len(host) <= 253 and _HOSTNAME.match(host):
        return {"type": "Hostname", "value": host}
    return None


def _remote_gateway(network: str, clusters: list[ClusterInfo]) -> dict | None:
    addresses: list[dict] = []
    for info in clusters:
        for address in info.gateways:
            entry = address_entry(address)
            if entry is not None and entry not in addresses:
                addresses.append(entry)
    if not addresses:
        return None
    addresses = sorted(addresses, key=lambda a: (a["type"], a["value"]))[:MAX_ADDRESSES]
    labels = {**gateway_labels(), NETWORK_LABEL: network}
    return {
        "apiVersion": GATEWAY_API_VERSION,
        "kind": KIND,
        "metadata": {
            "name": dns_name([REMOTE_CLASS, network], ["network", network]),
            "namespace": NAMESPACE,
            "labels": labels,
        },
        "spec": {
            "gatewayClassName": REMOTE_CLASS,
            "addresses": addresses,
            "listeners": [{
                "name": "cross-network",
                # Clusters of one network share their gateway port; the first one's is used.
                "port": clusters[0].gateway_port,
                "protocol": "TLS",
                "tls": {"mode": "Passthrough"},
            }],
        },
    }
