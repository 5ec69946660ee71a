"""VM workload certificates: CSR vetting and the signed leaf."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID

from federation import errors
from federation.trust import certificates as certs
from .helpers import make_csr, store_snapshot

IDENTITY = "spiffe://cluster.local/ns/shop/sa/cart"


def _leaf(result) -> x509.Certificate:
    return x509.load_pem_x509_certificate(result.cert_pem.encode())


@pytest.mark.parametrize("sans", [(), (IDENTITY,)], ids=["no-san", "matching-san"])
def test_signed_leaf_carries_only_the_granted_identity_and_verifies(rooted, openssl, clock, sans):
    csr_pem, key = make_csr(uris=sans, common_name="ignored.example.com")
    result = rooted.sign_workload_csr(csr_pem, "shop", "cart")
    leaf = _leaf(result)
    assert result.spiffe_id == IDENTITY
    ext = leaf.extensions
    san = ext.get_extension_for_class(x509.SubjectAlternativeName)
    assert san.critical
    assert [n.value for n in san.value] == [IDENTITY]
    assert leaf.subject == x509.Name([])  # the CSR's CN is not copied
    bc = ext.get_extension_for_class(x509.BasicConstraints)
    assert bc.critical and not bc.value.ca
    ku = ext.get_extension_for_class(x509.KeyUsage).value
    assert ku.digital_signature and ku.key_encipherment and not ku.key_cert_sign
    eku = ext.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert set(eku) == {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}
    assert leaf.public_key().public_numbers() == key.public_key().public_numbers()
    assert leaf.not_valid_after_utc - dt.datetime.fromtimestamp(clock.now, dt.timezone.utc) \
        == dt.timedelta(hours=24)
    # chain = hub workload intermediate then root; the bundle holds the one root
    assert result.chain_pem.count("BEGIN CERTIFICATE") == 2
    assert result.trust_bundle_pem == rooted.trust_bundle()
    assert openssl.verifies(result.trust_bundle_pem, result.cert_pem, untrusted=result.chain_pem,
                            at=clock.now)
    issuer = certs.load_certificate(result.chain_pem)
    bc = issuer.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert bc.ca and bc.path_length == 0
    assert "workload" in issuer.subject.rfc4514_string()


def test_p384_and_rsa2048_keys_are_accepted_with_a_custom_ttl(rooted, openssl, clock):
    for key in (ec.generate_private_key(ec.SECP384R1()),
                rsa.generate_private_key(public_exponent=65537, key_size=2048)):
        csr_pem, _ = make_csr(key)
        result = rooted.sign_workload_csr(csr_pem, "shop", "cart", ttl=dt.timedelta(hours=1))
        leaf = _leaf(result)
        assert leaf.not_valid_after_utc - leaf.not_valid_before_utc <= dt.timedelta(hours=1,
                                                                                    minutes=5)
        assert openssl.verifies(result.trust_bundle_pem, result.cert_pem,
                                untrusted=result.chain_pem, at=clock.now)


def test_the_hub_workload_intermediate_is_reused_between_signatures(rooted):
    a = rooted.sign_workload_csr(make_csr()[0], "shop", "cart")
    b = rooted.sign_workload_csr(make_csr()[0], "shop", "cart")
    assert a.chain_pem == b.chain_pem
    assert a.serial != b.serial
    assert "hub" not in rooted.member_clusters()


def _forged() -> bytes:
    """A CSR whose signed content was altered after signing."""
    csr_pem, _ = make_csr(uris=(IDENTITY,), common_name="aaaaaaaa")
    der = x509.load_pem_x509_csr(csr_pem).public_bytes(serialization.Encoding.DER)
    assert der.count(b"aaaaaaaa") == 1
    tampered = x509.load_der_x509_csr(der.replace(b"aaaaaaaa", b"aaaaaaab"))
    return tampered.public_bytes(serialization.Encoding.PEM)


@pytest.mark.parametrize("case, reason", [
    ("forged", "signature does not verify"),
    ("extra_san", "only the SAN"),
    ("other_identity", "granted identity is"),
    ("other_namespace", "granted identity is"),
    ("dns_only", "only the URI"),
    ("weak_rsa", "too weak"),
    ("malformed", "not a well-formed PEM"),
    ("truncated", "not a well-formed PEM"),
    ("ca_request", "CA certificate"),
])
def test_bad_csrs_are_rejected_and_the_store_is_unchanged(rooted, store, case, reason):
    rooted.sign_workload_csr(make_csr()[0], "shop", "cart")  # state exists before
    if case == "forged":
        csr = _forged()
    elif case == "extra_san":
        csr, _ = make_csr(uris=(IDENTITY,), dns=("cart.shop.svc",))
    elif case == "other_identity":
        csr, _ = make_csr(uris=("spiffe://cluster.local/ns/shop/sa/admin",))
    elif case == "other_namespace":
        csr, _ = make_csr(uris=("spiffe://cluster.local/ns/kube-system/sa/cart",))
    elif case == "dns_only":
        csr, _ = make_csr(dns=("cart.shop.svc.cluster.local",))
    elif case == "weak_rsa":
        csr, _ = make_csr(rsa.generate_private_key(public_exponent=65537, key_size=1024))
    elif case == "malformed":
        csr = b"hello, please sign me"
    elif case == "truncated":
        csr = make_csr()[0][:120]
    elif case == "ca_request":
        key = ec.generate_private_key(ec.SECP256R1())
        csr = (x509.CertificateSigningRequestBuilder().subject_name(x509.Name([]))
               .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
               .sign(key, certs.signing_hash(key)).public_bytes(serialization.Encoding.PEM))
    before = store_snapshot(store)
    with pytest.raises(errors.CSRRejected, match=reason):
        rooted.sign_workload_csr(csr, "shop", "cart")
    assert store_snapshot(store) == before


def test_a_refused_first_signature_creates_no_workload_intermediate(rooted, store):
    before = store_snapshot(store)
    with pytest.raises(errors.CSRRejected):
        rooted.sign_workload_csr(_forged(), "shop", "cart")
    assert store_snapshot(store) == before


@pytest.mark.parametrize("namespace, sa", [("Shop", "cart"), ("shop", "cart/../admin"),
                                            ("", "cart")])
def test_identities_that_could_smuggle_paths_are_refused(rooted, namespace, sa):
    with pytest.raises(errors.ValidationError):
        rooted.sign_workload_csr(make_csr()[0], namespace, sa)


def test_ttl_outside_bounds_is_refused(rooted):
    with pytest.raises(errors.ValidationError, match="TTL"):
        rooted.sign_workload_csr(make_csr()[0], "shop", "cart", ttl=dt.timedelta(days=365))
