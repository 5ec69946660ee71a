"""make_member_kubeconfig against a real HTTPS server that answers the Kubernetes routes it uses."""

from __future__ import annotations

import base64
import logging
import socket
from pathlib import Path

import pytest
import yaml
from kubernetes import client as k8s
from kubernetes.config import kube_config

from federation import errors
from federation.kube.member_access import make_member_kubeconfig

from .tokenserver import ADMIN_TOKEN, ISSUED_TOKEN, SECRET_TOKEN, TokenServer

NS, SA = "istio-system", "mesh-federation-reader"


@pytest.fixture
def server(tmp_path):
    with TokenServer(tmp_path) as srv:
        srv.state.service_accounts.add((NS, SA))
        yield srv


def write_operator_kubeconfig(path: Path, server_url: str, ca: Path, token: str = ADMIN_TOKEN,
                              current: str = "kind-member-1") -> Path:
    doc = {
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": "member-1", "cluster": {"server": server_url, "certificate-authority": str(ca)}}],
        "users": [{"name": "admin", "user": {"token": token}}],
        "contexts": [{"name": "kind-member-1", "context": {"cluster": "member-1", "user": "admin"}},
                     {"name": "other", "context": {"cluster": "member-1", "user": "admin"}}],
        "current-context": current,
    }
    path.write_text(yaml.safe_dump(doc))
    return path


@pytest.fixture
def operator_kubeconfig(tmp_path, server):
    return write_operator_kubeconfig(tmp_path / "operator.kubeconfig", server.url, server.ca_path)


def namespaces_with(kubeconfig_text: str) -> list:
    """Make a real authenticated call with the produced kubeconfig."""
    api_client = kube_config.new_client_from_config_dict(yaml.safe_load(kubeconfig_text), persist_config=False)
    try:
        return k8s.CoreV1Api(api_client).list_namespace(_request_timeout=(5, 5)).items
    finally:
        api_client.close()


def test_token_request_kubeconfig_carries_server_ca_and_token_and_authenticates(server, operator_kubeconfig):
    text = make_member_kubeconfig("kind-member-1", kubeconfig_path=operator_kubeconfig, duration_seconds=7200)
    doc = yaml.safe_load(text)
    cluster = doc["clusters"][0]["cluster"]
    assert cluster["server"] == server.url
    assert base64.b64decode(cluster["certificate-authority-data"]) == server.ca_path.read_bytes()
    assert doc["users"][0]["user"] == {"token": ISSUED_TOKEN}
    assert doc["current-context"] == "kind-member-1"
    assert doc["contexts"][0]["context"]["namespace"] == NS
    token_posts = [b for m, p, b in server.state.requests if m == "POST" and p.endswith(f"/{SA}/token")]
    assert token_posts and token_posts[0]["spec"]["expirationSeconds"] == 7200
    assert namespaces_with(text) == []


def test_none_context_uses_the_current_context(tmp_path, server):
    path = write_operator_kubeconfig(tmp_path / "k", server.url, server.ca_path, current="other")
    doc = yaml.safe_load(make_member_kubeconfig(None, kubeconfig_path=path))
    assert doc["current-context"] == "other"


def test_kubeconfig_without_current_context_works_with_an_explicit_context(tmp_path, server):
    path = write_operator_kubeconfig(tmp_path / "k", server.url, server.ca_path)
    doc = yaml.safe_load(path.read_text())
    del doc["current-context"]
    path.write_text(yaml.safe_dump(doc))
    assert yaml.safe_load(make_member_kubeconfig("other", kubeconfig_path=path))["current-context"] == "other"
    with pytest.raises(errors.ConfigError, match="no current-context.*kind-member-1, other"):
        make_member_kubeconfig(None, kubeconfig_path=path)


def test_kubeconfig_environment_variable_is_read_at_call_time(tmp_path, server, monkeypatch):
    path = write_operator_kubeconfig(tmp_path / "k", server.url, server.ca_path)
    monkeypatch.setenv("KUBECONFIG", f"{tmp_path / 'absent'}{':'}{path}")
    assert yaml.safe_load(make_member_kubeconfig("kind-member-1"))["users"][0]["user"]["token"] == ISSUED_TOKEN


def test_secret_fallback_creates_a_token_secret_when_token_request_is_unsupported(server, operator_kubeconfig):
    server.state.token_request = "unsupported"
    text = make_member_kubeconfig("kind-member-1", kubeconfig_path=operator_kubeconfig)
    assert yaml.safe_load(text)["users"][0]["user"]["token"] == SECRET_TOKEN
    secret = server.state.secrets[(NS, f"{SA}-token")]
    assert secret["type"] == "kubernetes.io/service-account-token"
    assert secret["metadata"]["annotations"] == {"kubernetes.io/service-account.name": SA}
    assert namespaces_with(text) == []


