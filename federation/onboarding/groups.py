"""WorkloadGroup: the hub resource a VM enrolls into.

Written by operators as YAML::

    apiVersion: federation.mesh/v1alpha1
    kind: WorkloadGroup
    metadata: {name: ratings, namespace: default}
    spec:
      labels: {app: ratings, version: v1}
      serviceAccount: ratings
      network: vm-net
      locality: us-east/us-east-1a
      ports: [{name: http, number: 9080, protocol: HTTP}]
      probe: {httpGet: {path: /healthz, port: 9080}, periodSeconds: 10}

The group's namespace and name are the service its VMs back; its service
account is the identity every VM of the group gets
(``spiffe://<trust-domain>/ns/<namespace>/sa/<serviceAccount>``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Mapping

from federation.errors import ValidationError
from federation.model.ids import Locality, PortSpec, ServiceKey, is_dns_label, is_dns_subdomain
from federation.model.validating import (
    check_header, check_labels, check_spec, check_unknown, is_label_value,
)

API_VERSION = "federation.mesh/v1alpha1"
KIND = "WorkloadGroup"
PROTOCOLS = ("HTTP", "HTTPS", "HTTP2", "GRPC", "GRPC-Web", "TCP", "TLS", "MONGO", "REDIS",
             "MYSQL", "UDP")

_TOP_FIELDS = ("apiVersion", "kind", "metadata", "spec")
_SPEC_FIELDS = ("labels", "serviceAccount", "network", "locality", "ports", "probe")
_PORT_FIELDS = ("name", "number", "protocol")
_PROBE_FIELDS = ("httpGet", "tcpSocket", "periodSeconds", "timeoutSeconds")
_HTTP_PATH = re.compile(r"^/[\x21-\x7e]*$")


@dataclass(frozen=True)
class Probe:
    """An HTTP GET (``http_path`` set) or a TCP connect to ``port`` on the VM."""

    port: int
    http_path: str = ""
    period_seconds: int = 10
    timeout_seconds: int = 1

    def to_dict(self) -> dict:
        out: dict[str, Any] = ({"httpGet": {"path": self.http_path, "port": self.port}}
                               if self.http_path else {"tcpSocket": {"port": self.port}})
        out["periodSeconds"] = self.period_seconds
        out["timeoutSeconds"] = self.timeout_seconds
        return out


@dataclass(frozen=True)
class WorkloadGroup:
    namespace: str
    name: str
    service_account: str
    labels: tuple[tuple[str, str], ...] = ()  # sorted
    network: str = ""
    locality: str = ""
    ports: tuple[PortSpec, ...] = ()
    probe: Probe | None = None

    def __str__(self) -> str:
        return f"{KIND} {self.namespace}/{self.name}"

    @property
    def key(self) -> ServiceKey:
        return ServiceKey(self.namespace, self.name)

    @property
    def parsed_locality(self) -> Locality:
        return Locality.parse(self.locality) if self.locality else Locality()

    def to_dict(self) -> dict:
        """The group as a document; ``parse_workload_group(g.to_dict()) == g``."""
        spec: dict[str, Any] = {"serviceAccount": self.service_account}
        if self.labels:
            spec["labels"] = dict(self.labels)
        if self.network:
            spec["network"] = self.network
        if self.locality:
            spec["locality"] = self.locality
        if self.ports:
            spec["ports"] = [{"name": p.name, "number": p.number, "protocol": p.protocol}
                             for p in self.ports]
        if self.probe is not None:
            spec["probe"] = self.probe.to_dict()
        return {"apiVersion": API_VERSION, "kind": KIND,
                "metadata": {"name": self.name, "namespace": self.namespace}, "spec": spec}


def parse_workload_group(doc: Any) -> WorkloadGroup:
    """Parse and validate a WorkloadGroup document.

    Raises ValidationError naming every bad field by its path, e.g.
    ``WorkloadGroup default/ratings: spec.ports[1].number: must be an integer
    from 1 to 65535, not 0``. ``metadata.namespace`` defaults to ``default``.
    """
    problems: list[str] = []
    namespace, name, where = check_header(doc, KIND, API_VERSION, _TOP_FIELDS, problems, name_is_label=True)
    spec = check_spec(doc, _SPEC_FIELDS, problems)
    group = None
    if spec is not None:
        group = WorkloadGroup(
            namespace=namespace, name=name,
            service_account=_service_account(spec.get("serviceAccount"), problems),
            labels=_labels(spec.get("labels"), problems),
            network=_label_value(spec.get("network"), "spec.network", problems),
            locality=_locality(spec.get("locality"), problems),
            ports=_ports(spec.get("ports"), problems),
            probe=_probe(spec.get("probe"), problems))
    if problems or group is None:
        raise ValidationError(f"{where}: " + "; ".join(problems))
    return group


def _service_account(value: Any, problems: list[str]) -> str:
    if value is None or value == "":
        problems.append("spec.serviceAccount: required")
        return ""
    if not is_dns_subdomain(value):
        problems.append(f"spec.serviceAccount: {value!r} is not a DNS-1123 subdomain")
        return ""
    return value


def _labels(raw: Any, problems: list[str]) -> tuple[tuple[str, str], ...]:
    if raw is None:
        return ()
    return check_labels(raw, "spec.labels", problems) or ()


def _label_value(value: Any, where: str, problems: list[str]) -> str:
    if value is None or value == "":
        return ""
    if not is_label_value(value):
        problems.append(f"{where}: {value!r} is not a valid label value")
        return ""
    return value


def _locality(value: Any, problems: list[str]) -> str:
    if value is None or value == "":
        return ""
    parts = value.split("/") if isinstance(value, str) else []
    if not 1 <= len(parts) <= 3 or not all(
            p and is_label_value(p) for p in parts):
        problems.append(f"spec.locality: {value!r} is not region[/zone[/subzone]] "
                        "(each part a label value)")
        return ""
    return value


def _port_number(value: Any, where: str, problems: list[str]) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        problems.append(f"{where}: must be an integer from 1 to 65535, not {value!r}")
        return 0
    return value


def _ports(raw: Any, problems: list[str]) -> tuple[PortSpec, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        problems.append("spec.ports: must be a list of {name, number, protocol}")
        return ()
    out: list[PortSpec] = []
    names: set[str] = set()
    numbers: set[int] = set()
    for index, item in enumerate(raw):
        where = f"spec.ports[{index}]"
        if not isinstance(item, Mapping):
            problems.append(f"{where}: must be a mapping with name, number and protocol")
            continue
        check_unknown(item, _PORT_FIELDS, f"{where}.", problems)
        name, protocol = item.get("name"), item.get("protocol", "TCP")
        number = _port_number(item.get("number"), f"{where}.number", problems)
        ok = bool(number)
        if not isinstance(name, str) or not name:
            problems.append(f"{where}.name: required")
            ok = False
        elif len(name) > 15 or not is_dns_label(name):
            problems.append(f"{where}.name: {name!r} is not a port name "
                            "(lower-case letters, digits, '-', at most 15)")
            ok = False
        elif name in names:
            problems.append(f"{where}.name: {name!r} is listed twice")
            ok = False
        if protocol not in PROTOCOLS:
            problems.append(f"{where}.protocol: {protocol!r} is not one of {', '.join(PROTOCOLS)}")
            ok = False
        if number and number in numbers:
            problems.append(f"{where}.number: {number} is listed twice")
            ok = False
        if ok:
            names.add(name)
            numbers.add(number)
            out.append(PortSpec(name, number, protocol))
    return tuple(out)


def _probe(raw: Any, problems: list[str]) -> Probe | None:
    if raw is None:
        return None
    where = "spec.probe"
    if not isinstance(raw, Mapping):
        problems.append(f"{where}: must be a mapping")
        return None
    check_unknown(raw, _PROBE_FIELDS, f"{where}.", problems)
    http, tcp = raw.get("httpGet"), raw.get("tcpSocket")
    if (http is None) == (tcp is None):
        problems.append(f"{where}: exactly one of httpGet or tcpSocket is required")
        return None
    period = _seconds(raw.get("periodSeconds", 10), f"{where}.periodSeconds", 1, 3600, problems)
    timeout = _seconds(raw.get("timeoutSeconds", 1), f"{where}.timeoutSeconds", 1, 60, problems)
    kind = "httpGet" if http is not None else "tcpSocket"
    body = http if http is not None else tcp
    if not isinstance(body, Mapping):
        problems.append(f"{where}.{kind}: must be a mapping")
        return None
    check_unknown(body, ("path", "port") if http is not None else ("port",), f"{where}.{kind}.", problems)
    port = _port_number(body.get("port"), f"{where}.{kind}.port", problems)
    path = ""
    if http is not None:
        path = body.get("path", "/")
        if not isinstance(path, str) or len(path) > 1024 or not _HTTP_PATH.match(path):
            problems.append(f"{where}.httpGet.path: {path!r} is not an absolute URL path")
            return None
    if not port or not period or not timeout:
        return None
    return Probe(port=port, http_path=path, period_seconds=period, timeout_seconds=timeout)


def _seconds(value: Any, where: str, low: int, high: int, problems: list[str]) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        problems.append(f"{where}: must be an integer from {low} to {high}, not {value!r}")
        return 0
    return value


