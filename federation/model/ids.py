"""Identifiers and small value types shared by every layer.

The one definition of the DNS-1123 names (``is_dns_label``, ``is_dns_subdomain``)
and of a member cluster's name (``check_cluster_name``: a DNS-1123 label, as it
goes into store keys, object names and certificate subjects), and an object's
identity (``Ref``, ``ref_of``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

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


_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
DNS_LABEL_MAX = 63
DNS_SUBDOMAIN_MAX = 253


def is_dns_label(value: Any) -> bool:
    """A DNS-1123 label: lower-case letters, digits and '-', alphanumeric at both ends, ≤ 63."""
    return isinstance(value, str) and len(value) <= DNS_LABEL_MAX and bool(_DNS_LABEL.match(value))


def is_dns_subdomain(value: Any) -> bool:
    """A DNS-1123 subdomain: labels joined by '.', ≤ 253."""
    return isinstance(value, str) and len(value) <= DNS_SUBDOMAIN_MAX and bool(_DNS_SUBDOMAIN.match(value))


def check_cluster_name(name: Any) -> str:
    """A member cluster's name, or ValidationError: it must be a DNS-1123 label."""
    if not is_dns_label(name):
        raise errors.ValidationError(
            f"cluster name {name!r}: must be a DNS-1123 label (lowercase letters, digits, '-', ≤ 63)")
    return name


# (apiVersion, kind, namespace, name); namespace is "" for cluster-scoped objects.
Ref = tuple[str, str, str, str]


def ref_of(obj: Mapping) -> Ref:
    """The identity of a Kubernetes object (a dict)."""
    meta = obj.get("metadata") or {}
    return (obj.get("apiVersion", ""), obj.get("kind", ""), meta.get("namespace") or "", meta.get("name", ""))


def resource_version(obj: Mapping) -> str:
    """An object's resourceVersion, "" when it has none."""
    return str((obj.get("metadata") or {}).get("resourceVersion") or "")


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
