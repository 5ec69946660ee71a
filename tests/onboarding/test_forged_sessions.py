"""VM sessions trust only what the hub issued: a certificate forged with a member
cluster's intermediate key (which sits in that cluster's ``cacerts``), carrying
an enrolled VM's serial and SPIFFE id, passes the session port's handshake but
is refused by Renew and Heartbeat, over real mutual TLS, with the store unchanged."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

import grpc
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from federation.agent import credentials
from federation.api.gen.federation.v1 import onboarding_pb2 as pb
from federation.onboarding.records import VMRecord
from federation.store.keys import Keys

from .test_enrollment import call, csr_for, groups, joined, session_address  # noqa: F401 - fixture

SPIFFE_RATINGS = "spiffe://cluster.local/ns/default/sa/ratings"


def forge(hub, serial_hex: str, spiffe_id: str, cluster: str = "member-1"):
    """A leaf for ``spiffe_id`` with ``serial_hex``, signed by ``cluster``'s intermediate."""
    cacerts = hub.service.trust.cacerts(cluster)  # what that cluster's istio-system/cacerts holds
    ca_key = serialization.load_pem_private_key(cacerts.ca_key_pem.encode(), None)
    ca_cert = x509.load_pem_x509_certificate(cacerts.ca_cert_pem.encode())
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.timezone.utc)
    leaf = (x509.CertificateBuilder()
            .subject_name(x509.Name([])).issuer_name(ca_cert.subject)
            .public_key(key.public_key()).serial_number(int(serial_hex, 16))
            .not_valid_before(now - dt.timedelta(minutes=1)).not_valid_after(now + dt.timedelta(hours=1))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.SubjectAlternativeName([x509.UniformResourceIdentifier(spiffe_id)]),
                           critical=True)
            .sign(ca_key, hashes.SHA256()))
    chain = leaf.public_bytes(serialization.Encoding.PEM) + cacerts.cert_chain_pem.encode()
    return chain, credentials.key_pem(key)


def _forged_calls(hub, chain: bytes, key: bytes) -> list:
    return [call(session_address(hub), hub.ca_pem, "Heartbeat", pb.HeartbeatRequest(healthy=True),
                 chain=chain, key=key),
            call(session_address(hub), hub.ca_pem, "Renew", pb.RenewRequest(csr_pem=csr_for()),
                 chain=chain, key=key)]


def test_a_certificate_forged_with_a_member_intermediate_is_refused(groups, tmp_path):
    agent = joined(groups, tmp_path)
    try:
        [vm] = groups.client.list_vms()
        assert vm.spiffe_id == SPIFFE_RATINGS
        chain, key = forge(groups, vm.certificate_serial, vm.spiffe_id)
        before = groups.state()
        for result in _forged_calls(groups, chain, key):
            assert isinstance(result, grpc.RpcError), "a forged certificate was accepted"
            assert result.code() == grpc.StatusCode.PERMISSION_DENIED
            assert f"is not the certificate the hub issued to VM {vm.name}" in result.details()
        assert groups.state() == before
        assert groups.refusals()["certificate_not_issued"] == 2
        agent.heartbeat_once()  # the VM's own certificate still works
        renewed = agent.renew()
        chain, key = forge(groups, renewed.serial, vm.spiffe_id)  # and after a renewal
        for result in _forged_calls(groups, chain, key):
            assert result.code() == grpc.StatusCode.PERMISSION_DENIED
        agent.heartbeat_once()
    finally:
        agent.close()


def test_records_without_a_fingerprint_accept_only_the_hub_issuer(groups, tmp_path):
    agent = joined(groups, tmp_path)
    try:
        [vm] = groups.client.list_vms()
        kv = groups.store.get(Keys.vm_record(vm.name))
        record = VMRecord.from_bytes(kv.value)
        assert record.fingerprint  # recorded at enrollment
        legacy = {k: v for k, v in dataclasses.asdict(record).items()
                  if k not in ("fingerprint", "previous_fingerprint")}
        groups.store.put(Keys.vm_record(vm.name), json.dumps(legacy, sort_keys=True).encode())
        chain, key = forge(groups, vm.certificate_serial, vm.spiffe_id)
        before = groups.state()
        for result in _forged_calls(groups, chain, key):
            assert result.code() == grpc.StatusCode.PERMISSION_DENIED
            assert "is not the certificate the hub issued" in result.details()
        assert groups.state() == before
        agent.heartbeat_once()  # signed by the hub's VM issuer: accepted
    finally:
        agent.close()


def test_enroll_and_renew_record_the_issued_certificate(groups, tmp_path):
    agent = joined(groups, tmp_path)
    try:
        [vm] = groups.client.list_vms()
        first = VMRecord.from_bytes(groups.store.get(Keys.vm_record(vm.name)).value)
        agent.renew()
        second = VMRecord.from_bytes(groups.store.get(Keys.vm_record(vm.name)).value)
        assert second.fingerprint and second.fingerprint != first.fingerprint
        assert second.previous_fingerprint == first.fingerprint
    finally:
        agent.close()
