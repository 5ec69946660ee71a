"""A real kube-apiserver: starts on loopback, enforces RBAC, issues and reviews tokens."""

from __future__ import annotations

import json

import pytest

from federation import errors
from federation.kube.client import KubeClient
from peers.apiserver import KubeAPIServer
from peers.errors import PeerError
from peers.processes import process_exists
from tests.peers.support import unique_name
from tests.support.watching import configmaps_watched_in_bulk

pytestmark = pytest.mark.peers


def admin(server: KubeAPIServer) -> KubeClient:
    return KubeClient(server.name, server.admin_kubeconfig.read_text())


def create_service_account(client: KubeClient, namespace: str, name: str) -> None:
    client.request("POST", "/api/v1/namespaces", body={"apiVersion": "v1", "kind": "Namespace",
                                                        "metadata": {"name": namespace}})
    client.request("POST", f"/api/v1/namespaces/{namespace}/serviceaccounts",
                   body={"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name}})


def request_token(client: KubeClient, namespace: str, name: str, audiences: list[str]) -> dict:
    return client.request("POST", f"/api/v1/namespaces/{namespace}/serviceaccounts/{name}/token", body={
        "apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
        "spec": {"audiences": audiences, "expirationSeconds": 3600}})


def test_serves_on_loopback_with_its_own_ca_and_admin_kubeconfig(kube_apiserver):
    assert kube_apiserver.server.startswith("https://127.0.0.1:")
    assert kube_apiserver.ca_pem.startswith(b"-----BEGIN CERTIFICATE-----")
    client = admin(kube_apiserver)
    try:
        review = client.request("POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews", body={
            "apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"})
    finally:
        client.close()
    assert "system:masters" in review["status"]["userInfo"]["groups"]
    version = kube_apiserver.get_json("/version")
    assert (version["gitVersion"], version["major"], version["minor"]) == ("v1.37.2", "1", "37")
    print(f"kube-apiserver start: {kube_apiserver.started_in:.1f}s, RSS {kube_apiserver.rss() / 2**20:.0f} MiB")


def test_rbac_is_enforced_for_a_service_account_without_bindings(kube_apiserver):
    client = admin(kube_apiserver)
    namespace = unique_name("rbac")
    try:
        create_service_account(client, namespace, "nobody")
        token = request_token(client, namespace, "nobody", [])["status"]["token"]
        status, body = kube_apiserver.get_raw(f"/api/v1/namespaces/{namespace}/secrets", token=token)
        assert status == 403, body
        assert f"system:serviceaccount:{namespace}:nobody" in json.loads(body)["message"]
        # A Role of our own: the aggregated "view" ClusterRole is empty without a controller-manager.
        rbac = f"/apis/rbac.authorization.k8s.io/v1/namespaces/{namespace}"
        client.request("POST", f"{rbac}/roles", body={
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "pod-reader"},
            "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}]})
        client.request("POST", f"{rbac}/rolebindings", body={
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": "pod-reader"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "pod-reader"},
            "subjects": [{"kind": "ServiceAccount", "name": "nobody", "namespace": namespace}]})
        status, _ = kube_apiserver.get_raw(f"/api/v1/namespaces/{namespace}/pods", token=token)
        assert status == 200
        status, _ = kube_apiserver.get_raw(f"/api/v1/namespaces/{namespace}/secrets", token=token)
        assert status == 403, "the binding grants pods only"
    finally:
        client.close()


def test_token_request_for_istio_ca_and_token_review(kube_apiserver):
    client = admin(kube_apiserver)
    namespace = unique_name("tokens")
    try:
        create_service_account(client, namespace, "workload")
        token = request_token(client, namespace, "workload", ["istio-ca"])["status"]["token"]
        review = client.request("POST", "/apis/authentication.k8s.io/v1/tokenreviews", body={
            "apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview",
            "spec": {"token": token, "audiences": ["istio-ca"]}})
        assert review["status"]["authenticated"] is True
        assert review["status"]["user"]["username"] == f"system:serviceaccount:{namespace}:workload"
        assert review["status"]["audiences"] == ["istio-ca"]
        other = client.request("POST", "/apis/authentication.k8s.io/v1/tokenreviews", body={
            "apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview",
            "spec": {"token": token, "audiences": ["some-other-audience"]}})
        assert not other["status"].get("authenticated")
        with pytest.raises(errors.AuthError):
            KubeClient("bad", kube_apiserver.kubeconfig_for_token("not-a-token")).request("GET", "/api/v1/namespaces")
    finally:
        client.close()


def test_stop_leaves_no_process_and_a_bad_flag_fails_with_the_log(real_binaries, peers_etcd, tmp_path):
    server = KubeAPIServer(unique_name("stop"), tmp_path / "a", peers_etcd.url, binary=real_binaries.kube_apiserver)
    server.start()
    pid = server.pid
    server.stop()
    assert not process_exists(pid)
    broken = KubeAPIServer(unique_name("broken"), tmp_path / "b", peers_etcd.url,
                           binary=real_binaries.kube_apiserver, extra_args=("--no-such-flag=1",))
    with pytest.raises(PeerError) as caught:
        broken.start(timeout=30)
    assert "exited with status" in str(caught.value) and "no-such-flag" in str(caught.value)


def test_bad_service_cidr_is_named(tmp_path):
    with pytest.raises(PeerError, match="service_cidr '10.0.0.0/33' is not a network"):
        KubeAPIServer("x", tmp_path, "http://127.0.0.1:1", service_cidr="10.0.0.0/33")


def test_a_watch_reads_the_real_servers_chunked_events_in_bulk(kube_apiserver):
    client = admin(kube_apiserver)
    namespace = unique_name("bulk")
    try:
        client.request("POST", "/api/v1/namespaces", body={"apiVersion": "v1", "kind": "Namespace",
                                                            "metadata": {"name": namespace}})
        listed = client.request("GET", f"/api/v1/namespaces/{namespace}/configmaps")
        names = configmaps_watched_in_bulk(client, namespace, listed["metadata"]["resourceVersion"])
        assert names == [f"c{i}" for i in range(5)]
    finally:
        client.close()


def test_pipelined_applies_are_answered_in_order_each_on_its_own(kube_apiserver):
    client = admin(kube_apiserver)
    namespace = unique_name("pipelined")
    assert client._writer is not None  # the lean path, which pipelines
    try:
        client.request("POST", "/api/v1/namespaces", body={"apiVersion": "v1", "kind": "Namespace",
                                                            "metadata": {"name": namespace}})
        names = ["c0", "c1", "Not_A_Name", "c3", "c4"]
        applies = [(f"/api/v1/namespaces/{namespace}/configmaps/{name}",
                    json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name},
                                "data": {"i": str(i)}}).encode(), True) for i, name in enumerate(names)]
        answers = client.apply_many(applies, "mesh-federation")
        assert [a["metadata"]["name"] if isinstance(a, dict) else None for a in answers] == \
            ["c0", "c1", None, "c3", "c4"]
        assert isinstance(answers[2], errors.FederationError) and not isinstance(answers[2], errors.Transient)
        assert "422" in str(answers[2]) or "invalid" in str(answers[2]).lower()
        stored = client.request("GET", f"/api/v1/namespaces/{namespace}/configmaps")["items"]
        assert sorted((c["metadata"]["name"], c["data"]["i"]) for c in stored
                      if c["metadata"]["name"] != "kube-root-ca.crt") == [("c0", "0"), ("c1", "1"), ("c3", "3"),
                                                                          ("c4", "4")]
    finally:
        client.close()
