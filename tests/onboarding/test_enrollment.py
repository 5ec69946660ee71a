"""Enrollment, heartbeats and refusals over real gRPC and TLS against an in-process hub.

Each refusal is checked for its status code, a clear message, the refusal
counter, a log free of the token, and an unchanged store.
"""

from __future__ import annotations

import logging
import socket

import grpc
import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from federation.agent import credentials
from federation.agent.running import Agent
from federation.api.gen.federation.v1 import onboarding_pb2 as pb
from federation.api.gen.federation.v1 import onboarding_pb2_grpc as pb_grpc
from federation.api.tls import issue_client_cert, make_self_signed_ca
from federation.model.ids import ServiceKey
from federation.onboarding.records import token_digest
from federation.store.keys import Keys

from .support import group_doc
from tests.support import wait_for

SPIFFE_RATINGS = "spiffe://cluster.local/ns/default/sa/ratings"
SPIFFE_REVIEWS = "spiffe://cluster.local/ns/default/sa/reviews"


def csr_for(*sans: x509.GeneralName, key=None) -> bytes:
    key = key or ec.generate_private_key(ec.SECP256R1())
    builder = x509.CertificateSigningRequestBuilder().subject_name(x509.Name([]))
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(list(sans)), critical=True)
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


def call(address: str, ca_pem: bytes, method: str, request, chain: bytes | None = None,
         key: bytes | None = None):
    """One raw call; returns the response or the grpc.RpcError."""
    creds = grpc.ssl_channel_credentials(ca_pem, private_key=key, certificate_chain=chain)
    with grpc.secure_channel(address, creds) as channel:
        try:
            return getattr(pb_grpc.OnboardingStub(channel), method)(request, timeout=10)
        except grpc.RpcError as exc:
            return exc


def enroll_request(token: str, csr: bytes | None = None, address: str = "10.0.0.5"):
    return pb.EnrollRequest(token=token, csr_pem=csr or csr_for(), address=address,
                            hostname="vm-a.example")


@pytest.fixture
def groups(hub):
    hub.apply(group_doc("ratings"), group_doc("reviews"))
    return hub


def session_address(hub) -> str:
    return hub.onboarding.server.session_address


def joined(hub, tmp_path, name: str = "vm-a", address: str = "10.0.0.5") -> Agent:
    agent = Agent(str(tmp_path / name), ca_pem=hub.ca_pem, timeout=5)
    agent.join(hub.enroll_address, hub.token(), address, name)
    return agent


# -- enrollment ----------------------------------------------------------------------
def test_enroll_signs_the_group_identity_and_registers_the_vm(groups, tmp_path):
    agent = joined(groups, tmp_path)
    try:
        assert agent.certificate.spiffe_id == SPIFFE_RATINGS
        assert agent.state.session_port == groups.onboarding.server.session_port
        [vm] = groups.client.list_vms()
        assert (vm.name, vm.address, vm.alive, vm.revoked) == (agent.state.vm_name, "10.0.0.5",
                                                              True, False)
        assert vm.certificate_serial == agent.certificate.serial
        assert agent.heartbeat_once().next_heartbeat_seconds == 1
        workloads = wait_for(lambda: groups.service.hub.snapshot.vms.get(
            ServiceKey("default", "ratings")), what="the VM in the snapshot")
        assert workloads[agent.state.vm_name].address == "10.0.0.5"
        gauge = [line for line in groups.service.telemetry.scrape().splitlines()
                 if line.startswith("federation_vms{") and 'state="alive"' in line]
        assert gauge and gauge[0].endswith(" 1.0")
    finally:
        agent.close()


