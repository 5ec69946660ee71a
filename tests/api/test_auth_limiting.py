"""Failed admin-token calls are slowed down per caller address: after a burst of
them the address is refused (RESOURCE_EXHAUSTED) before its token is looked at,
while other addresses are served as before. Counts and codes, no timings."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import grpc
import pytest

from federation import errors
from federation.api import admin
from federation.api.client import AdminClient
from federation.api.gen.federation.v1 import admin_pb2_grpc
from federation.api.interceptors import BearerTokens, ServingInterceptor
from federation.api.limiting import FailureLimiter
from federation.api.tls import issue_server_cert

from .conftest import TOKEN


def test_an_address_failing_the_burst_is_refused_even_with_the_right_token(server, pki, fake):
    burst = server.auth_failures.burst
    with AdminClient(server.address, pki.ca.cert_pem, "guess", timeout=5) as guesser:
        for _ in range(burst):
            with pytest.raises(errors.AuthError, match="invalid bearer token"):
                guesser.list_clusters()
        with pytest.raises(errors.LimitExceeded, match="too many failed authentications from 127.0.0.1"):
            guesser.list_clusters()
    # While the address is slowed down no token is checked: no answer tells a right guess.
    with AdminClient(server.address, pki.ca.cert_pem, TOKEN, timeout=5) as admin_client:
        with pytest.raises(errors.LimitExceeded):
            admin_client.list_clusters()
    assert server.auth_failures.tokens("127.0.0.1") < 1
    assert fake.calls == []


def test_successful_calls_cost_nothing(client, server):
    for _ in range(server.auth_failures.burst * 2):
        client.list_clusters()
    assert server.auth_failures.tokens("127.0.0.1") == server.auth_failures.burst


@pytest.fixture
def dual_stack(pki, fake):
    """One gRPC server, its admin service behind the interceptor, on 127.0.0.1 and ::1."""
    pair = issue_server_cert(pki.ca, ["127.0.0.1", "::1"])
    limiter = FailureLimiter(burst=3, refill_seconds=3600, what="failed authentications")
    executor = ThreadPoolExecutor(max_workers=4)
    server = grpc.server(executor, interceptors=[ServingInterceptor(
        {admin.SERVICE_NAME: BearerTokens([TOKEN])}, failures=limiter)])
    admin_pb2_grpc.add_AdminServicer_to_server(admin.AdminServicer(fake), server)
    credentials = grpc.ssl_server_credentials([(pair.key_pem, pair.cert_pem)])
    port = server.add_secure_port("127.0.0.1:0", credentials)
    if not server.add_secure_port(f"[::1]:{port}", credentials):
        server.stop(None)
        executor.shutdown()
        pytest.skip("no IPv6 loopback here")
    server.start()
    try:
        yield port, limiter
    finally:
        server.stop(0.5).wait(5)
        executor.shutdown(wait=True)


def test_one_noisy_address_does_not_slow_down_another(dual_stack, pki, fake):
    port, limiter = dual_stack
    with AdminClient(f"127.0.0.1:{port}", pki.ca.cert_pem, "guess", timeout=5) as guesser:
        codes = []
        for _ in range(limiter.burst + 2):
            try:
                guesser.list_clusters()
            except errors.FederationError as exc:
                codes.append(type(exc).__name__)
    assert codes == ["AuthError"] * limiter.burst + ["LimitExceeded"] * 2
    with AdminClient(f"[::1]:{port}", pki.ca.cert_pem, TOKEN, timeout=5) as other:
        assert other.list_clusters() == []
    assert fake.calls == ["list_clusters"]
    assert limiter.tokens("::1") == limiter.burst
