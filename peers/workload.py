"""What ``MemberCluster.deploy`` writes for one service, as plain dicts (pure).

No kubelet or controller-manager runs beside the test API servers, so the
objects they would produce are written directly: Pods bound to a Node and then
given a Running/Ready status with an IP, and the EndpointSlice labelled and
owned as the endpointslice controller writes it. Shapes shared with the
simulator come from ``kubesim.workloads``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Iterable, Sequence, Union

from kubesim import workloads as shapes
from peers.errors import PeerError

CONTAINER_IMAGE = "registry.invalid/peers/app:1"  # never pulled: no kubelet runs
TLS_MODE_LABEL = "security.istio.io/tlsMode"
HEADLESS_LABEL = "service.kubernetes.io/headless"
MANAGED_BY_LABEL = "endpointslice.kubernetes.io/managed-by"
SLICE_CONTROLLER = "endpointslice-controller.k8s.io"


@dataclass(frozen=True)
class PortSpec:
    """A Service port; ``target_port`` an int, a container port name, or None (= ``port``)."""

    name: str
    port: int
    target_port: int | str | None = None
    container_port: int | None = None  # for a named target port; default ``port``
    protocol: str = "TCP"
    app_protocol: str | None = None

    @property
    def number(self) -> int:
        """The container port number endpoints carry."""
        if isinstance(self.target_port, int):
            return self.target_port
        return self.container_port or self.port

    def service_port(self) -> dict:
        entry: dict = {"port": self.port, "protocol": self.protocol,
                       "targetPort": self.target_port if self.target_port is not None else self.port}
        if self.name:
            entry["name"] = self.name
        if self.app_protocol:
            entry["appProtocol"] = self.app_protocol
        return entry

    def container_port_entry(self) -> dict:
        entry: dict = {"containerPort": self.number, "protocol": self.protocol}
        if isinstance(self.target_port, str):
            entry["name"] = self.target_port
        return entry


PortLike = Union[PortSpec, int, Sequence]


def port_specs(ports: Iterable[PortLike]) -> list[PortSpec]:
    """Accept ``PortSpec``, a bare number, ``(name, port)`` or ``(name, port, target_port)``."""
    specs: list[PortSpec] = []
    for item in ports:
        if isinstance(item, PortSpec):
            specs.append(item)
        elif isinstance(item, int):
            specs.append(PortSpec("", item))
        elif isinstance(item, (tuple, list)) and 2 <= len(item) <= 3 and isinstance(item[1], int):
            specs.append(PortSpec(str(item[0]), item[1], item[2] if len(item) == 3 else None))
        else:
            raise PeerError(f"port {item!r}: expected PortSpec, a number, (name, port) or "
                            "(name, port, target_port)")
    if not specs:
        raise PeerError("a service needs at least one port")
    if len(specs) > 1 and any(not s.name for s in specs):
        raise PeerError("every port of a multi-port service needs a name")
    if len({s.name for s in specs}) != len(specs):
        raise PeerError(f"duplicate port names in {[s.name for s in specs]}")
    return specs


@dataclass
class PodState:
    name: str
    zone: str
    node: str
    ip: str
    ready: bool
    uid: str = ""


@dataclass
class Workload:
    """One deployed service: its Service, Pods (in order) and their EndpointSlice."""

    namespace: str
    name: str
    ports: list[PortSpec]
    service_account: str
    headless: bool = False
    sidecar: bool = True
    labels: dict[str, str] = field(default_factory=dict)
    pods: list[PodState] = field(default_factory=list)
    service_uid: str = ""
    next_index: int = 0

    @property
    def selector(self) -> dict[str, str]:
        return {"app": self.name}

    @property
    def slice_name(self) -> str:
        return f"{self.name}-peers"


def now_rfc3339() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def service_object(w: Workload) -> dict:
    obj = shapes.service(w.name, w.namespace, labels={"app": w.name, **w.labels}, selector=w.selector)
    obj["spec"]["ports"] = [p.service_port() for p in w.ports]
    if w.headless:
        obj["spec"]["clusterIP"] = "None"
    return obj


def service_account_object(namespace: str, name: str) -> dict:
    return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name, "namespace": namespace}}


def pod_object(w: Workload, pod: PodState) -> dict:
    labels = {**w.selector, **w.labels}
    if w.sidecar:
        labels[TLS_MODE_LABEL] = "istio"
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": pod.name, "namespace": w.namespace, "labels": labels},
            "spec": {"nodeName": pod.node, "serviceAccountName": w.service_account,
                     "containers": [{"name": "app", "image": CONTAINER_IMAGE,
                                     "ports": [p.container_port_entry() for p in w.ports]}]}}


def pod_status(pod: PodState, host_ip: str) -> dict:
    """The status a kubelet reports for a started container (ready or not)."""
    ready, now = "True" if pod.ready else "False", now_rfc3339()
    return {"status": {
        "phase": "Running", "podIP": pod.ip, "podIPs": [{"ip": pod.ip}],
        "hostIP": host_ip, "hostIPs": [{"ip": host_ip}], "startTime": now,
        "conditions": [{"type": "PodScheduled", "status": "True", "lastTransitionTime": now},
                       {"type": "Initialized", "status": "True", "lastTransitionTime": now},
                       {"type": "ContainersReady", "status": ready, "lastTransitionTime": now},
                       {"type": "Ready", "status": ready, "lastTransitionTime": now}],
        "containerStatuses": [{"name": "app", "image": CONTAINER_IMAGE, "imageID": "", "ready": pod.ready,
                               "started": True, "restartCount": 0,
                               "state": {"running": {"startedAt": now}}}],
    }}


def endpoint_slice_object(w: Workload) -> dict:
    """The slice the endpointslice controller keeps for ``w``: labels, owner, targetRefs."""
    endpoints = [shapes.Endpoint(p.ip, p.node, p.zone, p.ready) for p in w.pods]
    obj = shapes.endpoint_slice(w.name, w.namespace, endpoints, [(p.name, p.number) for p in w.ports],
                                suffix="peers")
    labels = {**w.labels, "app": w.name, shapes.SERVICE_NAME_LABEL: w.name, MANAGED_BY_LABEL: SLICE_CONTROLLER}
    if w.headless:
        labels[HEADLESS_LABEL] = ""
    obj["metadata"]["labels"] = labels
    if w.service_uid:
        obj["metadata"]["ownerReferences"] = [{"apiVersion": "v1", "kind": "Service", "name": w.name,
                                               "uid": w.service_uid, "controller": True,
                                               "blockOwnerDeletion": True}]
    for entry, pod in zip(obj["endpoints"], w.pods):
        entry["targetRef"] = {"kind": "Pod", "name": pod.name, "namespace": w.namespace, "uid": pod.uid}
    for entry, spec in zip(obj["ports"], w.ports):
        entry["protocol"] = spec.protocol
        if spec.app_protocol:
            entry["appProtocol"] = spec.app_protocol
    return obj
