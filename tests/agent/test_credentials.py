"""The agent's key, CSRs and certificate facts (pure)."""

from __future__ import annotations

import datetime as dt

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from federation.agent import credentials
from federation.onboarding.trust_following import bundle_fingerprint
from federation.store.memory import MemoryStore
from federation.trust import TrustAuthority
from federation.trust.workload import check_csr

SPIFFE = "spiffe://cluster.local/ns/default/sa/ratings"


def test_keys_are_p256_and_pem_pkcs8_unencrypted():
    key = credentials.new_key()
    assert isinstance(key.curve, ec.SECP256R1)
    assert credentials.key_pem(key).startswith(b"-----BEGIN PRIVATE KEY-----")


def test_an_enrollment_csr_names_nothing_and_a_renewal_csr_its_identity():
    key = credentials.new_key()
    first = x509.load_pem_x509_csr(credentials.build_csr(key))
    assert first.is_signature_valid and list(first.extensions) == []
    renewal = credentials.build_csr(key, SPIFFE)
    check_csr(renewal, SPIFFE)  # what the hub checks: only the granted URI
    names = x509.load_pem_x509_csr(renewal).extensions.get_extension_for_class(
        x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.UniformResourceIdentifier) == [SPIFFE]


def test_renewal_is_due_at_the_given_fraction_of_the_life():
    start = dt.datetime(2030, 1, 1, tzinfo=dt.timezone.utc)
    info = credentials.CertificateInfo("ab", SPIFFE, start, start + dt.timedelta(hours=24))
    assert info.renew_at() == start + dt.timedelta(hours=16)
    assert info.renew_at(0.5) == start + dt.timedelta(hours=12)
    assert not info.expired(start + dt.timedelta(hours=23))
    assert info.expired(start + dt.timedelta(hours=24))


def test_certificate_facts_come_from_the_leaf_of_a_real_chain():
    store = MemoryStore()
    try:
        authority = TrustAuthority(store, b"k" * 32)
        authority.init_root()
        key = credentials.new_key()
        cert = authority.sign_workload_csr(credentials.build_csr(key), "default", "ratings", 3600)
        info = credentials.CertificateInfo.from_chain(cert.full_chain_pem.encode())
        assert info.spiffe_id == SPIFFE
        assert info.serial == format(cert.serial, "x")
        assert info.not_after == cert.not_after
    finally:
        store.close()


def test_agent_and_hub_fingerprint_a_bundle_alike():
    bundle = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
    assert credentials.bundle_fingerprint(bundle) == bundle_fingerprint(bundle.decode())
    assert credentials.certificate_count(bundle * 2) == 2
