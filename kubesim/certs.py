"""A throwaway certificate authority for simulated clusters' HTTPS endpoints.

One CA per run signs every server certificate (EC P-256, the server's IP in
the subjectAltName), so clients verify the servers with the CA bundle from the
kubeconfig just as with a real cluster.
"""

from __future__ import annotations

import datetime
import os
import ssl
import tempfile
from dataclasses import dataclass

from cryptography.x509.oid import ExtendedKeyUsageOID

from federation.trust.certificates import (
    BACKDATE, build_certificate, certificate_pem, generate_key, host_names, key_usage, private_key_pem,
    subject_name,
)

_VALIDITY = datetime.timedelta(days=7)


@dataclass(frozen=True)
class ServerCert:
    cert_pem: bytes
    key_pem: bytes

    def ssl_context(self) -> ssl.SSLContext:
        """A TLS server context (HTTP/1.1 only) serving this certificate."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.set_alpn_protocols(["http/1.1"])
        # ssl loads chains from files only; the files live just long enough to be read.
        with tempfile.TemporaryDirectory(prefix="sim-tls-") as tmp:
            cert_path, key_path = os.path.join(tmp, "tls.crt"), os.path.join(tmp, "tls.key")
            with open(cert_path, "wb") as fh:
                fh.write(self.cert_pem)
            with open(os.open(key_path, os.O_WRONLY | os.O_CREAT, 0o600), "wb") as fh:
                fh.write(self.key_pem)
            context.load_cert_chain(cert_path, key_path)
        return context


class SimCA:
    """A self-signed CA that issues server certificates for simulated clusters."""

    def __init__(self, common_name: str = "mesh-federation sim CA"):
        self._key = generate_key("ecdsa-p256")
        now = datetime.datetime.now(datetime.timezone.utc)
        self._name = subject_name(common_name)
        self._cert = build_certificate(
            self._name, self._key.public_key(), self._key, not_before=now - BACKDATE,
            not_after=now + _VALIDITY, ca=True, path_length=0,
            usage=key_usage(digital_signature=True, key_cert_sign=True, crl_sign=True), subject_key_id=True)
        self.cert_pem = certificate_pem(self._cert).encode()

    def issue(self, common_name: str, *, org: str | None = None, sans: list | None = None,
              usage=ExtendedKeyUsageOID.SERVER_AUTH) -> tuple[bytes, bytes]:
        """(certificate PEM, key PEM) of a new P-256 key, signed by this CA."""
        key = generate_key("ecdsa-p256")
        now = datetime.datetime.now(datetime.timezone.utc)
        cert = build_certificate(subject_name(common_name, org=org), key.public_key(), self._key,
                                 issuer=self._cert, not_before=now - BACKDATE, not_after=now + _VALIDITY,
                                 extended_usages=(usage,), sans=sans or ())
        return certificate_pem(cert).encode(), private_key_pem(key)

    def issue_server_cert(self, common_name: str, ips: list[str], dns_names: list[str] | None = None) -> ServerCert:
        return ServerCert(*self.issue(common_name, sans=host_names([*ips, *(dns_names or [])])))
