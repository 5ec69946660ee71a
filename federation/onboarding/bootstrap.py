"""What Istio's VM sidecar reads, computed for one enrolled VM (pure).

The values follow ``istioctl x workload entry configure``: ``cluster.env``
(the sidecar's environment), ``mesh.yaml`` (proxy defaults: where istiod is,
which metadata to announce) and ``hosts`` (istiod's name resolved to an
east-west gateway, which exposes istiod on 15012). The hub picks the gateway of
a member cluster on the VM's own network when there is one, else the first
cluster (by name) that has a gateway address.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import yaml

from federation.model.cluster import ClusterInfo, first_ip
from federation.onboarding.groups import WorkloadGroup

ISTIOD_HOST = "istiod.istio-system.svc"
ISTIOD_PORT = 15012
CANONICAL_NAME_LABEL = "service.istio.io/canonical-name"
CANONICAL_REVISION_LABEL = "service.istio.io/canonical-revision"


@dataclass(frozen=True)
class Bootstrap:
    cluster_env: dict[str, str]
    mesh_yaml: str
    hosts: str
    labels: dict[str, str] = field(default_factory=dict)
    cluster: str = ""  # the member cluster whose istiod the VM is pointed at


def istiod_cluster(clusters: dict[str, ClusterInfo], network: str) -> ClusterInfo | None:
    """The member cluster whose east-west gateway (an IP: ``hosts`` maps names to
    addresses only) the VM reaches istiod through."""
    reachable = [clusters[n] for n in sorted(clusters) if first_ip(clusters[n].gateways)]
    same = [c for c in reachable if network and c.network == network]
    return (same or reachable or [None])[0]


def build_bootstrap(group: WorkloadGroup, vm_name: str, trust_domain: str,
                    clusters: dict[str, ClusterInfo], mesh_id: str = "") -> Bootstrap:
    mesh_id = mesh_id or trust_domain  # cluster.env and mesh.yaml name one mesh
    labels = dict(group.labels)
    labels.setdefault(CANONICAL_NAME_LABEL, labels.get("app", group.name))
    labels.setdefault(CANONICAL_REVISION_LABEL, labels.get("version", "latest"))
    target = istiod_cluster(clusters, group.network)
    env = {
        "CANONICAL_SERVICE": labels[CANONICAL_NAME_LABEL],
        "CANONICAL_REVISION": labels[CANONICAL_REVISION_LABEL],
        "ISTIO_INBOUND_PORTS": ",".join(str(p.number) for p in group.ports) or "*",
        "ISTIO_LOCAL_EXCLUDE_PORTS": "15090,15021,15020",
        "ISTIO_METAJSON_LABELS": json.dumps(labels, sort_keys=True, separators=(",", ":")),
        "ISTIO_META_CLUSTER_ID": target.name if target else "Kubernetes",
        "ISTIO_META_DNS_CAPTURE": "true",
        "ISTIO_META_MESH_ID": mesh_id,
        "ISTIO_META_NETWORK": group.network,
        "ISTIO_META_WORKLOAD_NAME": vm_name,
        "ISTIO_NAMESPACE": group.namespace,
        "ISTIO_SERVICE_CIDR": "*",
        "ISTIO_SYSTEM_NAMESPACE": "istio-system",
        "POD_NAMESPACE": group.namespace,
        "SERVICE_ACCOUNT": group.service_account,
        "TRUST_DOMAIN": trust_domain,
    }
    metadata = {k: v for k, v in env.items()
                if k.startswith(("ISTIO_META_", "CANONICAL_")) and v}
    mesh = {"defaultConfig": {
        "discoveryAddress": f"{ISTIOD_HOST}:{ISTIOD_PORT}",
        "meshId": mesh_id,
        "proxyMetadata": metadata,
    }}
    hosts = ""
    if target is not None:
        hosts = f"{first_ip(target.gateways)} {ISTIOD_HOST}\n"
    return Bootstrap(cluster_env=env, mesh_yaml=yaml.safe_dump(mesh, sort_keys=True),
                     hosts=hosts, labels=labels, cluster=target.name if target else "")


