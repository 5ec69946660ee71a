"""A bootstrapped member cluster on a real API server, and the workloads deployed into it.

``bootstrap()`` installs the CRDs Istio and the hub need (from ``../shared``),
``istio-system`` with its network label, one Node per zone and the east-west
gateway (LoadBalancer Service with its ingress set through the status
subresource, and its Pod). ``deploy`` and friends write what a kubelet and the
endpointslice controller would; every write goes through the real API server.
"""

from __future__ import annotations

import subprocess
import threading
import time
from functools import lru_cache, wraps
from pathlib import Path
from typing import Iterable, Sequence

import yaml

from federation import errors
from federation.kube.client import ENDPOINT_SLICE, MERGE_PATCH, NAMESPACE, NODE, POD, SERVICE, KubeClient, ResourceType
from kubesim import workloads as shapes
from peers.apiserver import KubeAPIServer
from peers.errors import PeerError
from peers.workload import (PodState, PortLike, PortSpec, Workload, endpoint_slice_object, now_rfc3339,
                            pod_object, pod_status, port_specs, service_account_object, service_object)

SHARED_DIR = Path(__file__).resolve().parents[2] / "shared"
CRD_FILES = ("istio/crds.gen.yaml", "gateway-api/*.yaml", "mcs-api/*.yaml")
KUBECTL = "/usr/bin/kubectl"
FIELD_MANAGER = "peers"
ESTABLISH_TIMEOUT = 60.0
ADMISSION_RETRY = 10.0  # admission plugins read namespaces/service accounts from an informer

SERVICE_ACCOUNT = ResourceType("", "v1", "serviceaccounts", "ServiceAccount")
CRD = ResourceType("apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition",
                   namespaced=False)
GATEWAY_PORTS = (PortSpec("status-port", 15021), PortSpec("tls", shapes.EASTWEST_PORT),
                 PortSpec("tls-istiod", 15012), PortSpec("tls-webhook", 15017))

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@lru_cache(maxsize=4)
def load_crds(shared_dir: Path) -> tuple[dict, ...]:
    """Every CRD of ``CRD_FILES`` under ``shared_dir`` (parsed once per process)."""
    crds: list[dict] = []
    for pattern in CRD_FILES:
        files = sorted(shared_dir.glob(pattern))
        if not files:
            raise PeerError(f"no CRD files match {shared_dir / pattern} (is ../shared present?)")
        for path in files:
            crds += [doc for doc in yaml.load_all(path.read_text(), Loader=_Loader)
                     if isinstance(doc, dict) and doc.get("kind") == "CustomResourceDefinition"]
    return tuple(crds)


def _locked(method):
    @wraps(method)
    def run(self, *args, **kwargs):
        with self._lock:
            return method(self, *args, **kwargs)
    return run


