"""Shared pieces of the render tests: a federation topology, golden files, schema checks.

Topology (three clusters, two networks)::

    cluster-a  network net-1  region us-east  gateway 10.0.0.1
    cluster-b  network net-2  region us-west  gateways gw-b.example.com, 10.0.1.5
    cluster-c  network net-1  region eu-west  gateway 10.0.2.1

Golden files live in ``golden/``; ``UPDATE_GOLDEN=1`` rewrites them instead of
comparing.
"""

from __future__ import annotations

import difflib
import ipaddress
import os
import re
from pathlib import Path

import pytest
import yaml

from federation.model import (
    ChangeSet, ClusterChange, ClusterInfo, ClusterService, Locality, PortSpec, ServiceChange,
    ServiceKey, Snapshot, UserRulesChange, VMChange, VMWorkload,
)
from federation.model.ids import is_dns_label
from federation.model.policy import parse_duration
from tests.support import crd_schemas

HERE = Path(__file__).resolve().parent
GOLDEN = HERE / "golden"

REVIEWS = ServiceKey("default", "reviews")
RATINGS = ServiceKey("default", "ratings")
HTTP = PortSpec("http", 9080, "HTTP", 9080)
GRPC = PortSpec("grpc", 9090, "GRPC", 9090)

NAMESPACES = frozenset({"default", "istio-system"})  # what each cluster already has
CLUSTERS = {
    "cluster-a": ClusterInfo("cluster-a", "net-1", "us-east", ("10.0.0.1",), namespaces=NAMESPACES),
    "cluster-b": ClusterInfo("cluster-b", "net-2", "us-west", ("10.0.1.5", "gw-b.example.com"),
                             namespaces=NAMESPACES),
    "cluster-c": ClusterInfo("cluster-c", "net-1", "eu-west", ("10.0.2.1",), namespaces=NAMESPACES),
}


def loc(text: str) -> Locality:
    return Locality.parse(text)


def service(cluster: str, key: ServiceKey = REVIEWS, endpoints=(), ports=(HTTP,),
            selector=None, labels=None, service_account="bookinfo-reviews") -> ClusterService:
    selector = {"app": key.name} if selector is None else selector
    labels = {"app": key.name, "tier": "backend"} if labels is None else labels
    return ClusterService(
        cluster=cluster, key=key, ports=tuple(ports),
        selector=tuple(sorted(selector.items())), labels=tuple(sorted(labels.items())),
        service_account=service_account,
        endpoints=tuple(sorted((loc(where), count) for where, count in endpoints)),
    )


def vm(name: str, key: ServiceKey = RATINGS, address: str = "192.168.10.7", network: str = "vm-net",
       locality: str = "on-prem/rack-1", ports=(HTTP,)) -> VMWorkload:
    return VMWorkload(name=name, key=key, address=address, network=network, locality=loc(locality),
                      labels=(("app", key.name), ("version", "v1")),
                      service_account=f"{key.name}-vm", ports=tuple(ports))


def snapshot(services=(), vms=(), user_rules=None, clusters=None, user_routes=None) -> Snapshot:
    """A snapshot built the way the registry builds one: from change sets."""
    clusters = CLUSTERS if clusters is None else clusters
    changes = [ClusterChange(name, info) for name, info in clusters.items()]
    changes += [ServiceChange(s.cluster, s.key, s) for s in services]
    changes += [VMChange(v.name, v) for v in vms]
    changes += [UserRulesChange(c, frozenset((user_rules or {}).get(c, ())), frozenset((user_routes or {}).get(c, ())))
                for c in sorted(set(user_rules or {}) | set(user_routes or {}))]
    snap, _ = Snapshot().apply(ChangeSet(tuple(changes)))
    return snap


# --- golden files -----------------------------------------------------------------
def dump(objects: list[dict]) -> str:
    return yaml.safe_dump_all(objects, sort_keys=True, default_flow_style=False) if objects else ""


def assert_golden(name: str, objects: list[dict]) -> None:
    """Compare ``objects`` with ``golden/<name>.yaml`` (rewrite it with UPDATE_GOLDEN=1)."""
    path = GOLDEN / f"{name}.yaml"
    text = dump(objects)
    if os.environ.get("UPDATE_GOLDEN") == "1":
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return
    if not path.exists():
        pytest.fail(f"golden file {path} missing; create it with UPDATE_GOLDEN=1")
    expected = path.read_text(encoding="utf-8")
    if text != expected:
        diff = "".join(difflib.unified_diff(expected.splitlines(True), text.splitlines(True),
                                            f"golden/{name}.yaml", "rendered"))
        pytest.fail(f"rendered objects differ from golden/{name}.yaml "
                    f"(UPDATE_GOLDEN=1 to accept):\n{diff}")


