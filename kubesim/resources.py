"""The kinds a simulated cluster serves and the discovery documents that list them."""

from __future__ import annotations

from dataclasses import dataclass

from federation.kube.resources import ResourceType

_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]


@dataclass(frozen=True, kw_only=True)
class ServedType(ResourceType):
    """A kind as the simulator serves it: where it lives (``ResourceType``, the hub's own
    description) plus what discovery lists and how it is validated."""

    singular: str
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    has_status: bool = True
    custom: bool = False  # served from a CRD (validated by its schema)

    @property
    def qualified_resource(self) -> str:
        """``workloadentries.networking.istio.io``: how NotFound/AlreadyExists name the resource."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def qualified_kind(self) -> str:
        """``WorkloadEntry.networking.istio.io``: how Invalid names the kind."""
        return f"{self.kind}.{self.group}" if self.group else self.kind

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"


_ISTIO = ("istio-io", "networking-istio-io")

BUILTIN_TYPES: tuple[ServedType, ...] = (
    ServedType("", "v1", "namespaces", "Namespace", singular="namespace", namespaced=False, short_names=("ns",)),
    ServedType("", "v1", "services", "Service", singular="service", short_names=("svc",), categories=("all",)),
    ServedType("", "v1", "nodes", "Node", singular="node", namespaced=False, short_names=("no",)),
    ServedType("", "v1", "secrets", "Secret", singular="secret", has_status=False),
    ServedType("", "v1", "configmaps", "ConfigMap", singular="configmap", short_names=("cm",), has_status=False),
    ServedType("", "v1", "pods", "Pod", singular="pod", short_names=("po",), categories=("all",)),
    ServedType("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice", singular="endpointslice", has_status=False),
    ServedType("networking.istio.io", "v1", "workloadentries", "WorkloadEntry", singular="workloadentry",
               short_names=("we",), categories=_ISTIO, custom=True),
    ServedType("networking.istio.io", "v1", "serviceentries", "ServiceEntry", singular="serviceentry",
               short_names=("se",), categories=_ISTIO, custom=True),
    ServedType("networking.istio.io", "v1", "destinationrules", "DestinationRule", singular="destinationrule",
               short_names=("dr",), categories=_ISTIO, custom=True),
    ServedType("networking.istio.io", "v1", "gateways", "Gateway", singular="gateway",
               short_names=("gw",), categories=_ISTIO, custom=True),
    ServedType("networking.istio.io", "v1", "workloadgroups", "WorkloadGroup", singular="workloadgroup",
               short_names=("wg",), categories=_ISTIO, custom=True),
    ServedType("networking.istio.io", "v1", "virtualservices", "VirtualService", singular="virtualservice",
               short_names=("vs",), categories=_ISTIO, custom=True),
    ServedType("networking.istio.io", "v1", "sidecars", "Sidecar", singular="sidecar",
               categories=_ISTIO, custom=True),
    ServedType("security.istio.io", "v1", "peerauthentications", "PeerAuthentication",
               singular="peerauthentication", short_names=("pa",), categories=("istio-io", "security-istio-io"),
               custom=True),
    ServedType("security.istio.io", "v1", "authorizationpolicies", "AuthorizationPolicy",
               singular="authorizationpolicy", short_names=("ap",), categories=("istio-io", "security-istio-io"),
               custom=True),
    ServedType("security.istio.io", "v1", "requestauthentications", "RequestAuthentication",
               singular="requestauthentication", short_names=("ra",),
               categories=("istio-io", "security-istio-io"), custom=True),
    ServedType("telemetry.istio.io", "v1", "telemetries", "Telemetry", singular="telemetry",
               short_names=("telemetry",), categories=("istio-io", "telemetry-istio-io"), custom=True),
    ServedType("gateway.networking.k8s.io", "v1", "gateways", "Gateway", singular="gateway",
               short_names=("gtw",), categories=("gateway-api",), custom=True),
    ServedType("gateway.networking.k8s.io", "v1", "gatewayclasses", "GatewayClass", singular="gatewayclass",
               namespaced=False, short_names=("gc",), categories=("gateway-api",), custom=True),
    ServedType("multicluster.x-k8s.io", "v1alpha1", "serviceexports", "ServiceExport", singular="serviceexport",
               short_names=("svcex", "svcexport"), custom=True),
)


class Catalog:
    """Lookup of served types by (group, version, plural) and by (apiVersion, kind)."""

    def __init__(self, types: tuple[ServedType, ...] = BUILTIN_TYPES):
        self.types = tuple(types)
        self._by_resource = {(t.group, t.version, t.plural): t for t in self.types}
        self._by_kind = {(t.api_version, t.kind): t for t in self.types}
        self._group_versions: dict[str, list[str]] = {}
        for t in self.types:
            versions = self._group_versions.setdefault(t.group, [])
            if t.version not in versions:
                versions.append(t.version)

    def by_resource(self, group: str, version: str, plural: str) -> ServedType | None:
        return self._by_resource.get((group, version, plural))

    def by_kind(self, api_version: str, kind: str) -> ServedType | None:
        return self._by_kind.get((api_version, kind))

    def serves(self, group: str, version: str) -> bool:
        return version in self._group_versions.get(group, ())

    def has_group(self, group: str) -> bool:
        return group in self._group_versions

    # --- discovery documents (plain, non-aggregated forms) --------------------
    def api_versions(self, server_address: str) -> dict:
        return {
            "kind": "APIVersions",
            "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
        }

    def api_group(self, group: str) -> dict:
        versions = [{"groupVersion": f"{group}/{v}", "version": v} for v in self._group_versions[group]]
        return {"kind": "APIGroup", "apiVersion": "v1", "name": group, "versions": versions,
                "preferredVersion": versions[0]}

    def api_group_list(self) -> dict:
        groups = [self.api_group(group) for group in self._group_versions if group]
        for group in groups:
            del group["kind"], group["apiVersion"]
        return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}

    def resource_list(self, group: str, version: str) -> dict:
        group_version = f"{group}/{version}" if group else version
        resources = []
        for t in self.types:
            if t.group != group or t.version != version:
                continue
            entry = {"name": t.plural, "singularName": t.singular, "namespaced": t.namespaced,
                     "kind": t.kind, "verbs": list(_VERBS)}
            if t.short_names:
                entry["shortNames"] = list(t.short_names)
            if t.categories:
                entry["categories"] = list(t.categories)
            resources.append(entry)
            if t.kind == "Namespace" and not t.group:
                resources.append({"name": "namespaces/finalize", "singularName": "", "namespaced": False,
                                  "kind": "Namespace", "verbs": ["update"]})
            if t.has_status:
                resources.append({"name": f"{t.plural}/status", "singularName": "", "namespaced": t.namespaced,
                                  "kind": t.kind, "verbs": ["get", "patch", "update"]})
        return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version,
                "resources": resources}
