"""X.509 for the whole project: keys, certificates, and the mesh's roots and intermediates.

``build_certificate`` is the one place a certificate is made: the mesh CA's roots,
intermediates and workload leaves here and in ``workload``, the hub API's own TLS
(``federation.api.tls``) and the simulator's and test peers' certificates alike.

Pure: no store and no logging; ``now`` is passed in (only ``create_root`` and
``load_root`` default it to the current time, for use by hand). Every function here
works on ``cryptography`` objects; PEM text is converted at the edges.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Union

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from federation import errors

PrivateKey = Union[ec.EllipticCurvePrivateKey, rsa.RSAPrivateKey]
PublicKey = Union[ec.EllipticCurvePublicKey, rsa.RSAPublicKey]

ALGORITHMS = ("ecdsa-p256", "ecdsa-p384", "rsa-2048", "rsa-3072", "rsa-4096")
_CURVES = {"secp256r1": "ecdsa-p256", "secp384r1": "ecdsa-p384"}
MIN_RSA_BITS = 2048
MAX_RSA_BITS = 8192

# Certificates start a little in the past so members with a slightly slow clock
# accept them at once.
BACKDATE = dt.timedelta(minutes=5)
# Renew once two thirds of the validity has passed (as Istio does for workloads).
RENEW_FRACTION = 2 / 3
_CN_MAX = 64


def as_datetime(now: dt.datetime | float | None) -> dt.datetime:
    """An aware UTC datetime from a datetime or a POSIX timestamp (None: now)."""
    if now is None:
        return dt.datetime.now(dt.timezone.utc)
    if isinstance(now, dt.datetime):
        return now if now.tzinfo else now.replace(tzinfo=dt.timezone.utc)
    return dt.datetime.fromtimestamp(float(now), tz=dt.timezone.utc)


# --- keys -------------------------------------------------------------------
def generate_key(algorithm: str) -> PrivateKey:
    if algorithm == "ecdsa-p256":
        return ec.generate_private_key(ec.SECP256R1())
    if algorithm == "ecdsa-p384":
        return ec.generate_private_key(ec.SECP384R1())
    if algorithm.startswith("rsa-") and algorithm in ALGORITHMS:
        return rsa.generate_private_key(public_exponent=65537, key_size=int(algorithm[4:]))
    raise errors.ValidationError(
        f"unknown key algorithm {algorithm!r}; expected one of {', '.join(ALGORITHMS)}")


def key_algorithm(key: PrivateKey | PublicKey | object) -> str | None:
    """``ecdsa-p256``, ``rsa-3072``, ... or None for a type the mesh does not accept."""
    if isinstance(key, (ec.EllipticCurvePrivateKey, ec.EllipticCurvePublicKey)):
        return _CURVES.get(key.curve.name)
    if isinstance(key, (rsa.RSAPrivateKey, rsa.RSAPublicKey)):
        return f"rsa-{key.key_size}"
    return None


def key_weakness(key: object) -> str | None:
    """Why ``key`` (public or private) is not acceptable, or None when it is."""
    if isinstance(key, (rsa.RSAPrivateKey, rsa.RSAPublicKey)):
        if key.key_size < MIN_RSA_BITS:
            return f"RSA key of {key.key_size} bits is too weak (at least {MIN_RSA_BITS})"
        if key.key_size > MAX_RSA_BITS:
            return f"RSA key of {key.key_size} bits is larger than {MAX_RSA_BITS}"
        return None
    if isinstance(key, (ec.EllipticCurvePrivateKey, ec.EllipticCurvePublicKey)):
        if key.curve.name not in _CURVES:
            return f"elliptic curve {key.curve.name} is not accepted (P-256 or P-384)"
        return None
    return f"key type {type(key).__name__} is not accepted (ECDSA P-256/P-384 or RSA)"


def signing_hash(key: PrivateKey) -> hashes.HashAlgorithm:
    """The digest matching the issuer key's strength."""
    if isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name == "secp384r1":
        return hashes.SHA384()
    return hashes.SHA256()


def private_key_pem(key: PrivateKey) -> bytes:
    """PKCS#8 PEM, unencrypted: only for the sealed store record and ``cacerts``."""
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def load_private_key(pem: bytes | str) -> PrivateKey:
    data = pem.encode() if isinstance(pem, str) else pem
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except TypeError as exc:  # password-protected
        raise errors.TrustError("the private key is encrypted; provide it unencrypted") from exc
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise errors.TrustError("the private key PEM cannot be parsed") from exc
    if not isinstance(key, (ec.EllipticCurvePrivateKey, rsa.RSAPrivateKey)):
        raise errors.TrustError(f"key type {type(key).__name__} is not accepted")
    return key


