"""The kinds the hub reads and writes, and where each lives in the API: pure data
without the client, so the pure layers (the push ledger) can name kinds."""

from __future__ import annotations

from dataclasses import dataclass

from federation import errors


@dataclass(frozen=True)
class ResourceType:
    """Where a kind lives in the API: ``/api/v1`` or ``/apis/<group>/<version>``."""

    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool = True

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def path(self, namespace: str | None = None, name: str | None = None) -> str:
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace:
            base += f"/namespaces/{namespace}"
        base += f"/{self.plural}"
        if name:
            base += f"/{name}"
        return base


# The kinds the hub reads and writes.
NAMESPACE = ResourceType("", "v1", "namespaces", "Namespace", namespaced=False)
NODE = ResourceType("", "v1", "nodes", "Node", namespaced=False)
SERVICE = ResourceType("", "v1", "services", "Service")
POD = ResourceType("", "v1", "pods", "Pod")
SECRET = ResourceType("", "v1", "secrets", "Secret")
CONFIG_MAP = ResourceType("", "v1", "configmaps", "ConfigMap")  # read only (istiod's root bundle)
ENDPOINT_SLICE = ResourceType("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice")
SERVICE_EXPORT = ResourceType("multicluster.x-k8s.io", "v1alpha1", "serviceexports", "ServiceExport")
WORKLOAD_ENTRY = ResourceType("networking.istio.io", "v1", "workloadentries", "WorkloadEntry")
SERVICE_ENTRY = ResourceType("networking.istio.io", "v1", "serviceentries", "ServiceEntry")
DESTINATION_RULE = ResourceType("networking.istio.io", "v1", "destinationrules", "DestinationRule")
ISTIO_GATEWAY = ResourceType("networking.istio.io", "v1", "gateways", "Gateway")
WORKLOAD_GROUP = ResourceType("networking.istio.io", "v1", "workloadgroups", "WorkloadGroup")
K8S_GATEWAY = ResourceType("gateway.networking.k8s.io", "v1", "gateways", "Gateway")
# Traffic management: a TrafficSplit's routes, and what a MeshPolicy carries.
VIRTUAL_SERVICE = ResourceType("networking.istio.io", "v1", "virtualservices", "VirtualService")
SIDECAR = ResourceType("networking.istio.io", "v1", "sidecars", "Sidecar")
PEER_AUTHENTICATION = ResourceType("security.istio.io", "v1", "peerauthentications", "PeerAuthentication")
AUTHORIZATION_POLICY = ResourceType("security.istio.io", "v1", "authorizationpolicies", "AuthorizationPolicy")
REQUEST_AUTHENTICATION = ResourceType("security.istio.io", "v1", "requestauthentications",
                                      "RequestAuthentication")
TELEMETRY = ResourceType("telemetry.istio.io", "v1", "telemetries", "Telemetry")
# The kinds a MeshPolicy may carry.
MESH_POLICY_KINDS = (PEER_AUTHENTICATION, AUTHORIZATION_POLICY, REQUEST_AUTHENTICATION, SIDECAR, TELEMETRY)

BY_API_KIND = {(t.api_version, t.kind): t for t in (
    NAMESPACE, NODE, SERVICE, POD, SECRET, ENDPOINT_SLICE, SERVICE_EXPORT, WORKLOAD_ENTRY,
    SERVICE_ENTRY, DESTINATION_RULE, ISTIO_GATEWAY, WORKLOAD_GROUP, K8S_GATEWAY, VIRTUAL_SERVICE,
    *MESH_POLICY_KINDS)}


def resource_type_of(obj: dict) -> ResourceType:
    try:
        return BY_API_KIND[(obj["apiVersion"], obj["kind"])]
    except KeyError as exc:
        raise errors.ValidationError(
            f"unsupported kind {obj.get('apiVersion')}/{obj.get('kind')}") from exc