REFUSALS = {
    "replay": ("token_used", grpc.StatusCode.UNAUTHENTICATED, "was already used"),
    "expired": ("token_expired", grpc.StatusCode.UNAUTHENTICATED, "expired"),
    "revoked": ("token_revoked", grpc.StatusCode.UNAUTHENTICATED, "was revoked"),
    "forged": ("token_unknown", grpc.StatusCode.UNAUTHENTICATED, "unknown"),
    "wrong group": ("csr_rejected", grpc.StatusCode.INVALID_ARGUMENT,
                    f"asks for identity {SPIFFE_REVIEWS}; granted identity is {SPIFFE_RATINGS}"),
    "dns name": ("csr_rejected", grpc.StatusCode.INVALID_ARGUMENT, "only the URI"),
    "other trust domain": ("csr_rejected", grpc.StatusCode.INVALID_ARGUMENT,
                           "asks for identity spiffe://evil.example/ns/default/sa/ratings"),
    "deleted group": ("group_missing", grpc.StatusCode.PERMISSION_DENIED, "no longer exists"),
    "bad address": ("invalid_request", grpc.StatusCode.INVALID_ARGUMENT, "not an IP address"),
}


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_a_refused_enrollment_is_clear_counted_logged_without_token_and_writes_nothing(
        groups, case, caplog):
    hub = groups
    reason, code, message = REFUSALS[case]
    token = hub.token(ttl=600 if case != "expired" else 1)
    csr, address = None, "10.0.0.5"
    if case == "replay":
        assert not isinstance(call(hub.enroll_address, hub.ca_pem, "Enroll", enroll_request(token)),
                              grpc.RpcError)
    elif case == "expired":
        wait_for(lambda: _expired(hub, token), timeout=3, what="the token to expire")
    elif case == "revoked":
        hub.client.revoke_token(hub.onboarding.tokens.inspect(token).token_id)
    elif case == "forged":
        token = token[::-1]
    elif case == "wrong group":
        csr = csr_for(x509.UniformResourceIdentifier(SPIFFE_REVIEWS))
    elif case == "dns name":
        csr = csr_for(x509.DNSName("ratings.default.svc"))
    elif case == "other trust domain":
        csr = csr_for(x509.UniformResourceIdentifier("spiffe://evil.example/ns/default/sa/ratings"))
    elif case == "deleted group":
        hub.client.delete_resources(yaml.safe_dump(group_doc("ratings")))
        wait_for(lambda: hub.onboarding.registrar.load_group("default", "ratings") is None)
    elif case == "bad address":
        address = "not an address!"
    before = hub.state()
    caplog.set_level(logging.INFO)
    result = call(hub.enroll_address, hub.ca_pem, "Enroll", enroll_request(token, csr, address))
    assert isinstance(result, grpc.RpcError), "the enrollment should be refused"
    assert result.code() == code
    assert message in result.details()
    assert hub.state() == before, "a refused enrollment must not change the store"
    assert hub.refusals().get(reason, 0) >= 1
    assert any(getattr(r, "fields", {}).get("reason") == reason for r in caplog.records)
    logged = "\n".join(r.getMessage() + repr(getattr(r, "fields", "")) for r in caplog.records)
    assert token not in logged


def _expired(hub, token: str) -> bool:
    try:
        hub.onboarding.tokens.inspect(token)
        return False
    except Exception as exc:  # noqa: BLE001
        return "expired" in str(exc)


def test_guessing_from_one_address_is_slowed_down_but_valid_tokens_still_enroll(make_hub):
    hub = make_hub(vm_enroll_failures=3, vm_enroll_refill_seconds=60)
    hub.apply(group_doc())
    good = hub.token()
    for i in range(3):
        result = call(hub.enroll_address, hub.ca_pem, "Enroll", enroll_request(f"forged{i}" * 8))
        assert result.code() == grpc.StatusCode.UNAUTHENTICATED
    before = hub.state()
    result = call(hub.enroll_address, hub.ca_pem, "Enroll", enroll_request("forged-next" * 4))
    assert result.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "too many failed enrollments from 127.0.0.1" in result.details()
    assert hub.state() == before
    assert hub.refusals()["rate_limited"] == 1
    # A VM behind the same (NAT) address with a token the hub issued is not blocked.
    result = call(hub.enroll_address, hub.ca_pem, "Enroll", enroll_request(good))
    assert isinstance(result, pb.EnrollResponse), result
    assert hub.refusals()["rate_limited"] == 1


