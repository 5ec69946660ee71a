"""Identifiers and small value types shared by every layer."""

from __future__ import annotations

from dataclasses import dataclass

from federation import errors

MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY = "mesh-federation"
SERVICE_NAMESPACE_LABEL = "federation.mesh/service-namespace"
SERVICE_NAME_LABEL = "federation.mesh/service-name"
SOURCE_CLUSTER_LABEL = "federation.mesh/source-cluster"
NETWORK_LABEL = "topology.istio.io/network"
CLUSTER_LABEL = "topology.istio.io/cluster"
REGION_LABEL = "topology.kubernetes.io/region"
ZONE_LABEL = "topology.kubernetes.io/zone"
EASTWEST_LABEL = ("istio", "eastwestgateway")
EASTWEST_PORT = 15443
EXPORT_LABEL = "federation.mesh/export"
SERVICE_ACCOUNT_ANNOTATION = "federation.mesh/service-account"
TLS_MODE_LABEL = "security.istio.io/tlsMode"


def split_host_port(address: str, what: str = "address") -> tuple[str, int]:
    """``HOST:PORT`` (IPv6 in brackets) as (host, port); ConfigError naming ``what``."""
    host, sep, port = address.rpartition(":")
    if not sep or not host.strip("[]") or not port.isdigit() or not 0 < int(port) < 65536:
        raise errors.ConfigError(f"{what} {address!r} is not HOST:PORT")
    return host.strip("[]"), int(port)


def host_matches(pattern: str, host: str) -> bool:
    """Whether an Istio host (exact, ``*.suffix`` or ``*``) covers ``host``."""
    if pattern == "*":
        return True
    if pattern.startswith("*."):
        return host.endswith(pattern[1:])
    return pattern == host


@dataclass(frozen=True, order=True)
class ServiceKey:
    namespace: str
    name: str

    def host(self, domain: str = "cluster.local") -> str:
        return f"{self.name}.{self.namespace}.svc.{domain}"

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True, order=True)
class Locality:
    region: str = ""
    zone: str = ""
    subzone: str = ""

    def __str__(self) -> str:
        """Istio's ``region/zone/subzone`` form, trailing empty parts dropped."""
        parts = [self.region, self.zone, self.subzone]
        while parts and not parts[-1]:
            parts.pop()
        return "/".join(parts)

    @classmethod
    def parse(cls, text: str) -> "Locality":
        parts = (text.split("/") + ["", "", ""])[:3]
        return cls(*parts)


@dataclass(frozen=True, order=True)
class PortSpec:
    """A service port; ``protocol`` is Istio's (HTTP, HTTP2, GRPC, TCP, TLS, ...)."""

    name: str  # "" for the one unnamed port a Service may have
    number: int
    protocol: str = "TCP"
    target_port: int = 0
    target_name: str = ""  # a named targetPort (resolved per pod by Kubernetes)

    @property
    def entry_key(self) -> str:
        """The key istiod looks up in a selected WorkloadEntry's ``ports``: the named
        target port, else the port's name ("" for an unnamed port: the map is ignored)."""
        return self.target_name or self.name