def _spki(key: PrivateKey | PublicKey) -> bytes:
    public = key.public_key() if hasattr(key, "private_bytes") else key
    return public.public_bytes(serialization.Encoding.DER,
                               serialization.PublicFormat.SubjectPublicKeyInfo)


def key_matches(cert: x509.Certificate, key: PrivateKey) -> bool:
    return _spki(cert.public_key()) == _spki(key)


# --- certificates -------------------------------------------------------------
def certificate_pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def load_certificate(pem: bytes | str) -> x509.Certificate:
    data = pem.encode() if isinstance(pem, str) else pem
    try:
        return x509.load_pem_x509_certificate(data)
    except ValueError as exc:
        raise errors.TrustError("the certificate PEM cannot be parsed") from exc


def fingerprint(cert: x509.Certificate) -> str:
    """SHA-256 of the DER certificate, lower-case hex."""
    return cert.fingerprint(hashes.SHA256()).hex()


def certificate_id(cert: x509.Certificate) -> str:
    """A short stable name for a root: the first 16 hex digits of its fingerprint."""
    return fingerprint(cert)[:16]


@dataclass(frozen=True)
class CertifiedKey:
    """A CA certificate with its private key."""

    cert: x509.Certificate
    key: PrivateKey

    @property
    def cert_pem(self) -> str:
        return certificate_pem(self.cert)

    def key_pem(self) -> str:
        return private_key_pem(self.key).decode()

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.cert)

    @property
    def id(self) -> str:
        return certificate_id(self.cert)

    @property
    def not_after(self) -> dt.datetime:
        return self.cert.not_valid_after_utc

    @property
    def algorithm(self) -> str | None:
        return key_algorithm(self.key)

    def __repr__(self) -> str:  # never show the key
        return f"CertifiedKey({self.cert.subject.rfc4514_string()!r}, {self.id})"


def subject_name(common_name: str, *, org: str | None = None, org_unit: str | None = None,
                 locality: str | None = None) -> x509.Name:
    """O, OU, L (those given) and CN (at most 64 characters)."""
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, org)] if org else []
    if org_unit:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, org_unit))
    if locality:
        attrs.append(x509.NameAttribute(NameOID.LOCALITY_NAME, locality))
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name[:_CN_MAX]))
    return x509.Name(attrs)


def authority_key_id(issuer: x509.Certificate) -> x509.AuthorityKeyIdentifier:
    try:
        ski = issuer.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)
    except x509.ExtensionNotFound:
        return x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.public_key())


def key_usage(*, digital_signature: bool = False, key_encipherment: bool = False,
              key_cert_sign: bool = False, crl_sign: bool = False) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=digital_signature, content_commitment=False, key_encipherment=key_encipherment,
        data_encipherment=False, key_agreement=False, key_cert_sign=key_cert_sign, crl_sign=crl_sign,
        encipher_only=False, decipher_only=False)


_CA_KEY_USAGE = key_usage(key_cert_sign=True, crl_sign=True)


def host_names(hosts: Iterable[str]) -> list[x509.GeneralName]:
    """subjectAltName entries for ``hosts``: IP addresses (IPv6 with or without
    brackets) as IP names, the rest as DNS names; blanks and repeats dropped."""
    names: list[x509.GeneralName] = []
    for host in dict.fromkeys(h.strip() for h in hosts):
        if not host:
            continue
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host.strip("[]"))))
        except ValueError:
            names.append(x509.DNSName(host))
    return names


def build_certificate(subject: x509.Name, public_key: PublicKey, signing_key: PrivateKey, *,
                      issuer: x509.Certificate | None = None, not_before: dt.datetime,
                      not_after: dt.datetime, ca: bool = False, path_length: int | None = None,
                      usage: x509.KeyUsage | None = None, extended_usages: Sequence[x509.ObjectIdentifier] = (),
                      sans: Sequence[x509.GeneralName] = (), critical_sans: bool = False,
                      subject_key_id: bool = False) -> x509.Certificate:
    """A certificate for ``public_key`` signed by ``signing_key``: self-signed without an
    ``issuer`` (then ``signing_key`` is the subject's), else issued by it (with its key
    identifier). basicConstraints and keyUsage are critical; the digest matches the signer."""
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.subject if issuer is not None else subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=path_length if ca else None), critical=True)
    )
    if usage is not None:
        builder = builder.add_extension(usage, critical=True)
    if extended_usages:
        builder = builder.add_extension(x509.ExtendedKeyUsage(list(extended_usages)), critical=False)
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(list(sans)), critical=critical_sans)
    if subject_key_id:
        builder = builder.add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    if issuer is not None:
        builder = builder.add_extension(authority_key_id(issuer), critical=False)
    return builder.sign(signing_key, signing_hash(signing_key))