def test_secret_fallback_reuses_an_existing_token_secret(server, operator_kubeconfig):
    server.state.token_request = "unsupported"
    server.state.secrets[(NS, "legacy")] = {
        "kind": "Secret", "apiVersion": "v1", "type": "kubernetes.io/service-account-token",
        "metadata": {"name": "legacy", "namespace": NS,
                     "annotations": {"kubernetes.io/service-account.name": SA}},
        "data": {"token": base64.b64encode(SECRET_TOKEN.encode()).decode()},
    }
    text = make_member_kubeconfig("kind-member-1", kubeconfig_path=operator_kubeconfig)
    assert yaml.safe_load(text)["users"][0]["user"]["token"] == SECRET_TOKEN
    assert not [p for m, p, _ in server.state.requests if m == "POST" and p.endswith("/secrets")]


def test_missing_service_account_raises_not_found_naming_the_fix(server, operator_kubeconfig):
    server.state.service_accounts.clear()
    with pytest.raises(errors.NotFound) as caught:
        make_member_kubeconfig("kind-member-1", kubeconfig_path=operator_kubeconfig)
    assert f"{NS}/{SA}" in str(caught.value)
    assert "kubectl apply -k deploy/member" in str(caught.value)


def test_unknown_context_raises_config_error_naming_it(operator_kubeconfig):
    with pytest.raises(errors.ConfigError) as caught:
        make_member_kubeconfig("kind-nope", kubeconfig_path=operator_kubeconfig)
    assert "'kind-nope'" in str(caught.value)
    assert "kind-member-1" in str(caught.value)  # the contexts that exist are listed


def test_missing_kubeconfig_file_raises_config_error(tmp_path):
    with pytest.raises(errors.ConfigError, match="does not exist"):
        make_member_kubeconfig("x", kubeconfig_path=tmp_path / "absent")


def test_malformed_kubeconfig_raises_config_error_without_quoting_it(tmp_path):
    path = tmp_path / "bad"
    path.write_text("users: [{name: a, user: {token: s3cr3t-value}}\ncontexts: {{{\n")
    with pytest.raises(errors.ConfigError) as caught:
        make_member_kubeconfig("x", kubeconfig_path=path)
    assert "s3cr3t-value" not in str(caught.value)


def test_unreachable_api_server_raises_cluster_unreachable(tmp_path, server):
    with socket.socket() as probe:  # a loopback port with nothing listening
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    path = write_operator_kubeconfig(tmp_path / "k", f"https://127.0.0.1:{port}", server.ca_path)
    with pytest.raises(errors.ClusterUnreachable):
        make_member_kubeconfig("kind-member-1", kubeconfig_path=path)


def test_refused_operator_credentials_raise_auth_error(tmp_path, server):
    path = write_operator_kubeconfig(tmp_path / "k", server.url, server.ca_path, token="wrong")
    with pytest.raises(errors.AuthError):
        make_member_kubeconfig("kind-member-1", kubeconfig_path=path)


def test_api_server_error_raises_cluster_unreachable(server, operator_kubeconfig):
    server.state.token_request = "unavailable"
    with pytest.raises(errors.ClusterUnreachable, match="etcdserver: request timed out"):
        make_member_kubeconfig("kind-member-1", kubeconfig_path=operator_kubeconfig)


def test_forbidden_token_request_raises_permission_denied(server, operator_kubeconfig):
    server.state.token_request = "forbidden"
    with pytest.raises(errors.PermissionDenied, match="serviceaccounts/token"):
        make_member_kubeconfig("kind-member-1", kubeconfig_path=operator_kubeconfig)


def test_issued_tokens_are_never_logged(server, operator_kubeconfig, caplog):
    caplog.set_level(logging.DEBUG)
    make_member_kubeconfig("kind-member-1", kubeconfig_path=operator_kubeconfig)
    server.state.token_request = "unsupported"
    make_member_kubeconfig("kind-member-1", kubeconfig_path=operator_kubeconfig)
    logged = "\n".join(f"{r.getMessage()} {getattr(r, 'fields', '')}" for r in caplog.records)
    assert "issued member-cluster credentials" in logged
    for secret in (ISSUED_TOKEN, SECRET_TOKEN, ADMIN_TOKEN):
        assert secret not in logged


def test_too_short_duration_is_a_config_error(operator_kubeconfig):
    with pytest.raises(errors.ConfigError, match="600"):
        make_member_kubeconfig("kind-member-1", kubeconfig_path=operator_kubeconfig, duration_seconds=60)


# --- against the project's simulated API server ----------------------------------
def test_simulated_cluster_without_the_service_account_gives_not_found_and_the_fix(tmp_path):
    sim = pytest.importorskip("kubesim.cluster", reason="kubesim is not available")
    with sim.SimCluster("member-x") as cluster:
        path = cluster.write_kubeconfig(tmp_path / "sim.kubeconfig")
        context = yaml.safe_load(path.read_text())["current-context"]
        with pytest.raises(errors.NotFound, match="kubectl apply -k deploy/member"):
            make_member_kubeconfig(context, kubeconfig_path=path)

