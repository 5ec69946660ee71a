"""Cluster identity and CA checks against a real kube-apiserver (built from the
Go module, real RBAC): the reader account of ``deploy/member`` may read the
kube-system UID it is identified by, a second registration of that API server
is refused, and a CA that does not verify it is "certificate verify failed"."""

from __future__ import annotations

import base64
import hashlib
import subprocess
from pathlib import Path

import pytest
import yaml

from federation import errors
from federation.api.tls import make_self_signed_ca
from federation.catalog import ClusterRecord
from federation.hub.cluster_identity import read_identity, register_once
from federation.kube.client import NAMESPACE, KubeClient
from federation.store.keys import Keys
from federation.store.memory import MemoryStore

ROOT = Path(__file__).resolve().parents[2]
SA_TOKEN_PATH = "/api/v1/namespaces/istio-system/serviceaccounts/mesh-federation-reader/token"


@pytest.fixture
def member(kube_apiserver):
    admin = kube_apiserver.admin_kubeconfig
    kubectl = ["kubectl", "--kubeconfig", str(admin)]
    subprocess.run([*kubectl, "create", "namespace", "istio-system"], capture_output=True, timeout=60)
    subprocess.run([*kubectl, "apply", "-k", str(ROOT / "deploy" / "member")], check=True,
                   capture_output=True, timeout=60)
    client = KubeClient("real", admin.read_text(), timeout=30.0)
    try:
        yield kube_apiserver, client
    finally:
        client.close()


def reader_kubeconfig(apiserver, admin: KubeClient) -> dict:
    review = admin.request("POST", SA_TOKEN_PATH, body={
        "apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
        "spec": {"expirationSeconds": 3600}})
    return apiserver.kubeconfig_for_token(review["status"]["token"], user="mesh-federation-reader")


def identity_of(kubeconfig: dict):
    kube = KubeClient("real", kubeconfig, timeout=30.0)
    try:
        return read_identity(kube, kubeconfig)
    finally:
        kube.close()


def test_the_member_reader_reads_the_kube_system_uid_and_one_api_server_registers_once(member):
    apiserver, admin = member
    reader = reader_kubeconfig(apiserver, admin)
    identity = identity_of(reader)
    assert identity.uid == admin.request("GET", NAMESPACE.path(None, "kube-system"))["metadata"]["uid"]
    assert identity.server == apiserver.server.rstrip("/").lower()
    assert identity.ca_sha256 == hashlib.sha256(apiserver.ca_pem.strip()).hexdigest()

    store = MemoryStore()
    kek = b"k" * 32
    try:
        register_once(store, kek, ClusterRecord("real-1", yaml.safe_dump(reader), apiserver.server,
                                                uid=identity.uid, ca_sha256=identity.ca_sha256))
        # The same API server as its admin, under another name: the same cluster.
        as_admin = identity_of(yaml.safe_load(apiserver.admin_kubeconfig.read_text()))
        with pytest.raises(errors.AlreadyExists, match="already registered as 'real-1'"):
            register_once(store, kek, ClusterRecord("real-2", "x", apiserver.server,
                                                    uid=as_admin.uid, ca_sha256=as_admin.ca_sha256))
        assert [kv.key for kv in store.range(Keys.CLUSTERS)[0]] == [Keys.cluster("real-1")]
    finally:
        store.close()


def test_a_ca_that_does_not_verify_the_real_server_says_so(member):
    apiserver, admin = member
    reader = reader_kubeconfig(apiserver, admin)
    other = make_self_signed_ca("not this API server's CA").cert_pem
    reader["clusters"][0]["cluster"]["certificate-authority-data"] = base64.b64encode(other).decode()
    kube = KubeClient("real", reader, timeout=30.0)
    try:
        with pytest.raises(errors.ClusterUnreachable, match="cluster 'real' .*certificate verify failed"):
            kube.request("GET", "/version")
    finally:
        kube.close()
