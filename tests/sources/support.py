"""Helpers for the source tests: object builders, a recording sink, bounded waits."""

from __future__ import annotations

import threading

from federation.model import ChangeSet, ClusterChange, ServiceChange, UserRulesChange
from federation.model.ids import ServiceKey
from federation.sources.settings import SourceSettings
from tests.support import wait_for

CORE = "v1"
DISCOVERY = "discovery.k8s.io/v1"
ISTIO = "networking.istio.io/v1"
MCS = "multicluster.x-k8s.io/v1alpha1"

# Short back-off and early "unreachable" so fault tests finish quickly.
FAST = dict(
    backoff_initial_seconds=0.05,
    backoff_max_seconds=0.5,
    error_backoff_initial_seconds=0.2,
    error_backoff_max_seconds=1.0,
    unreachable_after_failures=1,
    watch_timeout=30,
    stop_timeout_seconds=5.0,
)


def fast_settings(**overrides) -> SourceSettings:
    return SourceSettings(**{**FAST, **overrides})


class Sink:
    """Records what a watcher emits and the states it reports."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.changesets: list[ChangeSet] = []
        self.states: list[str] = []

    def emit(self, changes: ChangeSet) -> None:
        with self._lock:
            self.changesets.append(changes)

    def on_state(self, state: str) -> None:
        with self._lock:
            self.states.append(state)

    def mark(self) -> int:
        """A position to look at later emissions from."""
        with self._lock:
            return len(self.changesets)

    def since(self, mark: int = 0) -> list[ChangeSet]:
        with self._lock:
            return list(self.changesets[mark:])

    def changes(self, mark: int = 0) -> list:
        return [change for cs in self.since(mark) for change in cs.changes]

    def service_changes(self, mark: int = 0, key: ServiceKey | None = None) -> list[ServiceChange]:
        return [c for c in self.changes(mark)
                if isinstance(c, ServiceChange) and (key is None or c.key == key)]

    def cluster_changes(self, mark: int = 0) -> list[ClusterChange]:
        return [c for c in self.changes(mark) if isinstance(c, ClusterChange)]

    def rules_changes(self, mark: int = 0) -> list[UserRulesChange]:
        return [c for c in self.changes(mark) if isinstance(c, UserRulesChange)]

    def services(self) -> dict:
        """The current view: key -> ClusterService, from every emission in order."""
        view: dict = {}
        for change in self.service_changes():
            if change.service is None:
                view.pop(change.key, None)
            else:
                view[change.key] = change.service
        return view

    def info(self):
        infos = self.cluster_changes()
        return infos[-1].info if infos else None

    def wait_state(self, state: str, timeout: float = 10.0) -> None:
        wait_for(lambda: state in self.states, timeout, f"state {state!r} (seen {self.states})")


# -- object builders -----------------------------------------------------------------
def namespace(name: str, labels: dict | None = None) -> dict:
    return {"apiVersion": CORE, "kind": "Namespace", "metadata": {"name": name, "labels": labels or {}}}


def node(name: str, region: str = "", zone: str = "") -> dict:
    labels = {}
    if region:
        labels["topology.kubernetes.io/region"] = region
    if zone:
        labels["topology.kubernetes.io/zone"] = zone
    return {"apiVersion": CORE, "kind": "Node", "metadata": {"name": name, "labels": labels}}


def service(ns: str, name: str, ports: list[dict] | None = None, selector: dict | None = None,
            labels: dict | None = None, annotations: dict | None = None, **spec) -> dict:
    body = {"ports": ports or [{"name": "http", "port": 8080, "targetPort": 8080}]}
    if selector is not False:
        body["selector"] = selector or {"app": name}
    body.update(spec)
    meta = {"name": name, "namespace": ns, "labels": labels or {}}
    if annotations:
        meta["annotations"] = annotations
    return {"apiVersion": CORE, "kind": "Service", "metadata": meta, "spec": body}


def endpoint(ip: str, node_name: str = "", zone: str = "", ready: bool | None = True, pod: str = "") -> dict:
    ep: dict = {"addresses": [ip]}
    if node_name:
        ep["nodeName"] = node_name
    if zone:
        ep["zone"] = zone
    if ready is not None:
        ep["conditions"] = {"ready": ready}
    if pod:
        ep["targetRef"] = {"kind": "Pod", "namespace": "", "name": pod}
    return ep


def endpoint_slice(ns: str, name: str, service_name: str, endpoints: list[dict]) -> dict:
    return {
        "apiVersion": DISCOVERY, "kind": "EndpointSlice",
        "metadata": {"name": name, "namespace": ns, "labels": {"kubernetes.io/service-name": service_name}},
        "addressType": "IPv4",
        "endpoints": endpoints,
        "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
    }


def gateway_service(ns: str = "istio-system", name: str = "istio-eastwestgateway",
                    external_ips: list[str] | None = None) -> dict:
    obj = service(ns, name, ports=[{"name": "tls", "port": 15443, "targetPort": 15443}],
                  selector={"istio": "eastwestgateway"}, labels={"istio": "eastwestgateway"},
                  type="LoadBalancer")
    if external_ips:
        obj["spec"]["externalIPs"] = external_ips
    return obj


def destination_rule(ns: str, name: str, host: str, owned_by_hub: bool = False) -> dict:
    labels = {"app.kubernetes.io/managed-by": "mesh-federation"} if owned_by_hub else {}
    return {"apiVersion": ISTIO, "kind": "DestinationRule",
            "metadata": {"name": name, "namespace": ns, "labels": labels},
            "spec": {"host": host}}


def virtual_service(ns: str, name: str, *hosts: str, owned_by_hub: bool = False) -> dict:
    labels = {"app.kubernetes.io/managed-by": "mesh-federation"} if owned_by_hub else {}
    return {"apiVersion": ISTIO, "kind": "VirtualService",
            "metadata": {"name": name, "namespace": ns, "labels": labels},
            "spec": {"hosts": list(hosts), "http": [{"route": [{"destination": {"host": hosts[0]}}]}]}}


def service_export(ns: str, name: str) -> dict:
    return {"apiVersion": MCS, "kind": "ServiceExport", "metadata": {"name": name, "namespace": ns}}
