"""Health answers without a token (over TLS and on the optional plaintext probe port);
reflection lists the services to an admin."""

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from federation.api.gen.federation.v1 import admin_pb2, admin_pb2_grpc
from federation.api.server import ApiServer
from federation.api.tls import ServerTLS

from .conftest import TOKEN


def test_health_check_needs_no_token(server, pki):
    creds = grpc.ssl_channel_credentials(root_certificates=pki.ca.cert_pem)
    with grpc.secure_channel(server.address, creds) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        for service in ("", "federation.v1.Admin"):
            resp = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
            assert resp.status == health_pb2.HealthCheckResponse.SERVING


def test_health_watch_streams_status_without_token(server, pki):
    creds = grpc.ssl_channel_credentials(root_certificates=pki.ca.cert_pem)
    with grpc.secure_channel(server.address, creds) as channel:
        stream = health_pb2_grpc.HealthStub(channel).Watch(health_pb2.HealthCheckRequest(), timeout=5)
        assert next(stream).status == health_pb2.HealthCheckResponse.SERVING
        stream.cancel()


def test_client_health_reports_serving(client):
    assert client.health() == "SERVING"


def test_plaintext_probe_port_serves_health_only(pki, fake):
    api = ApiServer("127.0.0.1:0", fake, ServerTLS(pki.server.cert_pem, pki.server.key_pem), {TOKEN},
                    health_address="127.0.0.1:0")
    api.start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{api.health_port}") as channel:
            resp = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
            assert resp.status == health_pb2.HealthCheckResponse.SERVING
            with pytest.raises(grpc.RpcError) as info:
                admin_pb2_grpc.AdminStub(channel).ListClusters(
                    admin_pb2.ListClustersRequest(), metadata=(("authorization", f"Bearer {TOKEN}"),), timeout=5)
            assert info.value.code() == grpc.StatusCode.UNIMPLEMENTED
    finally:
        api.stop(0.5)
    assert fake.calls == []


def test_health_not_serving_after_stop_begins(pki, fake):
    api = ApiServer("127.0.0.1:0", fake, ServerTLS(pki.server.cert_pem, pki.server.key_pem), {TOKEN})
    api.start()
    api.stop(0.5)
    assert api.health.Check(health_pb2.HealthCheckRequest(), None).status == \
        health_pb2.HealthCheckResponse.NOT_SERVING


def _reflect(server, pki, metadata):
    creds = grpc.ssl_channel_credentials(root_certificates=pki.ca.cert_pem)
    with grpc.secure_channel(server.address, creds) as channel:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        request = reflection_pb2.ServerReflectionRequest(list_services="")
        return list(stub.ServerReflectionInfo(iter([request]), metadata=metadata, timeout=5))


def test_reflection_lists_services_to_an_admin(server, pki):
    responses = _reflect(server, pki, (("authorization", f"Bearer {TOKEN}"),))
    names = {s.name for s in responses[0].list_services_response.service}
    assert {"federation.v1.Admin", "grpc.health.v1.Health"} <= names


def test_reflection_needs_a_token(server, pki):
    with pytest.raises(grpc.RpcError) as info:
        _reflect(server, pki, ())
    assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