def test_a_token_failing_again_and_again_is_slowed_down_alone(make_hub):
    hub = make_hub(vm_enroll_failures=2, vm_enroll_refill_seconds=60)
    hub.apply(group_doc())
    spent, other = hub.token(), hub.token()
    assert isinstance(call(hub.enroll_address, hub.ca_pem, "Enroll", enroll_request(spent)),
                      pb.EnrollResponse)
    for _ in range(2):  # a broken agent retrying with its spent token
        result = call(hub.enroll_address, hub.ca_pem, "Enroll", enroll_request(spent))
        assert result.code() == grpc.StatusCode.UNAUTHENTICATED and "already used" in result.details()
    result = call(hub.enroll_address, hub.ca_pem, "Enroll", enroll_request(spent))
    assert result.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert f"too many failed enrollments from token {token_digest(spent)[:16]}" in result.details()
    assert spent not in result.details()
    # the address is not charged: another token from it enrolls
    assert isinstance(call(hub.enroll_address, hub.ca_pem, "Enroll", enroll_request(other)),
                      pb.EnrollResponse)
    assert hub.refusals()["rate_limited"] == 1


def test_requests_are_size_bounded(groups):
    huge = b"-----BEGIN CERTIFICATE REQUEST-----\n" + b"A" * 100_000
    result = call(groups.enroll_address, groups.ca_pem, "Enroll",
                  enroll_request(groups.token(), huge))
    assert result.code() == grpc.StatusCode.RESOURCE_EXHAUSTED


# -- heartbeats and renewals ------------------------------------------------------------
def test_heartbeat_needs_a_client_certificate(groups):
    result = call(groups.enroll_address, groups.ca_pem, "Heartbeat", pb.HeartbeatRequest())
    assert result.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "session port" in result.details()


def test_a_mesh_certificate_not_bound_to_a_vm_is_refused(groups, tmp_path):
    agent = joined(groups, tmp_path)
    agent.close()
    # A valid mesh certificate for the same identity, but never issued by an enrollment.
    key = ec.generate_private_key(ec.SECP256R1())
    cert = groups.service.trust.sign_workload_csr(csr_for(key=key), "default", "ratings", 3600)
    before = groups.state()
    result = call(session_address(groups), groups.ca_pem, "Heartbeat", pb.HeartbeatRequest(),
                  chain=cert.full_chain_pem.encode(), key=credentials.key_pem(key))
    assert result.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "belongs to no VM registration" in result.details()
    assert groups.state() == before
    assert groups.refusals()["unknown_certificate"] == 1


def test_a_certificate_of_another_ca_fails_the_handshake(groups):
    other = make_self_signed_ca("not the mesh")
    pair = issue_client_cert(other, "intruder")
    before = groups.state()
    result = call(session_address(groups), groups.ca_pem, "Heartbeat", pb.HeartbeatRequest(),
                  chain=pair.cert_pem, key=pair.key_pem)
    assert result.code() == grpc.StatusCode.UNAVAILABLE
    assert groups.state() == before


def test_a_revoked_vm_is_withdrawn_and_its_certificate_refused(groups, tmp_path):
    agent = joined(groups, tmp_path)
    try:
        name = agent.state.vm_name
        key = ServiceKey("default", "ratings")
        wait_for(lambda: name in groups.service.hub.snapshot.vms.get(key, {}))
        groups.client.revoke_vm(name)
        assert groups.store.get(Keys.vm_alive(name)) is None
        wait_for(lambda: name not in groups.service.hub.snapshot.vms.get(key, {}),
                   what="the revoked VM to leave the snapshot")
        before = groups.state()
        with pytest.raises(Exception) as caught:
            agent.heartbeat_once()
        assert "was revoked" in str(caught.value)
        assert type(caught.value).__name__ == "PermissionDenied"
        assert groups.state() == before
        [vm] = groups.client.list_vms()
        assert vm.revoked and not vm.alive
    finally:
        agent.close()


