"""Every Admin call needs a valid bearer token; refused calls never reach the hub."""

import grpc
import pytest

from federation import errors
from federation.api.client import AdminClient
from federation.api.gen.federation.v1 import admin_pb2, admin_pb2_grpc
from federation.api.interceptors import BearerTokens
from federation.api.server import ApiServer
from federation.api.tls import ServerTLS

from .conftest import TOKEN


def _raw_stub(server, pki):
    creds = grpc.ssl_channel_credentials(root_certificates=pki.ca.cert_pem)
    channel = grpc.secure_channel(server.address, creds)
    return channel, admin_pb2_grpc.AdminStub(channel)


def test_bad_token_is_unauthenticated_and_hub_not_called(server, pki, fake):
    with AdminClient(server.address, pki.ca.cert_pem, "not-the-token", timeout=5) as client:
        with pytest.raises(errors.AuthError, match="invalid bearer token"):
            client.list_clusters()
        with pytest.raises(errors.AuthError):
            client.register_cluster("east", "kubeconfig")
    assert fake.calls == []


@pytest.mark.parametrize("metadata, message", [
    ((), "missing credentials"),
    ((("authorization", f"Basic {TOKEN}"),), "must be 'Bearer <token>'"),
    ((("authorization", "Bearer "),), "must be 'Bearer <token>'"),
])
def test_missing_or_malformed_token_is_unauthenticated(server, pki, fake, metadata, message):
    channel, stub = _raw_stub(server, pki)
    with channel:
        with pytest.raises(grpc.RpcError) as info:
            stub.ListClusters(admin_pb2.ListClustersRequest(), metadata=metadata, timeout=5)
    assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert message in info.value.details()
    assert fake.calls == []


def test_bearer_scheme_is_case_insensitive(server, pki, fake):
    channel, stub = _raw_stub(server, pki)
    with channel:
        stub.ListClusters(admin_pb2.ListClustersRequest(), metadata=(("authorization", f"bearer {TOKEN}"),),
                          timeout=5)
    assert fake.calls == ["list_clusters"]


def test_refused_token_never_appears_in_logs(server, pki, caplog):
    caplog.set_level("DEBUG")
    with AdminClient(server.address, pki.ca.cert_pem, "leaky-secret-value", timeout=5) as client:
        with pytest.raises(errors.AuthError):
            client.status()
    assert any("rpc refused" in r.getMessage() for r in caplog.records)
    assert all("leaky-secret-value" not in f"{r.getMessage()} {vars(r)}" for r in caplog.records)


def test_token_file_is_reread_when_it_changes(tmp_path, pki, fake):
    token_file = tmp_path / "tokens"
    token_file.write_text("# admin tokens\nfirst-token\n")
    api = ApiServer("127.0.0.1:0", fake, ServerTLS(pki.server.cert_pem, pki.server.key_pem), str(token_file))
    api.start()
    try:
        with AdminClient(api.address, pki.ca.cert_pem, "first-token", timeout=5) as first, \
             AdminClient(api.address, pki.ca.cert_pem, "second-token", timeout=5) as second:
            assert first.list_clusters() == []
            token_file.write_text("second-token\n")
            assert second.list_clusters() == []
            with pytest.raises(errors.AuthError):
                first.list_clusters()
    finally:
        api.stop(0.5)


def test_no_tokens_is_a_config_error(tmp_path):
    empty = tmp_path / "tokens"
    empty.write_text("\n# nothing\n")
    with pytest.raises(errors.ConfigError, match="no admin tokens"):
        BearerTokens.from_source(empty)
    with pytest.raises(errors.ConfigError, match="cannot read token file"):
        BearerTokens.from_source(tmp_path / "absent")
    with pytest.raises(errors.ConfigError, match="no admin tokens"):
        BearerTokens.from_source(set())


def test_client_without_token_is_a_config_error(server, pki):
    with pytest.raises(errors.ConfigError, match="admin token is required"):
        AdminClient(server.address, pki.ca.cert_pem, "")
