"""Helpers of the trust integration tests: a running hub with its clients, reading a
cluster's ``cacerts`` with the official kubernetes client, certificate checks, bounded waits."""

from __future__ import annotations

import base64
import io
import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from cryptography import x509
from kubernetes import client as k8s
from kubernetes import config as k8s_config

from federation import logging_setup
from federation.api.gen.federation.v1 import admin_pb2, admin_pb2_grpc, trust_pb2_grpc
from federation.serving import HubService, Workdir
from federation.settings import HubSettings
from kubesim import SimCluster, SimFleet
from federation.trust import certificates as certs
from federation.trust.cacerts import STEP_ANNOTATION
from federation.trust.gating import ROOTS_CONFIGMAP
from federation.trust.client import TrustClient
from tests.support import wait_for

FILES = ("ca-cert.pem", "ca-key.pem", "cert-chain.pem", "root-cert.pem")
WAIT = 15.0  # generous bound for one condition; the usual wait is well under a second


# -- a hub --------------------------------------------------------------------------
def hub_settings(wd: Workdir, store_url: str = "memory://", store_prefix: str = "/mesh-federation/",
                 **overrides) -> HubSettings:
    settings = dict(initial_sync_timeout=2.0, cluster_timeout=5.0,
                    rotation_soak=0.0)  # tests of the soak set their own
    settings.update(overrides)
    return HubSettings(store_url=store_url, store_prefix=store_prefix, listen="127.0.0.1:0",
                       tls_cert=str(wd.cert), tls_key=str(wd.key),
                       admin_token_file=str(wd.token), kek_file=str(wd.kek), **settings)


@dataclass
class RunningHub:
    """A started ``HubService`` and a client of its admin API (Admin and Trust calls)."""

    service: HubService
    client: TrustClient
    wd: Workdir
    stopped: bool = False

    @property
    def address(self) -> str:
        return self.service.api.address

    def cli_flags(self) -> list[str]:
        return ["--hub", self.address, "--ca", str(self.wd.ca), "--token-file", str(self.wd.token)]

    def register(self, fleet: SimFleet, *names: str) -> None:
        for name in names:
            self.client.register_cluster(name, fleet.kubeconfig_path(name).read_text())

    def stop(self) -> None:
        if not self.stopped:
            self.stopped = True
            self.client.close()
            self.service.stop()


def start_hub(wd: Workdir, **settings) -> RunningHub:
    service = HubService(hub_settings(wd, **settings))
    service.start()
    try:
        client = TrustClient(service.api.address, ca_file=wd.ca,
                             token=wd.token.read_text().strip(), timeout=10)
    except BaseException:
        service.stop()
        raise
    return RunningHub(service, client, wd)


class RawStubs:
    """The generated stubs on their own TLS channel: the raw answers, byte for byte."""

    def __init__(self, hub: RunningHub):
        creds = grpc.ssl_channel_credentials(root_certificates=hub.wd.ca.read_bytes())
        self._channel = grpc.secure_channel(hub.address, creds)
        self.metadata = (("authorization", f"Bearer {hub.wd.token.read_text().strip()}"),)
        self.trust = trust_pb2_grpc.TrustStub(self._channel)
        self.admin = admin_pb2_grpc.AdminStub(self._channel)
        self.pb = admin_pb2

    def close(self) -> None:
        self._channel.close()


# -- reading a cluster's cacerts with the official client ---------------------------------
@dataclass
class CACertsView:
    files: dict[str, str]
    annotations: dict[str, str]
    labels: dict[str, str]
    resource_version: str
    raw_data: dict[str, str] = field(repr=False, default_factory=dict)

    @property
    def step(self) -> int:
        return int(self.annotations.get(STEP_ANNOTATION, "-1"))


class ClusterReader:
    """``kubernetes.client.CoreV1Api`` on a member cluster's kubeconfig."""

    def __init__(self, kubeconfig: Path):
        self._api = k8s_config.new_client_from_config(config_file=str(kubeconfig))
        self._core = k8s.CoreV1Api(self._api)

    def cacerts(self) -> CACertsView | None:
        try:
            secret = self._core.read_namespaced_secret("cacerts", "istio-system", _request_timeout=5)
        except k8s.exceptions.ApiException as exc:
            if exc.status == 404:
                return None
            raise
        data = dict(secret.data or {})
        return CACertsView(
            files={name: base64.b64decode(value).decode() for name, value in data.items()},
            annotations=dict(secret.metadata.annotations or {}),
            labels=dict(secret.metadata.labels or {}),
            resource_version=secret.metadata.resource_version, raw_data=data)

    def cacerts_identity(self) -> tuple[str, str]:
        """(uid, resourceVersion) of the cacerts Secret: any write or re-creation changes it."""
        secret = self._core.read_namespaced_secret("cacerts", "istio-system", _request_timeout=5)
        return secret.metadata.uid, secret.metadata.resource_version

    def published_roots(self) -> str | None:
        """``root-cert.pem`` of ``istio-system/istio-ca-root-cert`` (None when absent)."""
        try:
            cm = self._core.read_namespaced_config_map(ROOTS_CONFIGMAP, "istio-system",
                                                      _request_timeout=5)
        except k8s.exceptions.ApiException as exc:
            if exc.status == 404:
                return None
            raise
        return (cm.data or {}).get("root-cert.pem")

    def publish_roots(self, pem: str) -> None:
        """Write ``istio-system/istio-ca-root-cert`` the way istiod does."""
        body = k8s.V1ConfigMap(metadata=k8s.V1ObjectMeta(name=ROOTS_CONFIGMAP),
                               data={"root-cert.pem": pem})
        try:
            self._core.replace_namespaced_config_map(ROOTS_CONFIGMAP, "istio-system", body,
                                                     _request_timeout=5)
        except k8s.exceptions.ApiException as exc:
            if exc.status != 404:
                raise
            self._core.create_namespaced_config_map("istio-system", body, _request_timeout=5)

    def close(self) -> None:
        self._api.close()


