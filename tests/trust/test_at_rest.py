"""At rest in a real etcd: no private key in any readable form, and a restart resumes."""

from __future__ import annotations

import base64
import uuid

import pytest
from cryptography.hazmat.primitives import serialization

from federation.trust import Step, TrustAuthority, certificates as certs
from federation.trust.cacerts import decode_secret_file
from federation.trust.records import CARecord
from .helpers import make_csr

pytestmark = pytest.mark.etcd

CLUSTERS = ("east", "west", "north")


def _der_forms(key) -> list[bytes]:
    """Every encoding of a private key that must never be found in the store."""
    none = serialization.NoEncryption()
    forms = []
    for fmt in (serialization.PrivateFormat.PKCS8, serialization.PrivateFormat.TraditionalOpenSSL):
        der = key.private_bytes(serialization.Encoding.DER, fmt, none)
        forms += [der, base64.b64encode(der), der.hex().encode()]
    return forms


def _all_private_keys(store, kek, authority: TrustAuthority) -> list:
    """Open every sealed record with the KEK, and every cacerts key the authority hands out."""
    keys = []
    kvs, _ = store.range("trust/")
    for kv in kvs:
        if kv.key.startswith(("trust/roots/", "trust/intermediates/", "trust/hub/")):
            keys.append(CARecord.from_bytes(kv.value, kv.key).open(kek, kv.key).key)
    for c in CLUSTERS:
        keys.append(certs.load_private_key(
            decode_secret_file(authority.cacerts_secret(c), "ca-key.pem")))
    return keys


def test_no_private_key_is_readable_in_etcd_and_a_restarted_hub_resumes(etcd_server, kek, clock):
    from federation.store.etcd import EtcdStore

    prefix = f"/trust-test-{uuid.uuid4().hex[:12]}/"
    store = EtcdStore(etcd_server.url, prefix=prefix, timeout=5.0)
    raw = EtcdStore(etcd_server.url, prefix="", timeout=5.0)  # sees the bytes as etcd holds them
    try:
        authority = TrustAuthority(store, kek, clock=clock)
        authority.init_root()
        for c in CLUSTERS:
            authority.cacerts_secret(c)
        authority.sign_workload_csr(make_csr()[0], "shop", "cart")
        authority.start_rotation()
        for c in CLUSTERS:
            authority.confirm(c, Step.BUNDLE)
        assert authority.advance().step == Step.INTERMEDIATES
        for c in CLUSTERS:
            authority.cacerts_secret(c)  # new intermediates from the new root
        private_keys = _all_private_keys(store, kek, authority)
        assert len(private_keys) >= 2 + 1 + len(CLUSTERS)  # two roots, hub issuer, clusters

        kvs, _ = raw.range(prefix)
        assert len(kvs) >= 6
        forbidden = [f for key in private_keys for f in _der_forms(key)]
        forbidden += [kek, base64.b64encode(kek), kek.hex().encode()]
        for kv in kvs:
            assert b"PRIVATE KEY" not in kv.value, kv.key
            for needle in forbidden:
                assert needle not in kv.value, kv.key
        assert any(b"BEGIN CERTIFICATE" in kv.value for kv in kvs)  # certificates in clear

        del authority  # restart: a new hub process on the same etcd
        restarted_store = EtcdStore(etcd_server.url, prefix=prefix, timeout=5.0)
        resumed = TrustAuthority(restarted_store, kek, clock=clock)
        try:
            assert resumed.rotation_plan().step == Step.INTERMEDIATES
            for c in CLUSTERS:
                resumed.confirm(c, Step.INTERMEDIATES)
            assert resumed.advance().step == Step.FINALIZE
            assert resumed.trust_bundle().count("BEGIN CERTIFICATE") == 1
        finally:
            restarted_store.close()
    finally:
        raw.close()
        store.close()