def create_root(*, algorithm: str = "ecdsa-p256", validity_days: int = 3650,
                trust_domain: str = "cluster.local", org: str = "mesh-federation",
                now: dt.datetime | float | None = None) -> CertifiedKey:
    """A new self-signed mesh root."""
    if validity_days < 1:
        raise errors.ValidationError("validity_days must be at least 1")
    start = as_datetime(now)
    key = generate_key(algorithm)
    # The date and a random tag tell an old root from its successor by name, so
    # tools matching issuers by subject never confuse the two during rotation.
    tag = x509.random_serial_number() % 0x10000
    subject = subject_name(f"{org} root {start:%Y-%m-%d} {tag:04x}", org=org, org_unit=trust_domain)
    # pathlen 1: the root signs intermediates only, never leaves directly.
    cert = build_certificate(subject, key.public_key(), key, not_before=start - BACKDATE,
                             not_after=start + dt.timedelta(days=validity_days), ca=True, path_length=1,
                             usage=_CA_KEY_USAGE, subject_key_id=True)
    return CertifiedKey(cert, key)


def load_root(cert_pem: bytes | str, key_pem: bytes | str, *,
              now: dt.datetime | float | None = None) -> CertifiedKey:
    """Check an operator-supplied root and its key; raise CARejected saying why."""
    try:
        cert = load_certificate(cert_pem)
        key = load_private_key(key_pem)
    except errors.TrustError as exc:
        raise errors.CARejected(f"root rejected: {exc}") from exc
    if not key_matches(cert, key):
        raise errors.CARejected("root rejected: the private key does not match the certificate")
    try:
        bc = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        bc = None
    except ValueError as exc:
        raise errors.CARejected("root rejected: its extensions cannot be parsed") from exc
    if bc is None or not bc.ca:
        raise errors.CARejected("root rejected: the certificate is not a CA (basicConstraints "
                                "CA:TRUE is required)")
    if bc.path_length == 0:
        raise errors.CARejected("root rejected: pathlen:0 leaves no room for intermediates")
    try:
        ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
        if not ku.key_cert_sign:
            raise errors.CARejected("root rejected: keyUsage lacks keyCertSign")
    except x509.ExtensionNotFound:
        pass
    weakness = key_weakness(key)
    if weakness:
        raise errors.CARejected(f"root rejected: {weakness}")
    if cert.issuer != cert.subject:
        raise errors.CARejected("root rejected: the certificate is not self-signed "
                                "(issuer differs from subject)")
    try:
        cert.verify_directly_issued_by(cert)
    except (ValueError, TypeError, InvalidSignature) as exc:
        raise errors.CARejected("root rejected: its self-signature does not verify") from exc
    at = as_datetime(now)
    if at >= cert.not_valid_after_utc:
        raise errors.CARejected(f"root rejected: expired at {cert.not_valid_after_utc:%Y-%m-%d}")
    if at < cert.not_valid_before_utc - BACKDATE:
        raise errors.CARejected("root rejected: not valid yet")
    return CertifiedKey(cert, key)


def issue_intermediate(issuer: CertifiedKey, *, common_name: str, org: str = "mesh-federation",
                       locality: str | None = None, algorithm: str = "ecdsa-p256",
                       validity_days: int = 365, now: dt.datetime | float) -> CertifiedKey:
    """A new key and a ``pathlen:0`` CA certificate for it, signed by ``issuer``.

    The validity never outlasts the issuer's.
    """
    if validity_days < 1:
        raise errors.ValidationError("validity_days must be at least 1")
    start = as_datetime(now)
    key = generate_key(algorithm)
    end = min(start + dt.timedelta(days=validity_days), issuer.cert.not_valid_after_utc)
    if end <= start:
        raise errors.TrustError("the issuing root has expired")
    cert = build_certificate(subject_name(common_name, org=org, locality=locality), key.public_key(),
                             issuer.key, issuer=issuer.cert,
                             not_before=max(start - BACKDATE, issuer.cert.not_valid_before_utc),
                             not_after=end, ca=True, path_length=0, usage=_CA_KEY_USAGE,
                             subject_key_id=True)
    return CertifiedKey(cert, key)


def renewal_due_at(cert: x509.Certificate) -> dt.datetime:
    start, end = cert.not_valid_before_utc, cert.not_valid_after_utc
    return start + (end - start) * RENEW_FRACTION


def needs_renewal(cert: x509.Certificate, now: dt.datetime | float) -> bool:
    """True once two thirds of the certificate's validity has passed."""
    return as_datetime(now) >= renewal_due_at(cert)


def is_issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):  # wrong name, bad signature, odd key
        return False
    return True
