"""The VM's own key and certificate: generated, requested, inspected (no I/O).

The private key is ECDSA P-256, generated on the VM for every enrollment and
renewal; only its CSR leaves the machine. A CSR carries no name at enrollment
(the hub grants the group's identity) and the granted SPIFFE URI at renewal.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from federation import errors
from federation.trust.certificates import generate_key, private_key_pem

RENEW_FRACTION = 2 / 3  # of the certificate's life, as Istio's agents do


def new_key() -> ec.EllipticCurvePrivateKey:
    return generate_key("ecdsa-p256")


key_pem = private_key_pem  # PKCS#8 PEM, unencrypted: written 0600 next to the certificate


def build_csr(key: ec.EllipticCurvePrivateKey, spiffe_id: str = "") -> bytes:
    builder = x509.CertificateSigningRequestBuilder().subject_name(x509.Name([]))
    if spiffe_id:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.UniformResourceIdentifier(spiffe_id)]), critical=True)
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


def bundle_fingerprint(bundle_pem: bytes) -> str:
    """SHA-256 (hex) of the bundle's exact bytes, as the hub computes it."""
    return hashlib.sha256(bundle_pem).hexdigest()


def certificate_count(pem: bytes) -> int:
    return pem.count(b"-----BEGIN CERTIFICATE-----")


@dataclass(frozen=True)
class CertificateInfo:
    """The leaf of a certificate chain, as far as the agent cares."""

    serial: str  # hex
    spiffe_id: str
    not_before: dt.datetime
    not_after: dt.datetime

    @classmethod
    def from_chain(cls, chain_pem: bytes) -> "CertificateInfo":
        try:
            leaf = x509.load_pem_x509_certificates(chain_pem)[0]
            sans = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
            uris = sans.get_values_for_type(x509.UniformResourceIdentifier)
        except (ValueError, IndexError, x509.ExtensionNotFound) as exc:
            raise errors.TrustError("the hub's certificate chain cannot be read") from exc
        return cls(serial=format(leaf.serial_number, "x"), spiffe_id=uris[0] if uris else "",
                   not_before=leaf.not_valid_before_utc, not_after=leaf.not_valid_after_utc)

    def renew_at(self, fraction: float = RENEW_FRACTION) -> dt.datetime:
        return self.not_before + (self.not_after - self.not_before) * fraction

    def expired(self, now: dt.datetime) -> bool:
        return now >= self.not_after


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)