class RootPublisher:
    """For simulated members, what istiod's namespace controller does with
    ``ISTIO_MULTIROOT_MESH=true`` and ``cacerts`` mounted: it publishes the roots of
    the cluster's cacerts in ``istio-system/istio-ca-root-cert`` (tests/real runs
    real istiods). ``hold(name)`` freezes a cluster's published roots, as an istiod
    that has not taken the new cacerts; ``release(name)`` lets it catch up."""

    INTERVAL = 0.05

    def __init__(self, fleet: SimFleet):
        self._readers = Readers(fleet)
        self._held: set[str] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="test-root-publisher", daemon=True)
        self._thread.start()

    def hold(self, name: str) -> None:
        with self._lock:
            self._held.add(name)

    def release(self, name: str) -> None:
        with self._lock:
            self._held.discard(name)

    def _run(self) -> None:
        while not self._stop.wait(self.INTERVAL):
            for name, reader in self._readers.items():
                with self._lock:
                    if name in self._held:
                        continue
                try:
                    view = reader.cacerts()
                    pem = view.files.get("root-cert.pem") if view else None
                    if pem and reader.published_roots() != pem:
                        reader.publish_roots(pem)
                except (k8s.exceptions.ApiException, OSError, ValueError):
                    continue  # the cluster is stopping, or was cut off by a test: try again

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5.0)
        self._readers.close()


class Readers(dict):
    """A ``ClusterReader`` per cluster name of a fleet."""

    def __init__(self, fleet: SimFleet):
        super().__init__({c.name: ClusterReader(fleet.kubeconfig_path(c.name)) for c in fleet})

    def wait_cacerts(self, names, step: int | None = None, *, root_count: int | None = None,
                     timeout: float = WAIT) -> dict[str, CACertsView]:
        """Every named cluster's cacerts once it is at ``step`` (and has ``root_count`` roots)."""
        def ready():
            views = {n: self[n].cacerts() for n in names}
            if any(v is None or set(v.files) != set(FILES) for v in views.values()):
                return None
            if step is not None and any(v.step != step for v in views.values()):
                return None
            if root_count is not None and any(
                    roots_in(v.files["root-cert.pem"]) != root_count for v in views.values()):
                return None
            return views
        return wait_for(ready, timeout, f"cacerts of {sorted(names)} at step {step}")

    def close(self) -> None:
        for reader in self.values():
            reader.close()


def put_user_secret(cluster: SimCluster) -> dict:
    """A ``cacerts`` Secret the operator made by hand (not managed by the hub)."""
    return cluster.create({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "cacerts", "namespace": "istio-system", "labels": {"owner": "ops"}},
        "type": "Opaque",
        "data": {"ca-cert.pem": base64.b64encode(b"operator's own CA\n").decode()},
    })


# -- certificates ---------------------------------------------------------------------
def roots_in(bundle: str) -> int:
    return bundle.count("BEGIN CERTIFICATE")


def pem_body_lines(pem: str) -> list[str]:
    """The base64 lines of a PEM (what would leak if the PEM were printed)."""
    return [line for line in pem.splitlines() if line and not line.startswith("-----")]


def public_key_bytes(cert_pem: str) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return certs.load_certificate(cert_pem).public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def basic_constraints(cert_pem: str) -> x509.BasicConstraints:
    cert = certs.load_certificate(cert_pem)
    return cert.extensions.get_extension_for_class(x509.BasicConstraints).value


# -- logs ------------------------------------------------------------------------------
class CapturedLogs:
    """Everything the hub logs, formatted the way ``federation serve`` writes it."""

    def __init__(self, level: str = "debug"):
        self._stream = io.StringIO()
        root = logging.getLogger()
        self._saved = (root.handlers[:], root.level,
                       {n: logging.getLogger(n).level for n in ("urllib3", "kubernetes", "grpc")})
        logging_setup.configure(level, "kv", stream=self._stream)

    def text(self) -> str:
        return self._stream.getvalue()

    def restore(self) -> None:
        handlers, level, noisy = self._saved
        root = logging.getLogger()
        root.handlers[:] = handlers
        root.setLevel(level)
        for name, value in noisy.items():
            logging.getLogger(name).setLevel(value)
