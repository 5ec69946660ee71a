"""A real gRPC server over real TLS on 127.0.0.1, backed by a small in-memory hub."""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace

import pytest
import yaml

from federation import errors
from federation.api.client import AdminClient
from federation.api import control
from federation.api.control import ClusterEndpoints, ClusterStatus, HubStatus, RegisteredCluster, ServiceRow
from federation.api.server import ApiServer
from federation.api.tls import CertificateAuthority, KeyPair, ServerTLS, issue_server_cert, make_self_signed_ca

TOKEN = "test-admin-token-0123456789"


class FakeHub:
    """An honest in-memory stand-in for the hub's logic; records every call."""

    def __init__(self):
        self.calls: list[str] = []
        self.fail_with: BaseException | None = None
        self.clusters: dict[str, RegisteredCluster] = {}
        self.resources: dict[tuple[str, str, str], dict] = {}
        self._lock = threading.Lock()

    def _enter(self, name: str) -> None:
        with self._lock:
            self.calls.append(name)
        if self.fail_with is not None:
            raise self.fail_with

    def add_cluster(self, name, kubeconfig, network="", region="", istiod_ca="", labels=None):
        self._enter("add_cluster")
        try:
            config = yaml.safe_load(kubeconfig)
            server = config["clusters"][0]["cluster"]["server"]
        except (yaml.YAMLError, KeyError, IndexError, TypeError) as exc:
            raise errors.ConfigError(f"kubeconfig for {name} has no cluster server") from exc
        if name in self.clusters:
            raise errors.AlreadyExists(f"cluster {name} is already registered")
        record = RegisteredCluster(name, network, region, server, "connecting", ("192.0.2.10",),
                                   labels=dict(labels or {}))
        self.clusters[name] = record
        return record

    def label_cluster(self, name, labels, remove=()):
        self._enter("label_cluster")
        record = self.clusters.get(name)
        if record is None:
            raise errors.NotFound(f"cluster {name} is not registered")
        merged = {k: v for k, v in record.labels.items() if k not in remove} | dict(labels)
        self.clusters[name] = replace(record, labels=merged)
        return self.clusters[name]

    def list_clusters(self):
        self._enter("list_clusters")
        return [self.clusters[n] for n in sorted(self.clusters)]

    def remove_cluster(self, name, force=False):
        self._enter("remove_cluster")
        if self.clusters.pop(name, None) is None:
            raise errors.NotFound(f"cluster {name} is not registered")
        return control.RemovalResult(name=name, state="removed")

    def list_services(self):
        self._enter("list_services")
        return [ServiceRow("default", "reviews", [
            ClusterEndpoints(c.name, c.network, 3, {f"{c.region}/zone-a": 2, f"{c.region}/zone-b": 1})
            for c in self.list_clusters()
        ])]

    def status(self):
        self._enter("status")
        return HubStatus("0.1.0", "memory", [
            ClusterStatus(c.name, c.network, c.region, c.state, synced=True, last_push=1700000000.25,
                          objects=4, conflicts=["DestinationRule default/reviews"])
            for c in self.list_clusters()
        ], federated_services=1, snapshot_version=7)

    def apply_resources(self, yaml_text):
        self._enter("apply_resources")
        results = []
        for doc, key in self._docs(yaml_text):
            verb = "unchanged" if self.resources.get(key) == doc else (
                "configured" if key in self.resources else "created")
            self.resources[key] = doc
            results.append(f"{key[0]} {key[1]}/{key[2]} {verb}")
        return results

    def delete_resources(self, yaml_text):
        self._enter("delete_resources")
        results = []
        for _, key in self._docs(yaml_text):
            if self.resources.pop(key, None) is None:
                raise errors.NotFound(f"{key[0]} {key[1]}/{key[2]} not found")
            results.append(f"{key[0]} {key[1]}/{key[2]} deleted")
        return results

    def list_resources(self, kind=""):
        self._enter("list_resources")
        docs = [d for k, d in sorted(self.resources.items()) if not kind or k[0] == kind]
        return yaml.safe_dump_all(docs, sort_keys=True)

    def render(self, cluster):
        self._enter("render")
        if cluster not in self.clusters:
            raise errors.NotFound(f"cluster {cluster} is not registered")
        return yaml.safe_dump({"kind": "Gateway", "metadata": {"name": "cross-network-gateway"}})

    @staticmethod
    def _docs(yaml_text):
        try:
            docs = [d for d in yaml.safe_load_all(yaml_text) if d]
        except yaml.YAMLError as exc:
            raise errors.ValidationError(f"not YAML: {exc.problem}") from exc
        for doc in docs:
            meta = doc.get("metadata") or {}
            if not doc.get("kind") or not meta.get("name"):
                raise errors.ValidationError("every document needs kind and metadata.name")
            yield doc, (doc["kind"], meta.get("namespace", "default"), meta["name"])


@dataclass
class Pki:
    ca: CertificateAuthority
    server: KeyPair
    other_ca: CertificateAuthority


@pytest.fixture(scope="session")
def pki() -> Pki:
    ca = make_self_signed_ca()
    return Pki(ca, issue_server_cert(ca, ["127.0.0.1", "localhost"]), make_self_signed_ca("other CA"))




@pytest.fixture
def fake() -> FakeHub:
    return FakeHub()


@pytest.fixture
def server(pki, fake):
    api = ApiServer("127.0.0.1:0", fake, ServerTLS(pki.server.cert_pem, pki.server.key_pem), {TOKEN})
    api.start()
    yield api
    api.stop(0.5)


@pytest.fixture
def client(server, pki):
    with AdminClient(server.address, pki.ca.cert_pem, TOKEN, timeout=5) as c:
        yield c
