"""Workload certificates: SPIFFE identities, CSR checks and leaf issuance.

Pure: the caller supplies the issuing CA and ``now``. A CSR may ask for nothing
but the identity the caller already granted, so a VM agent can never obtain a
certificate for another service account, a DNS name or a CA.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from federation import errors
from federation.model.ids import is_dns_label, is_dns_subdomain
from federation.trust.certificates import (
    BACKDATE, CertifiedKey, as_datetime, build_certificate, key_usage, key_weakness,
)

DEFAULT_TTL = dt.timedelta(hours=24)
MIN_TTL = dt.timedelta(minutes=5)
MAX_TTL = dt.timedelta(days=30)

_TRUST_DOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9._]{0,253}[a-z0-9])?$")

_LEAF_KEY_USAGE = key_usage(digital_signature=True, key_encipherment=True)


def check_trust_domain(trust_domain: str) -> str:
    if not isinstance(trust_domain, str) or not _TRUST_DOMAIN.match(trust_domain):
        raise errors.ValidationError(f"invalid trust domain {trust_domain!r}")
    return trust_domain


def spiffe_id(trust_domain: str, namespace: str, service_account: str) -> str:
    """``spiffe://<trust-domain>/ns/<ns>/sa/<sa>``, refusing names that could smuggle paths."""
    check_trust_domain(trust_domain)
    if not is_dns_label(namespace):
        raise errors.CSRRejected(f"invalid namespace {namespace!r}")
    if not is_dns_subdomain(service_account):
        raise errors.CSRRejected(f"invalid service account {service_account!r}")
    return f"spiffe://{trust_domain}/ns/{namespace}/sa/{service_account}"


def check_ttl(ttl: dt.timedelta | float) -> dt.timedelta:
    """A workload certificate lifetime (a timedelta or seconds) within the allowed bounds."""
    lifetime = ttl if isinstance(ttl, dt.timedelta) else dt.timedelta(seconds=float(ttl))
    if not MIN_TTL <= lifetime <= MAX_TTL:
        raise errors.ValidationError(
            f"workload certificate TTL {lifetime} outside [{MIN_TTL}, {MAX_TTL}]")
    return lifetime


def _describe(name: x509.GeneralName) -> str:
    return f"{type(name).__name__}:{name.value}"


def check_csr(csr_pem: bytes | str, expected_id: str) -> x509.CertificateSigningRequest:
    """Parse and vet a CSR for ``expected_id``; CSRRejected with the reason otherwise."""
    data = csr_pem.encode() if isinstance(csr_pem, str) else csr_pem
    if not isinstance(data, (bytes, bytearray)):
        raise errors.CSRRejected("the CSR must be PEM text")
    try:
        csr = x509.load_pem_x509_csr(bytes(data))
    except ValueError as exc:
        raise errors.CSRRejected("the CSR is not a well-formed PEM certificate request") from exc
    try:
        if not csr.is_signature_valid:
            raise errors.CSRRejected("the CSR's signature does not verify (forged or altered)")
        public_key = csr.public_key()
    except (ValueError, TypeError) as exc:
        raise errors.CSRRejected("the CSR's key or signature cannot be read") from exc
    weakness = key_weakness(public_key)
    if weakness:
        raise errors.CSRRejected(f"the CSR's key is not accepted: {weakness}")
    try:
        extensions = list(csr.extensions)
    except (x509.DuplicateExtension, ValueError) as exc:
        raise errors.CSRRejected("the CSR's extensions are malformed or duplicated") from exc
    for ext in extensions:
        if isinstance(ext.value, x509.BasicConstraints) and ext.value.ca:
            raise errors.CSRRejected("the CSR asks for a CA certificate")
        if isinstance(ext.value, x509.SubjectAlternativeName):
            names = list(ext.value)
            if len(names) != 1:
                listed = ", ".join(_describe(n) for n in names) or "none"
                raise errors.CSRRejected(
                    f"the CSR may carry only the SAN {expected_id}; it asks for {listed}")
            (name,) = names
            if not isinstance(name, x509.UniformResourceIdentifier):
                raise errors.CSRRejected(
                    f"the CSR asks for {_describe(name)}; only the URI {expected_id} is allowed")
            if name.value != expected_id:
                raise errors.CSRRejected(
                    f"the CSR asks for identity {name.value}; granted identity is {expected_id}")
    return csr


def issue_leaf(csr: x509.CertificateSigningRequest, issuer: CertifiedKey, identity: str, *,
               ttl: dt.timedelta = DEFAULT_TTL, now: dt.datetime | float) -> x509.Certificate:
    """A workload certificate for the CSR's key; only ``identity`` is taken as a name.

    The subject is empty and the SAN critical, as Istio issues them; the validity
    never outlasts the issuer's.
    """
    ttl = check_ttl(ttl)
    start = as_datetime(now)
    end = min(start + ttl, issuer.cert.not_valid_after_utc)
    if end <= start:
        raise errors.TrustError("the workload issuer has expired")
    return build_certificate(
        x509.Name([]), csr.public_key(), issuer.key, issuer=issuer.cert,
        not_before=max(start - BACKDATE, issuer.cert.not_valid_before_utc), not_after=end,
        usage=_LEAF_KEY_USAGE,
        extended_usages=(ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH),
        sans=(x509.UniformResourceIdentifier(identity),), critical_sans=True, subject_key_id=True)


@dataclass(frozen=True)
class WorkloadCertificate:
    """A signed workload certificate: ``chain_pem`` is issuer then root; ``trust_bundle_pem``
    the roots to trust (two during a rotation)."""

    spiffe_id: str
    cert_pem: str
    chain_pem: str
    trust_bundle_pem: str
    serial: int
    not_before: dt.datetime
    not_after: dt.datetime

    @property
    def full_chain_pem(self) -> str:
        return self.cert_pem + self.chain_pem
