"""Certificates and keys of one test API server (EC P-256, ``cryptography``).

The serving CA is the simulator's throwaway CA (``kubesim.certs.SimCA``);
``Authority`` adds what a real API server also needs: client certificates
whose organisation is the user's group (``system:masters`` for the admin).
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from kubesim.certs import SimCA

VALIDITY = dt.timedelta(days=7)


def key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


class Authority(SimCA):
    """A self-signed CA issuing server certificates (``issue_server_cert``) and client ones."""

    def issue_client_cert(self, common_name: str, group: str | None = None) -> tuple[bytes, bytes]:
        """(certificate PEM, key PEM) of a client: CN is the user name, O its group."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = dt.datetime.now(dt.timezone.utc)
        attrs = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
        if group:
            attrs.insert(0, x509.NameAttribute(NameOID.ORGANIZATION_NAME, group))
        cert = (
            x509.CertificateBuilder().subject_name(x509.Name(attrs)).issuer_name(self._name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + VALIDITY)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .sign(self._key, hashes.SHA256()))
        return cert.public_bytes(serialization.Encoding.PEM), key_pem(key)


def write_private(path: Path, data: bytes) -> Path:
    """Write a key file readable by its owner only."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    return path


def service_account_keys(directory: Path) -> tuple[Path, Path]:
    """(public key file, signing key file) for the ``--service-account-*`` flags."""
    key = ec.generate_private_key(ec.SECP256R1())
    public = directory / "sa.pub"
    public.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                     serialization.PublicFormat.SubjectPublicKeyInfo))
    return public, write_private(directory / "sa.key", key_pem(key))
