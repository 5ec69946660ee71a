"""Roots, intermediates and renewal timing (pure functions, no store)."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from federation import errors
from federation.trust import certificates as certs
from .helpers import START

NOW = dt.datetime.fromtimestamp(START, tz=dt.timezone.utc)


def _self_signed(key, *, ca: bool | None, path_length: int | None = None,
                 days: int = 365, start: dt.datetime = NOW) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "operator root")])
    builder = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(start - dt.timedelta(days=1))
               .not_valid_after(start + dt.timedelta(days=days)))
    if ca is not None:
        builder = builder.add_extension(x509.BasicConstraints(ca=ca, path_length=path_length),
                                        critical=True)
    return builder.sign(key, hashes.SHA256())


def _pem(cert: x509.Certificate) -> str:
    return certs.certificate_pem(cert)


def test_create_root_is_a_self_signed_ca_with_the_requested_validity():
    root = certs.create_root(algorithm="ecdsa-p256", validity_days=3650, now=NOW)
    bc = root.cert.extensions.get_extension_for_class(x509.BasicConstraints)
    ku = root.cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert bc.critical and bc.value.ca
    assert ku.critical and ku.value.key_cert_sign and ku.value.crl_sign
    assert root.cert.issuer == root.cert.subject
    assert certs.is_issued_by(root.cert, root.cert)
    assert root.not_after == NOW + dt.timedelta(days=3650)
    assert root.algorithm == "ecdsa-p256"
    assert certs.key_matches(root.cert, root.key)


def test_two_roots_have_distinct_subjects_for_rotation():
    a = certs.create_root(now=NOW)
    b = certs.create_root(now=NOW)
    assert a.cert.subject != b.cert.subject
    assert a.id != b.id


def test_load_root_accepts_a_matching_self_signed_ca():
    key = ec.generate_private_key(ec.SECP384R1())
    cert = _self_signed(key, ca=True)
    root = certs.load_root(_pem(cert), certs.private_key_pem(key), now=NOW)
    assert root.cert == cert and root.algorithm == "ecdsa-p384"


@pytest.mark.parametrize("case, message", [
    ("mismatch", "does not match"),
    ("not_ca", "not a CA"),
    ("no_constraints", "not a CA"),
    ("pathlen0", "pathlen:0"),
    ("expired", "expired"),
    ("garbage_cert", "cannot be parsed"),
    ("garbage_key", "cannot be parsed"),
])
def test_load_root_refuses_unusable_material_with_a_clear_reason(case, message):
    key = ec.generate_private_key(ec.SECP256R1())
    other = ec.generate_private_key(ec.SECP256R1())
    cert_pem, key_pem = _pem(_self_signed(key, ca=True)), certs.private_key_pem(key)
    if case == "mismatch":
        key_pem = certs.private_key_pem(other)
    elif case == "not_ca":
        cert_pem = _pem(_self_signed(key, ca=False))
    elif case == "no_constraints":
        cert_pem = _pem(_self_signed(key, ca=None))
    elif case == "pathlen0":
        cert_pem = _pem(_self_signed(key, ca=True, path_length=0))
    elif case == "expired":
        cert_pem = _pem(_self_signed(key, ca=True, days=1, start=NOW - dt.timedelta(days=30)))
    elif case == "garbage_cert":
        cert_pem = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
    elif case == "garbage_key":
        key_pem = b"not a key"
    with pytest.raises(errors.CARejected, match=message) as info:
        certs.load_root(cert_pem, key_pem, now=NOW)
    assert isinstance(info.value, errors.TrustError)


def test_load_root_refuses_a_weak_rsa_key():
    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    with pytest.raises(errors.CARejected, match="too weak"):
        certs.load_root(_pem(_self_signed(key, ca=True)), certs.private_key_pem(key), now=NOW)


def test_intermediate_has_pathlen_0_ca_usages_cluster_name_and_one_year():
    root = certs.create_root(now=NOW)
    inter = certs.issue_intermediate(root, common_name="east intermediate", locality="east",
                                     now=NOW)
    ext = inter.cert.extensions
    bc = ext.get_extension_for_class(x509.BasicConstraints)
    ku = ext.get_extension_for_class(x509.KeyUsage)
    assert bc.critical and bc.value.ca and bc.value.path_length == 0
    assert ku.critical and ku.value.key_cert_sign and ku.value.crl_sign
    assert not ku.value.digital_signature
    ski = ext.get_extension_for_class(x509.SubjectKeyIdentifier).value
    aki = ext.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    root_ski = root.cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert ski.digest == x509.SubjectKeyIdentifier.from_public_key(inter.key.public_key()).digest
    assert aki.key_identifier == root_ski.digest
    subject = inter.cert.subject
    assert subject.get_attributes_for_oid(NameOID.LOCALITY_NAME)[0].value == "east"
    assert subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "east intermediate"
    assert inter.not_after == NOW + dt.timedelta(days=365)
    assert certs.is_issued_by(inter.cert, root.cert)


def test_intermediate_never_outlives_its_root():
    root = certs.create_root(validity_days=30, now=NOW)
    inter = certs.issue_intermediate(root, common_name="x", now=NOW)
    assert inter.not_after == root.not_after


def test_needs_renewal_turns_true_at_two_thirds_of_the_life():
    root = certs.create_root(now=NOW)
    inter = certs.issue_intermediate(root, common_name="x", validity_days=300, now=NOW)
    start, end = inter.cert.not_valid_before_utc, inter.cert.not_valid_after_utc
    due = start + (end - start) * 2 / 3
    assert certs.renewal_due_at(inter.cert) == due
    assert not certs.needs_renewal(inter.cert, NOW)
    assert not certs.needs_renewal(inter.cert, due - dt.timedelta(seconds=1))
    assert certs.needs_renewal(inter.cert, due)
    assert certs.needs_renewal(inter.cert, due.timestamp() + 1)  # POSIX seconds work too
    assert certs.needs_renewal(inter.cert, end + dt.timedelta(days=1))


def test_unknown_algorithm_is_a_validation_error():
    with pytest.raises(errors.ValidationError, match="unknown key algorithm"):
        certs.create_root(algorithm="dsa-1024", now=NOW)
