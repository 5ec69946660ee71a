"""Sealing secrets at rest: AES-256-GCM under a key-encryption key (KEK).

A sealed blob is ``version | kek id | nonce | ciphertext+tag``. The store key the
blob is written under is authenticated as associated data, so a blob copied to
another key (say, one cluster's intermediate key moved under another cluster)
fails to open instead of being silently accepted.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import os
import secrets
import stat

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from federation import errors

log = logging.getLogger(__name__)

KEK_SIZE = 32
KEK_ENV = "FEDERATION_KEK"
_VERSION = b"\x01"
_KEK_ID_SIZE = 8
_NONCE_SIZE = 12
_HEADER_SIZE = len(_VERSION) + _KEK_ID_SIZE + _NONCE_SIZE
_AD_LABEL = b"mesh-federation sealed v1\x00"


def kek_id(kek: bytes) -> bytes:
    """A short public tag of the KEK, to tell "wrong KEK" from "tampered blob"."""
    return hashlib.sha256(b"mesh-federation kek id\x00" + kek).digest()[:_KEK_ID_SIZE]


def decode_kek(text: str, source: str) -> bytes:
    """A 32-byte KEK from its hex (64 digits) or base64 text form."""
    value = text.strip()
    if not value:
        raise errors.ConfigError(f"the key-encryption key in {source} is empty")
    raw: bytes | None = None
    if len(value) == 2 * KEK_SIZE:
        try:
            raw = bytes.fromhex(value)
        except ValueError:
            raw = None
    if raw is None:
        try:
            raw = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            try:
                raw = base64.urlsafe_b64decode(value)
            except (binascii.Error, ValueError) as exc:
                raise errors.ConfigError(
                    f"the key-encryption key in {source} is neither hex nor base64") from exc
    if len(raw) != KEK_SIZE:
        raise errors.ConfigError(
            f"the key-encryption key in {source} has {len(raw)} bytes; {KEK_SIZE} are required "
            "(generate one with `head -c 32 /dev/urandom | base64`)")
    return raw


def load_kek(path: str | os.PathLike | None = None, env: str = KEK_ENV) -> bytes:
    """The KEK from ``path`` when given, else from the environment variable ``env``."""
    if path is not None:
        try:
            with open(path, "rb") as fh:
                mode = os.fstat(fh.fileno()).st_mode
                data = fh.read(4096)
        except OSError as exc:
            raise errors.ConfigError(f"cannot read the key-encryption key file {path}: "
                                     f"{exc.strerror}") from exc
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            log.warning("key-encryption key file is readable by others",
                        extra={"fields": {"path": str(path), "mode": oct(mode & 0o777)}})
        try:
            text = data.decode("ascii")
        except UnicodeDecodeError as exc:
            raise errors.ConfigError(f"the key-encryption key file {path} is not hex or base64 "
                                     "text") from exc
        return decode_kek(text, f"file {path}")
    value = os.environ.get(env)
    if value is None:
        raise errors.ConfigError(
            f"no key-encryption key: set {env} (32 bytes, hex or base64) or pass a key file")
    return decode_kek(value, f"${env}")


def generate_kek_file(path: str | os.PathLike) -> bytes:
    """Write a new random KEK (base64) to ``path`` with mode 0600; never overwrites."""
    kek = secrets.token_bytes(KEK_SIZE)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as exc:
        raise errors.AlreadyExists(f"{path} exists; refusing to replace a key-encryption key "
                                   "(records sealed under it would be lost)") from exc
    except OSError as exc:
        raise errors.ConfigError(f"cannot create {path}: {exc.strerror}") from exc
    with os.fdopen(fd, "wb") as fh:
        fh.write(base64.b64encode(kek) + b"\n")
    return kek


def ensure_kek_file(path: str | os.PathLike) -> bytes:
    """Load the KEK at ``path``, creating it first when absent (the demo's default)."""
    if not os.path.exists(path):
        try:
            return generate_kek_file(path)
        except errors.AlreadyExists:
            pass  # created concurrently: read the winner's
    return load_kek(path)


def _check_kek(kek: bytes) -> None:
    if not isinstance(kek, (bytes, bytearray)) or len(kek) != KEK_SIZE:
        raise errors.ConfigError(f"the key-encryption key must be {KEK_SIZE} bytes")


def _associated(header: bytes, store_key: str) -> bytes:
    return _AD_LABEL + header + store_key.encode()


def seal(kek: bytes, store_key: str, plaintext: bytes) -> bytes:
    """Encrypt ``plaintext`` for storage under ``store_key``; a fresh nonce each time."""
    _check_kek(kek)
    header = _VERSION + kek_id(kek) + secrets.token_bytes(_NONCE_SIZE)
    nonce = header[-_NONCE_SIZE:]
    return header + AESGCM(bytes(kek)).encrypt(nonce, plaintext, _associated(header, store_key))


def unseal(kek: bytes, store_key: str, blob: bytes) -> bytes:
    """Decrypt a blob sealed for ``store_key``; TrustError if it cannot be opened."""
    _check_kek(kek)
    if len(blob) <= _HEADER_SIZE or blob[:1] != _VERSION:
        raise errors.TrustError(f"sealed record at {store_key} is malformed")
    header = blob[:_HEADER_SIZE]
    if header[1:1 + _KEK_ID_SIZE] != kek_id(kek):
        raise errors.TrustError(f"sealed record at {store_key} was sealed with a different "
                                "key-encryption key")
    try:
        return AESGCM(bytes(kek)).decrypt(header[-_NONCE_SIZE:], blob[_HEADER_SIZE:],
                                          _associated(header, store_key))
    except InvalidTag as exc:
        raise errors.TrustError(f"sealed record at {store_key} failed authentication "
                                "(tampered, or moved from another key)") from exc
