"""Errors raised by the hub reach the caller as the matching gRPC status and
come back out of the client as the matching federation error."""

import logging

import grpc
import pytest

from federation import errors
from federation.api.codes import error_for, status_for
from federation.api.gen.federation.v1 import admin_pb2, admin_pb2_grpc

from .conftest import TOKEN

CASES = [
    (errors.NotFound("cluster east is not registered"), grpc.StatusCode.NOT_FOUND, errors.NotFound),
    (errors.AlreadyExists("cluster east exists"), grpc.StatusCode.ALREADY_EXISTS, errors.AlreadyExists),
    (errors.ValidationError("spec.failover is not a list"), grpc.StatusCode.INVALID_ARGUMENT, errors.ValidationError),
    (errors.ConfigError("kubeconfig has no server"), grpc.StatusCode.INVALID_ARGUMENT, errors.ValidationError),
    (errors.Conflict("DestinationRule owned by someone else"), grpc.StatusCode.ABORTED, errors.Conflict),
    (errors.PermissionDenied("read-only token"), grpc.StatusCode.PERMISSION_DENIED, errors.PermissionDenied),
    (errors.LimitExceeded("too many clusters"), grpc.StatusCode.RESOURCE_EXHAUSTED, errors.LimitExceeded),
    (errors.StoreUnavailable("etcd is down"), grpc.StatusCode.UNAVAILABLE, errors.Transient),
    (errors.ClusterUnreachable("east timed out"), grpc.StatusCode.UNAVAILABLE, errors.Transient),
    (errors.TrustError("intermediate expired"), grpc.StatusCode.INTERNAL, errors.FederationError),
]


def _stub_call(server, pki):
    creds = grpc.ssl_channel_credentials(root_certificates=pki.ca.cert_pem)
    channel = grpc.secure_channel(server.address, creds)
    stub = admin_pb2_grpc.AdminStub(channel)
    return channel, lambda: stub.Status(admin_pb2.StatusRequest(), timeout=5,
                                        metadata=(("authorization", f"Bearer {TOKEN}"),))


@pytest.mark.parametrize("raised, code, _", CASES, ids=lambda v: getattr(v, "name", type(v).__name__))
def test_hub_error_maps_to_status_code_and_message(server, pki, fake, raised, code, _):
    fake.fail_with = raised
    channel, call = _stub_call(server, pki)
    with channel, pytest.raises(grpc.RpcError) as info:
        call()
    assert info.value.code() == code
    assert info.value.details() == str(raised)


@pytest.mark.parametrize("raised, _, expected", CASES, ids=lambda v: getattr(v, "name", type(v).__name__))
def test_client_raises_matching_federation_error(client, fake, raised, _, expected):
    fake.fail_with = raised
    with pytest.raises(expected) as info:
        client.status()
    assert str(raised) in str(info.value)


def test_unexpected_exception_is_internal_error_with_traceback_logged(server, pki, fake, caplog):
    fake.fail_with = KeyError("secret internals")
    channel, call = _stub_call(server, pki)
    with channel, pytest.raises(grpc.RpcError) as info:
        call()
    assert info.value.code() == grpc.StatusCode.INTERNAL
    assert info.value.details() == "internal error"
    logged = [r for r in caplog.records if r.getMessage() == "rpc failed"]
    assert logged and logged[0].levelno == logging.ERROR
    assert logged[0].exc_info[0] is KeyError


def test_missing_required_field_is_invalid_argument(client, fake):
    with pytest.raises(errors.ValidationError, match="missing required fields: name, kubeconfig"):
        client.register_cluster("", "")
    with pytest.raises(errors.ValidationError, match="missing required fields: kind, name"):
        client.delete_resources(namespace="default")
    assert fake.calls == []


def test_unknown_cluster_removal_is_not_found(client):
    with pytest.raises(errors.NotFound, match="cluster ghost is not registered"):
        client.remove_cluster("ghost")


def test_oversized_request_is_refused_before_the_hub(client, fake):
    big = "# padding\n" * (500 * 1024)  # ~5 MiB, above the 4 MiB default
    with pytest.raises(errors.LimitExceeded):
        client.apply_resources(big)
    assert fake.calls == []


def test_status_for_uses_most_specific_class():
    assert status_for(errors.PermissionDenied("x"))[0] == grpc.StatusCode.PERMISSION_DENIED
    assert status_for(errors.AuthError("x"))[0] == grpc.StatusCode.UNAUTHENTICATED
    assert status_for(errors.CSRRejected("bad csr"))[0] == grpc.StatusCode.INVALID_ARGUMENT
    assert status_for(errors.FederationError()) == (grpc.StatusCode.INTERNAL, "FederationError")


def test_error_for_unmapped_code_is_plain_federation_error():
    err = error_for(grpc.StatusCode.DATA_LOSS, "gone")
    assert type(err) is errors.FederationError and str(err) == "gone"
