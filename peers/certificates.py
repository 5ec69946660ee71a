"""Certificates and keys of one test API server (EC P-256, ``cryptography``).

The serving CA is the simulator's throwaway CA (``kubesim.certs.SimCA``);
``Authority`` adds what a real API server also needs: client certificates
whose organisation is the user's group (``system:masters`` for the admin).
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID

from federation.trust.certificates import generate_key, private_key_pem
from kubesim.certs import SimCA


class Authority(SimCA):
    """A self-signed CA issuing server certificates (``issue_server_cert``) and client ones."""

    def issue_client_cert(self, common_name: str, group: str | None = None) -> tuple[bytes, bytes]:
        """(certificate PEM, key PEM) of a client: CN is the user name, O its group."""
        return self.issue(common_name, org=group, usage=ExtendedKeyUsageOID.CLIENT_AUTH)


def write_private(path: Path, data: bytes) -> Path:
    """Write a key file readable by its owner only."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    return path


def service_account_keys(directory: Path) -> tuple[Path, Path]:
    """(public key file, signing key file) for the ``--service-account-*`` flags."""
    key = generate_key("ecdsa-p256")
    public = directory / "sa.pub"
    public.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                     serialization.PublicFormat.SubjectPublicKeyInfo))
    return public, write_private(directory / "sa.key", private_key_pem(key))