# --- schema checks ------------------------------------------------------------------
_PORT_NAME = re.compile(r"^[a-zA-Z0-9](?:[-a-zA-Z0-9]*[a-zA-Z0-9])?$")
_HOSTNAME = re.compile(r"^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def schema_errors(obj: dict) -> list[str]:
    """Schema errors (strict: unknown fields too) plus the CEL rules of our kinds,
    which the schema loader does not evaluate, plus our own naming rule."""
    schemas = crd_schemas()
    api_version, kind = obj.get("apiVersion"), obj.get("kind")
    if api_version == "v1":
        return _core_errors(obj)
    if not schemas.knows(api_version, kind):
        return [f"{api_version} {kind}: no CRD schema for it"]
    errors = schemas.validate(obj)
    name = obj["metadata"]["name"]
    if not is_dns_label(name):
        errors.append(f"metadata.name: {name!r} is not a DNS-1123 label")
    spec = obj.get("spec", {})
    if kind == "WorkloadEntry":
        errors += _port_map_errors(spec.get("ports"), "spec.ports")
        if not spec.get("address") and not spec.get("network"):
            errors.append("spec: Address is required")
    elif kind == "ServiceEntry":
        numbers = [p["number"] for p in spec.get("ports", [])]
        if len(numbers) != len(set(numbers)):
            errors.append("spec.ports: port number cannot be duplicated")
        names = [p["name"] for p in spec.get("ports", [])]
        if len(names) != len(set(names)):
            errors.append("spec.ports: duplicate port names")
        if "workloadSelector" in spec and "endpoints" in spec:
            errors.append("spec: only one of WorkloadSelector or Endpoints can be set")
        for value in spec.get("workloadSelector", {}).get("labels", {}).values():
            if "*" in value:
                errors.append("spec.workloadSelector.labels: wildcard is not supported in selector")
        if "*" in spec.get("hosts", []):
            errors.append("spec.hosts: hostname cannot be wildcard")
    elif kind == "DestinationRule":
        outlier = spec.get("trafficPolicy", {}).get("outlierDetection", {})
        for field in ("interval", "baseEjectionTime"):
            if field in outlier:
                try:
                    parse_duration(outlier[field])
                except ValueError as exc:
                    errors.append(f"spec.trafficPolicy.outlierDetection.{field}: {exc}")
    elif kind == "Gateway" and api_version.startswith("gateway.networking.k8s.io/"):
        errors += _gateway_api_errors(spec)
    return errors


def _core_errors(obj: dict) -> list[str]:
    """Core kinds (stub Services, Namespaces) against Kubernetes' own schema."""
    import kubernetes_validate
    try:
        kubernetes_validate.validate(obj, "1.32", strict=True)
    except kubernetes_validate.ValidationError as exc:
        return [f"{'/'.join(str(p) for p in exc.path) or '(root)'}: {exc.message}"]
    errors = []
    if obj["kind"] == "Service":
        ports = obj["spec"].get("ports", [])
        names = [p.get("name", "") for p in ports]
        if len(ports) > 1 and (not all(names) or len(set(names)) != len(names)):
            errors.append("spec.ports: every port of a multi-port Service needs a unique name")
        for port in ports:
            if not is_dns_label(port.get("name", "x")) or len(port.get("name", "")) > 15:
                errors.append(f"spec.ports: {port.get('name')!r} is not a valid port name")
    return errors


def _port_map_errors(ports, where: str) -> list[str]:
    errors = []
    for name, number in (ports or {}).items():
        if len(name) >= 63 or not _PORT_NAME.match(name):
            errors.append(f"{where}: port name must be valid: {name!r}")
        if not 0 < number <= 65535:
            errors.append(f"{where}.{name}: port must be between 1-65535")
    return errors


def _gateway_api_errors(spec: dict) -> list[str]:
    errors = []
    seen = set()
    for index, address in enumerate(spec.get("addresses", [])):
        value, kind = address.get("value"), address.get("type", "IPAddress")
        if kind == "IPAddress":
            try:
                ipaddress.ip_address(value)
            except ValueError:
                errors.append(f"spec.addresses[{index}].value: {value!r} is not an IP address")
        elif kind == "Hostname" and not _HOSTNAME.match(value or ""):
            errors.append(f"spec.addresses[{index}].value: {value!r} is not a hostname")
        if (kind, value) in seen:
            errors.append(f"spec.addresses[{index}]: {kind} values must be unique")
        seen.add((kind, value))
    names = [listener["name"] for listener in spec.get("listeners", [])]
    if len(names) != len(set(names)):
        errors.append("spec.listeners: Listener name must be unique within the Gateway")
    for listener in spec.get("listeners", []):
        if listener["protocol"] == "TLS" and not listener.get("tls", {}).get("mode"):
            errors.append("spec.listeners: tls mode must be set for protocol TLS")
    return errors


def assert_valid(objects: list[dict]) -> None:
    """Every object validates against its CRD schema."""
    problems = {f"{o['kind']} {o['metadata'].get('namespace', '')}/{o['metadata']['name']}": schema_errors(o)
                for o in objects}
    problems = {ref: errs for ref, errs in problems.items() if errs}
    assert not problems, problems