def test_renewal_keeps_the_identity_and_refuses_another(groups, tmp_path):
    agent = joined(groups, tmp_path)
    try:
        old = agent.certificate
        new = agent.renew()
        assert new.serial != old.serial and new.spiffe_id == SPIFFE_RATINGS
        [vm] = groups.client.list_vms()
        assert vm.certificate_serial == new.serial
        agent.heartbeat_once()
        before = groups.state()
        with pytest.raises(Exception, match="granted identity is " + SPIFFE_RATINGS):
            agent._session.renew(csr_for(x509.UniformResourceIdentifier(SPIFFE_REVIEWS)))
        assert groups.state() == before
    finally:
        agent.close()


def test_a_lapsed_vm_comes_back_with_its_next_heartbeat(make_hub, tmp_path):
    hub = make_hub(vm_grace=1.0)
    hub.apply(group_doc())
    agent = joined(hub, tmp_path)
    try:
        name, key = agent.state.vm_name, ServiceKey("default", "ratings")
        wait_for(lambda: name in hub.service.hub.snapshot.vms.get(key, {}))
        wait_for(lambda: name not in hub.service.hub.snapshot.vms.get(key, {}), timeout=5,
                   what="the silent VM to lapse")
        assert hub.store.get(Keys.vm_alive(name)) is None
        agent.heartbeat_once()
        wait_for(lambda: name in hub.service.hub.snapshot.vms.get(key, {}),
                   what="the VM to come back without a new token")
    finally:
        agent.close()


def test_an_unhealthy_probe_withdraws_the_vm_until_it_passes(groups, tmp_path):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    listener.close()  # nothing listens: the TCP probe fails
    groups.apply(group_doc(probe={"tcpSocket": {"port": port}, "periodSeconds": 1}))
    agent = joined(groups, tmp_path)
    key = ServiceKey("default", "ratings")
    try:
        name = agent.state.vm_name
        agent.heartbeat_once()
        wait_for(lambda: name not in groups.service.hub.snapshot.vms.get(key, {}))
        [vm] = groups.client.list_vms()
        assert vm.alive and not vm.healthy
        with socket.socket() as server:
            server.bind(("127.0.0.1", port))
            server.listen()

            def back() -> bool:
                agent.heartbeat_once()
                return name in groups.service.hub.snapshot.vms.get(key, {})

            wait_for(back, interval=0.2,
                       what="the healthy VM back in the snapshot (probed once a second)")
    finally:
        agent.close()


def test_a_heartbeat_acts_only_on_the_registration_its_certificate_is_bound_to(make_hub,
                                                                              tmp_path):
    hub = make_hub(vm_grace=1.0)
    hub.apply(group_doc())
    first, second = joined(hub, tmp_path, "vm-a"), joined(hub, tmp_path, "vm-b", "10.0.0.6")
    key = ServiceKey("default", "ratings")
    try:
        both = {first.state.vm_name, second.state.vm_name}
        wait_for(lambda: both <= set(hub.service.hub.snapshot.vms.get(key, {})))

        def only_first_alive() -> bool:
            first.heartbeat_once()  # the same group and identity, another registration
            return set(hub.service.hub.snapshot.vms.get(key, {})) == {first.state.vm_name}

        wait_for(only_first_alive, timeout=6, interval=0.2,
                   what="the silent VM to lapse while the other heartbeats")
        assert hub.store.get(Keys.vm_alive(second.state.vm_name)) is None
    finally:
        first.close()
        second.close()
