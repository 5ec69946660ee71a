"""Initialising and importing the mesh root through the authority."""

from __future__ import annotations

import datetime as dt
import os

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from federation import errors
from federation.trust import TrustAuthority, certificates as certs
from .helpers import store_snapshot


def _operator_root(key, *, ca: bool, now: float) -> str:
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Example Corp"),
                      x509.NameAttribute(NameOID.COMMON_NAME, "Example mesh root")])
    start = dt.datetime.fromtimestamp(now, dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(start - dt.timedelta(days=1))
            .not_valid_after(start + dt.timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(
                digital_signature=not ca, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=ca, crl_sign=ca,
                encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                           critical=False)
            .sign(key, hashes.SHA256()))
    return certs.certificate_pem(cert)


def test_init_root_stores_one_root_and_the_plan(authority, store):
    root_id = authority.init_root()
    assert authority.has_root()
    assert authority.rotation_plan().current_root == root_id
    keys = [kv.key for kv in store.range("")[0]]
    assert keys == [f"trust/roots/{root_id}", "trust/rotation"]
    assert certs.certificate_id(certs.load_certificate(authority.trust_bundle())) == root_id


def test_a_second_init_or_import_is_refused_and_changes_nothing(rooted, store, clock):
    before = store_snapshot(store)
    with pytest.raises(errors.AlreadyExists, match="rotation"):
        rooted.init_root()
    key = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(errors.AlreadyExists):
        rooted.import_root(_operator_root(key, ca=True, now=clock.now), certs.private_key_pem(key))
    assert store_snapshot(store) == before


def test_import_root_adopts_an_operator_ca(authority, clock, openssl):
    key = ec.generate_private_key(ec.SECP256R1())
    cert_pem = _operator_root(key, ca=True, now=clock.now)
    root_id = authority.import_root(cert_pem, certs.private_key_pem(key))
    assert authority.trust_bundle() == cert_pem
    assert authority.status()["roots"][0]["imported"] is True
    assert root_id == certs.certificate_id(certs.load_certificate(cert_pem))
    secret = authority.cacerts("east")
    assert openssl.verifies(secret.root_cert_pem, secret.ca_cert_pem, at=clock.now)


@pytest.mark.parametrize("case, message", [
    ("mismatched", "does not match"),
    ("not_ca", "not a CA"),
    ("weak", "too weak"),
])
def test_bad_imports_are_refused_and_the_store_is_unchanged(authority, store, clock, case,
                                                            message):
    key = ec.generate_private_key(ec.SECP256R1())
    cert_pem, key_pem = _operator_root(key, ca=True, now=clock.now), certs.private_key_pem(key)
    if case == "mismatched":
        key_pem = certs.private_key_pem(ec.generate_private_key(ec.SECP256R1()))
    elif case == "not_ca":
        cert_pem = _operator_root(key, ca=False, now=clock.now)
    elif case == "weak":
        weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)
        cert_pem = _operator_root(weak, ca=True, now=clock.now)
        key_pem = certs.private_key_pem(weak)
    before = store_snapshot(store)
    with pytest.raises(errors.CARejected, match=message) as info:
        authority.import_root(cert_pem, key_pem)
    assert isinstance(info.value, errors.TrustError)
    assert store_snapshot(store) == before
    assert not authority.has_root()


def test_a_short_kek_is_a_config_error(store):
    with pytest.raises(errors.ConfigError, match="32 bytes"):
        TrustAuthority(store, os.urandom(16))


def test_an_authority_with_another_kek_cannot_use_the_sealed_keys(rooted, store, clock):
    rooted.ensure_intermediate("east")
    stranger = TrustAuthority(store, os.urandom(32), clock=clock)
    assert stranger.trust_bundle() == rooted.trust_bundle()  # certificates are in clear
    with pytest.raises(errors.TrustError, match="different key-encryption key"):
        stranger.cacerts("east")


def test_a_sealed_record_copied_to_another_cluster_does_not_open(rooted, store):
    rooted.ensure_intermediate("east")
    rooted.ensure_intermediate("west")
    store.put("trust/intermediates/west", store.get("trust/intermediates/east").value)
    with pytest.raises(errors.TrustError, match="moved from another key"):
        rooted.cacerts("west")
