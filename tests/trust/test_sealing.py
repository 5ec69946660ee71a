"""Sealing at rest: AES-GCM bound to the store key, and loading the KEK."""

from __future__ import annotations

import base64
import os
import stat

import pytest

from federation import errors
from federation.trust import sealing


def test_seal_then_unseal_round_trips_with_a_fresh_nonce_each_time(kek):
    a = sealing.seal(kek, "trust/roots/x", b"secret")
    b = sealing.seal(kek, "trust/roots/x", b"secret")
    assert a != b  # random nonce
    assert b"secret" not in a
    assert sealing.unseal(kek, "trust/roots/x", a) == b"secret"
    assert sealing.unseal(kek, "trust/roots/x", b) == b"secret"


def test_a_blob_moved_to_another_store_key_does_not_open(kek):
    blob = sealing.seal(kek, "trust/intermediates/east", b"key")
    with pytest.raises(errors.TrustError, match="moved"):
        sealing.unseal(kek, "trust/intermediates/west", blob)


def test_a_tampered_blob_does_not_open(kek):
    blob = bytearray(sealing.seal(kek, "k", b"key material"))
    blob[-1] ^= 1
    with pytest.raises(errors.TrustError, match="tampered"):
        sealing.unseal(kek, "k", bytes(blob))


def test_a_different_kek_is_reported_as_such(kek):
    blob = sealing.seal(kek, "k", b"x")
    with pytest.raises(errors.TrustError, match="different key-encryption key"):
        sealing.unseal(os.urandom(32), "k", blob)


def test_load_kek_reads_base64_and_hex_from_file_and_env(tmp_path, kek):
    b64 = tmp_path / "b64"
    b64.write_text(base64.b64encode(kek).decode() + "\n")
    hexed = tmp_path / "hex"
    hexed.write_text(kek.hex())
    assert sealing.load_kek(b64) == kek
    assert sealing.load_kek(hexed) == kek
    os.environ["TEST_TRUST_KEK"] = kek.hex()
    try:
        assert sealing.load_kek(env="TEST_TRUST_KEK") == kek
    finally:
        del os.environ["TEST_TRUST_KEK"]


def test_load_kek_without_a_source_is_a_clear_config_error():
    os.environ.pop("TEST_TRUST_KEK_ABSENT", None)
    with pytest.raises(errors.ConfigError, match="TEST_TRUST_KEK_ABSENT"):
        sealing.load_kek(env="TEST_TRUST_KEK_ABSENT")


@pytest.mark.parametrize("content, message", [
    (base64.b64encode(b"short").decode(), "5 bytes; 32 are required"),
    ("", "empty"),
    ("!!!not base64!!!", "neither hex nor base64"),
])
def test_load_kek_refuses_short_or_malformed_keys(tmp_path, content, message):
    path = tmp_path / "kek"
    path.write_text(content)
    with pytest.raises(errors.ConfigError, match=message):
        sealing.load_kek(path)


def test_load_kek_reports_a_missing_file(tmp_path):
    with pytest.raises(errors.ConfigError, match="cannot read"):
        sealing.load_kek(tmp_path / "absent")


def test_generate_kek_file_writes_mode_0600_and_never_overwrites(tmp_path):
    path = tmp_path / "kek"
    kek = sealing.generate_kek_file(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sealing.load_kek(path) == kek
    with pytest.raises(errors.AlreadyExists):
        sealing.generate_kek_file(path)
    assert sealing.load_kek(path) == kek
    assert sealing.ensure_kek_file(path) == kek
    fresh = tmp_path / "fresh"
    assert sealing.ensure_kek_file(fresh) == sealing.load_kek(fresh)
