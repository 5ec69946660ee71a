"""Per-cluster intermediates delivered as Istio's cacerts Secret, checked with openssl."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from federation import errors
from federation.model.ids import MANAGED_BY, MANAGED_BY_LABEL
from federation.trust import TrustAuthority, certificates as certs
from federation.trust.cacerts import decode_secret_file
from .helpers import leaf_under, store_snapshot

CLUSTERS = ("east", "west", "north")
FILES = ("ca-cert.pem", "ca-key.pem", "cert-chain.pem", "root-cert.pem")


def _files(secret: dict) -> dict[str, str]:
    return {name: decode_secret_file(secret, name) for name in FILES}


def test_cacerts_secret_is_an_istio_system_secret_with_the_four_files(rooted):
    secret = rooted.cacerts_secret("east")
    assert secret["apiVersion"] == "v1" and secret["kind"] == "Secret"
    assert secret["type"] == "Opaque"
    assert secret["metadata"]["name"] == "cacerts"
    assert secret["metadata"]["namespace"] == "istio-system"
    assert secret["metadata"]["labels"][MANAGED_BY_LABEL] == MANAGED_BY
    assert sorted(secret["data"]) == sorted(FILES)
    files = _files(secret)
    assert "PRIVATE KEY" in files["ca-key.pem"]
    assert files["cert-chain.pem"] == files["ca-cert.pem"] + rooted.trust_bundle()
    assert files["root-cert.pem"] == rooted.trust_bundle()


def test_three_clusters_share_one_root_with_distinct_verified_pathlen0_intermediates(
        rooted, openssl, clock):
    files = {c: _files(rooted.cacerts_secret(c)) for c in CLUSTERS}
    roots = {f["root-cert.pem"] for f in files.values()}
    assert len(roots) == 1
    (root_pem,) = roots
    assert root_pem.count("BEGIN CERTIFICATE") == 1
    public_keys = set()
    for cluster, f in files.items():
        # The real openssl accepts the intermediate and a leaf under it.
        result = openssl.verify(f["root-cert.pem"], f["ca-cert.pem"],
                                untrusted=f["cert-chain.pem"], at=clock.now)
        assert result.returncode == 0, result.stdout + result.stderr
        leaf = leaf_under(f["ca-cert.pem"], f["ca-key.pem"], clock.now)
        assert openssl.verifies(f["root-cert.pem"], leaf, untrusted=f["cert-chain.pem"],
                                at=clock.now)
        cert = certs.load_certificate(f["ca-cert.pem"])
        key = certs.load_private_key(f["ca-key.pem"])
        assert certs.key_matches(cert, key)
        bc = cert.extensions.get_extension_for_class(x509.BasicConstraints)
        assert bc.critical and bc.value.ca and bc.value.path_length == 0
        assert "CA:TRUE, pathlen:0" in openssl.text(f["ca-cert.pem"])
        ku = cert.extensions.get_extension_for_class(x509.KeyUsage)
        assert ku.critical and ku.value.key_cert_sign and ku.value.crl_sign
        assert cluster in cert.subject.rfc4514_string()
        assert f["cert-chain.pem"].startswith(f["ca-cert.pem"])
        assert f["cert-chain.pem"].endswith(root_pem)
        validity = cert.not_valid_after_utc - cert.not_valid_before_utc
        assert dt.timedelta(days=365) <= validity <= dt.timedelta(days=365, minutes=10)
        public_keys.add(key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo))
    assert len(public_keys) == 3


def test_a_cluster_intermediate_does_not_verify_against_another_mesh_root(rooted, openssl,
                                                                          store, clock):
    other = certs.create_root(now=clock.now)
    f = _files(rooted.cacerts_secret("east"))
    assert not openssl.verifies(other.cert_pem, f["ca-cert.pem"], at=clock.now)


def test_intermediate_is_stable_until_two_thirds_then_renewed(rooted, clock, openssl):
    first = _files(rooted.cacerts_secret("east"))["ca-cert.pem"]
    clock.advance(dt.timedelta(days=200).total_seconds())
    assert _files(rooted.cacerts_secret("east"))["ca-cert.pem"] == first
    clock.advance(dt.timedelta(days=50).total_seconds())  # 250 days > 2/3 of 365
    renewed = _files(rooted.cacerts_secret("east"))
    assert renewed["ca-cert.pem"] != first
    cert = certs.load_certificate(renewed["ca-cert.pem"])
    assert cert.not_valid_before_utc > certs.load_certificate(first).not_valid_before_utc
    assert openssl.verifies(renewed["root-cert.pem"], renewed["ca-cert.pem"], at=clock.now)


def test_cacerts_before_any_root_is_not_found_and_writes_nothing(authority, store):
    before = store_snapshot(store)
    with pytest.raises(errors.NotFound, match="no mesh root"):
        authority.cacerts_secret("east")
    assert store_snapshot(store) == before


def test_invalid_cluster_name_is_refused(rooted, store):
    before = store_snapshot(store)
    for bad in ("East", "a/b", "", "x" * 64):
        with pytest.raises(errors.ValidationError):
            rooted.cacerts_secret(bad)
    assert store_snapshot(store) == before


def test_status_and_expiry_report_roots_and_each_cluster(rooted, clock):
    for c in CLUSTERS:
        rooted.ensure_intermediate(c)
    status = rooted.status()
    assert [r["role"] for r in status["roots"]] == ["current"]
    root_id = status["roots"][0]["id"]
    assert len(status["roots"][0]["fingerprint"]) == 64
    assert sorted(i["cluster"] for i in status["intermediates"]) == sorted(CLUSTERS)
    assert all(i["issuer_root"] == root_id and i["up_to_date"] for i in status["intermediates"])
    assert status["rotation"]["step_name"] == "none"
    items = {(i.kind, i.name): i.seconds for i in rooted.seconds_to_expiry()}
    assert items[("root", root_id)] == pytest.approx(dt.timedelta(days=3650).total_seconds())
    for c in CLUSTERS:
        assert items[("intermediate", c)] == pytest.approx(dt.timedelta(days=365).total_seconds())
    assert "PRIVATE KEY" not in repr(status)


def test_rsa_4096_root_signs_verifiable_intermediates(store, kek, clock, openssl):
    authority = TrustAuthority(store, kek, clock=clock)
    authority.init_root(algorithm="rsa-4096")
    f = _files(authority.cacerts_secret("east"))
    root = certs.load_certificate(f["root-cert.pem"])
    assert root.public_key().key_size == 4096
    assert isinstance(certs.load_private_key(f["ca-key.pem"]), ec.EllipticCurvePrivateKey)
    assert openssl.verifies(f["root-cert.pem"], f["ca-cert.pem"], at=clock.now)