class MemberCluster:
    """A member cluster: ``bootstrap()``, then ``deploy``/``set_ready``/``scale``/``remove``."""

    def __init__(self, apiserver: KubeAPIServer, name: str | None = None, network: str = "network-1",
                 region: str = "region-1", zones: Sequence[str] = ("zone-a",), *, number: int | None = None,
                 gateway_address: str | None = None, gateway_hostname: str | None = None,
                 shared_dir: Path | None = None):
        self.apiserver = apiserver
        self.name = name or apiserver.name
        self.network, self.region = network, region
        self.zones = list(zones)
        if not self.zones:
            raise PeerError(f"cluster {self.name!r}: at least one zone is needed")
        self.number = number or shapes.cluster_number_of(self.name)
        if not 1 <= self.number <= 250:
            raise PeerError(f"cluster {self.name!r}: number {self.number} is outside 1..250")
        self.gateway_hostname = gateway_hostname
        self.gateway_address = gateway_address or f"172.18.{self.number}.10"
        self.shared_dir = shared_dir or SHARED_DIR
        self.workloads: dict[tuple[str, str], Workload] = {}
        self.gateway: Workload | None = None
        self._client: KubeClient | None = None
        self._types: dict[tuple[str, str], ResourceType] = {}
        self._next_ip = 1
        self._lock = threading.RLock()  # workloads and address counters; the API calls are thread-safe

    @property
    def client(self) -> KubeClient:
        """The official client as the cluster admin (``federation.kube``)."""
        if self._client is None:
            self._client = KubeClient(self.name, self.apiserver.admin_kubeconfig.read_text(), timeout=30.0)
        return self._client

    @property
    def kubeconfig(self) -> Path:
        return self.apiserver.admin_kubeconfig

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    # -- generic access -----------------------------------------------------
    def resource_type(self, api_version: str, kind: str) -> ResourceType:
        """Where ``kind`` is served (API discovery, cached)."""
        key = (api_version, kind)
        if key not in self._types:
            group, _, version = api_version.rpartition("/")
            listing = self.client.request("GET", f"/apis/{api_version}" if group else f"/api/{version}")
            for resource in listing.get("resources", []):
                if resource.get("kind") == kind and "/" not in resource.get("name", "/"):
                    self._types[key] = ResourceType(group, version, resource["name"], kind,
                                                    bool(resource.get("namespaced")))
                    break
            else:
                raise PeerError(f"cluster {self.name!r} does not serve {api_version} {kind}")
        return self._types[key]

    def _type_of(self, obj: dict) -> ResourceType:
        try:
            return self.resource_type(obj["apiVersion"], obj["kind"])
        except KeyError as exc:
            raise PeerError(f"object without apiVersion/kind: {str(obj)[:120]}") from exc

    def apply(self, obj: dict) -> dict:
        """Server-side apply of any served kind, as the admin; returns the stored object."""
        return self._apply(self._type_of(obj), obj)

    def get(self, api_version: str, kind: str, namespace: str | None, name: str) -> dict | None:
        return self.client.get(self.resource_type(api_version, kind), namespace, name)

    def delete(self, api_version: str, kind: str, namespace: str | None, name: str) -> bool:
        return self.client.delete(self.resource_type(api_version, kind), namespace, name)

    def kubectl(self, *args: str, input: str | None = None, timeout: float = 60.0) -> str:
        """Run kubectl against this cluster as the admin; its stdout, or PeerError with stderr."""
        try:
            done = subprocess.run([KUBECTL, "--kubeconfig", str(self.kubeconfig), *args], input=input,
                                  capture_output=True, text=True, timeout=timeout, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise PeerError(f"kubectl {' '.join(args)} on {self.name!r}: {exc}") from exc
        if done.returncode != 0:
            raise PeerError(f"kubectl {' '.join(args)} on {self.name!r} failed: {done.stderr.strip()[:500]}")
        return done.stdout

    def token(self, namespace: str, service_account: str, audiences: Sequence[str] = (),
              seconds: int = 3600) -> str:
        """A TokenRequest token of an existing ServiceAccount (``audiences`` default: the API server)."""
        review = self.client.request(
            "POST", SERVICE_ACCOUNT.path(namespace, service_account) + "/token",
            body={"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                  "spec": {"audiences": list(audiences) or None, "expirationSeconds": seconds}})
        return review["status"]["token"]

    def kubeconfig_for(self, namespace: str, service_account: str, seconds: int = 3600) -> dict:
        """A kubeconfig (dict) acting as that ServiceAccount: only what RBAC grants it."""
        return self.apiserver.kubeconfig_for_token(self.token(namespace, service_account, seconds=seconds),
                                                   user=f"{namespace}-{service_account}")

    def _apply(self, rtype: ResourceType, obj: dict) -> dict:
        deadline = time.monotonic() + ADMISSION_RETRY
        while True:
            try:
                return self.client.apply(rtype, obj, FIELD_MANAGER)
            except (errors.NotFound, errors.AuthError) as exc:
                # A namespace or service account created a moment ago may not have reached
                # the admission plugins' informers yet; anything else is a real refusal.
                if "not found" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def _patch_status(self, rtype: ResourceType, namespace: str | None, name: str, status: dict) -> dict:
        return self.client.request("PATCH", rtype.path(namespace, name) + "/status", body=status,
                                   content_type=MERGE_PATCH)

    # -- bootstrap ----------------------------------------------------------
    def bootstrap(self, timeout: float = ESTABLISH_TIMEOUT) -> None:
        self.install_crds(timeout)
        self._apply(NAMESPACE, shapes.istio_system_namespace(self.network))
        for zone in self.zones:
            node = shapes.node(self.node_name(zone), self.region, zone)
            self._apply(NODE, node)
            self._patch_status(NODE, None, node["metadata"]["name"], {"status": {
                "addresses": [{"type": "InternalIP", "address": self.node_ip(zone)},
                              {"type": "Hostname", "address": node["metadata"]["name"]}],
                "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                                "lastHeartbeatTime": now_rfc3339(), "lastTransitionTime": now_rfc3339()}]}})
        self._deploy_gateway()

    def install_crds(self, timeout: float = ESTABLISH_TIMEOUT) -> list[str]:
        crds = load_crds(self.shared_dir)
        for crd in crds:
            self._apply(CRD, crd)
        names = {crd["metadata"]["name"] for crd in crds}
        deadline = time.monotonic() + timeout
        while True:
            established = {item["metadata"]["name"] for item in self.client.list(CRD).get("items", [])
                           if any(c.get("type") == "Established" and c.get("status") == "True"
                                  for c in (item.get("status") or {}).get("conditions") or [])}
            if names <= established:
                return sorted(names)
            if time.monotonic() > deadline:
                raise PeerError(f"cluster {self.name!r}: CRDs not Established within {timeout:.0f}s: "
                                f"{sorted(names - established)}")
            time.sleep(0.1)

    def node_name(self, zone: str) -> str:
        if zone not in self.zones:
            raise PeerError(f"cluster {self.name!r} has no zone {zone!r} (zones: {self.zones})")
        return f"{self.name}-{zone}-0"

    def node_ip(self, zone: str) -> str:
        return f"192.168.{self.number}.{self.zones.index(zone) + 1}"

    def _deploy_gateway(self) -> None:
        w = Workload("istio-system", shapes.EASTWEST_NAME, list(GATEWAY_PORTS), shapes.EASTWEST_NAME,
                     sidecar=False, labels={"istio": "eastwestgateway", shapes.NETWORK_LABEL: self.network})
        service = shapes.eastwest_gateway_service(self.network, self.gateway_address)
        ingress = service.pop("status")
        if self.gateway_hostname:
            ingress = {"loadBalancer": {"ingress": [{"hostname": self.gateway_hostname}]}}
        self._deploy(w, service, [(self.zones[0], True)])
        self._patch_status(SERVICE, w.namespace, w.name, {"status": ingress})
        self.gateway = w

    # -- workloads ----------------------------------------------------------
    @_locked
    def deploy(self, namespace: str, name: str, ports: Iterable[PortLike] = (("http", 8080),),
               pods: Sequence[tuple[str, bool]] | None = None, *, service_account: str | None = None,
               headless: bool = False, sidecar: bool = True, labels: dict[str, str] | None = None) -> Workload:
        """Namespace (if missing), ServiceAccount, Service, Pods (Running; Ready or not) and the
        EndpointSlice listing them. ``pods``: one ``(zone, ready)`` per Pod (default one per zone)."""
        if (namespace, name) in self.workloads:
            raise PeerError(f"cluster {self.name!r}: {namespace}/{name} is already deployed")
        w = Workload(namespace, name, port_specs(ports), service_account or name, headless=headless,
                     sidecar=sidecar, labels=dict(labels or {}))
        if self.client.get(NAMESPACE, None, namespace) is None:
            self._apply(NAMESPACE, shapes.namespace(namespace))
        self._deploy(w, service_object(w), pods if pods is not None else [(z, True) for z in self.zones])
        self.workloads[(namespace, name)] = w
        return w

    def _deploy(self, w: Workload, service: dict, pods: Sequence[tuple[str, bool]]) -> None:
        self._apply(SERVICE_ACCOUNT, service_account_object(w.namespace, w.service_account))
        w.service_uid = self._apply(SERVICE, service)["metadata"]["uid"]
        w.pods.extend(self._add_pod(w, zone, ready) for zone, ready in pods)
        self._write_slice(w)

    def workload(self, namespace: str, name: str) -> Workload:
        try:
            return self.workloads[(namespace, name)]
        except KeyError:
            raise PeerError(f"cluster {self.name!r}: {namespace}/{name} was not deployed here") from None

    def _add_pod(self, w: Workload, zone: str, ready: bool) -> PodState:
        pod = PodState(f"{w.name}-{w.next_index}", zone, self.node_name(zone),
                       shapes.pod_address(self.number, self._next_ip), ready)
        w.next_index += 1
        self._next_ip += 1
        pod.uid = self._apply(POD, pod_object(w, pod))["metadata"]["uid"]
        self._patch_status(POD, w.namespace, pod.name, pod_status(pod, self.node_ip(zone)))
        return pod

    def _write_slice(self, w: Workload) -> None:
        self._apply(ENDPOINT_SLICE, endpoint_slice_object(w))

    @_locked
    def set_ready(self, namespace: str, name: str, index: int, ready: bool) -> None:
        """Flip the readiness of the ``index``-th Pod: its status and its EndpointSlice entry."""
        w = self.workload(namespace, name)
        if not 0 <= index < len(w.pods):
            raise PeerError(f"{namespace}/{name} has {len(w.pods)} pods; no index {index}")
        pod = w.pods[index]
        pod.ready = ready
        self._patch_status(POD, namespace, pod.name, pod_status(pod, self.node_ip(pod.zone)))
        self._write_slice(w)

    @_locked
    def scale(self, namespace: str, name: str, pods: Sequence[tuple[str, bool]]) -> Workload:
        """Make the Pods exactly ``pods`` (``(zone, ready)`` each): keep those whose zone matches
        by position, add new ones, delete the rest."""
        w = self.workload(namespace, name)
        kept: list[PodState] = []
        doomed: list[PodState] = []
        for i, (zone, ready) in enumerate(pods):
            old = w.pods[i] if i < len(w.pods) else None
            if old is not None and old.zone == zone:
                old.ready = ready
                self._patch_status(POD, namespace, old.name, pod_status(old, self.node_ip(zone)))
                kept.append(old)
            else:
                if old is not None:
                    doomed.append(old)
                kept.append(self._add_pod(w, zone, ready))
        doomed += w.pods[len(pods):]
        w.pods = kept
        for old in doomed:
            self._delete_pod(namespace, old.name)
        self._write_slice(w)
        return w

    def _delete_pod(self, namespace: str, name: str) -> None:
        # Without a kubelet to confirm a graceful stop, only an immediate delete removes a bound Pod.
        try:
            self.client.request("DELETE", POD.path(namespace, name), {"gracePeriodSeconds": "0"})
        except errors.NotFound:
            pass

    @_locked
    def remove(self, namespace: str, name: str) -> None:
        """Delete the Service, its Pods and EndpointSlice (namespace and ServiceAccount stay)."""
        w = self.workload(namespace, name)
        del self.workloads[(namespace, name)]
        self.client.delete(ENDPOINT_SLICE, namespace, w.slice_name)
        for pod in w.pods:
            self._delete_pod(namespace, pod.name)
        self.client.delete(SERVICE, namespace, name)
