"""TLS material for the hub's own API endpoint (not the mesh CA, which is ``trust/``).

A small self-signed CA issues the API server's certificate (IP and DNS SANs)
and, for mTLS, client certificates, with ``federation.trust.certificates``'
builder. Keys are ECDSA P-256: fast to make and accepted by gRPC. Private keys
are written with mode 0600 and never logged.
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from federation.errors import ConfigError, TrustError
from federation.trust.certificates import (
    BACKDATE, build_certificate, certificate_pem, generate_key, host_names, key_usage, load_private_key,
    private_key_pem, subject_name,
)


@dataclass(frozen=True, repr=False)
class KeyPair:
    """A PEM certificate and its PEM private key (PKCS#8, unencrypted)."""

    cert_pem: bytes
    key_pem: bytes

    def __repr__(self) -> str:  # keeps the key out of logs and tracebacks
        return f"{type(self).__name__}(subject={self.certificate().subject.rfc4514_string()!r})"

    def certificate(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.cert_pem)


class CertificateAuthority(KeyPair):
    """A CA key pair that signs the API's server and client certificates."""


@dataclass(frozen=True, repr=False)
class ServerTLS:
    """What the API server serves with; ``client_ca_pem`` set means mTLS is required."""

    cert_pem: bytes
    key_pem: bytes
    client_ca_pem: bytes | None = None

    def __repr__(self) -> str:
        return f"ServerTLS(mtls={self.client_ca_pem is not None})"

    @classmethod
    def from_files(cls, cert_file: str | os.PathLike, key_file: str | os.PathLike,
                   client_ca_file: str | os.PathLike | None = None) -> ServerTLS:
        return cls(
            cert_pem=read_pem(cert_file),
            key_pem=read_pem(key_file),
            client_ca_pem=read_pem(client_ca_file) if client_ca_file else None,
        )


def make_self_signed_ca(common_name: str = "mesh-federation API CA", days: int = 3650) -> CertificateAuthority:
    """A new self-signed CA (``pathlen:0``: it signs leaf certificates only)."""
    key = generate_key("ecdsa-p256")
    now = _now()
    cert = build_certificate(subject_name(common_name), key.public_key(), key, not_before=now - BACKDATE,
                             not_after=now + datetime.timedelta(days=days), ca=True, path_length=0,
                             usage=key_usage(digital_signature=True, key_cert_sign=True, crl_sign=True),
                             subject_key_id=True)
    return CertificateAuthority(cert_pem=certificate_pem(cert).encode(), key_pem=private_key_pem(key))


def issue_server_cert(ca: CertificateAuthority, hosts: list[str], days: int = 365) -> KeyPair:
    """A serving certificate for ``hosts`` (IP addresses become IP SANs, the rest DNS SANs)."""
    if not hosts:
        raise ConfigError("a server certificate needs at least one host name or IP address")
    return _issue(ca, hosts[0], hosts, ExtendedKeyUsageOID.SERVER_AUTH, days)


def issue_client_cert(ca: CertificateAuthority, name: str, days: int = 365) -> KeyPair:
    """A client certificate with ``name`` as its common name, for mTLS callers."""
    return _issue(ca, name, [], ExtendedKeyUsageOID.CLIENT_AUTH, days)


def write_pem_files(directory: str | os.PathLike, name: str, pair: KeyPair) -> tuple[Path, Path]:
    """Write ``<name>.crt`` (0644) and ``<name>.key`` (0600) into ``directory``."""
    base = Path(directory)
    base.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = base / f"{name}.crt", base / f"{name}.key"
    write_pem(cert_path, pair.cert_pem)
    write_pem(key_path, pair.key_pem, private=True)
    return cert_path, key_path


def write_pem(path: str | os.PathLike, data: bytes, private: bool = False) -> None:
    """Write atomically; a private file is never readable by others, not even briefly."""
    target = Path(path)
    tmp = target.with_name(f".{target.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o644)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def read_pem(path: str | os.PathLike) -> bytes:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from exc
    if b"-----BEGIN " not in data:
        raise ConfigError(f"{path} holds no PEM data")
    return data


def _issue(ca: CertificateAuthority, common_name: str, hosts: list[str], usage, days: int) -> KeyPair:
    try:
        ca_key = load_private_key(ca.key_pem)
        ca_cert = ca.certificate()
    except (TrustError, ValueError) as exc:
        raise TrustError("the API CA's certificate or key cannot be loaded") from exc
    sans = host_names(hosts)
    if hosts and not sans:
        raise ConfigError("a server certificate needs at least one host name or IP address")
    key = generate_key("ecdsa-p256")
    now = _now()
    cert = build_certificate(subject_name(common_name), key.public_key(), ca_key, issuer=ca_cert,
                             not_before=now - BACKDATE,
                             not_after=min(now + datetime.timedelta(days=days), ca_cert.not_valid_after_utc),
                             usage=key_usage(digital_signature=True), extended_usages=(usage,), sans=sans)
    return KeyPair(cert_pem=certificate_pem(cert).encode(), key_pem=private_key_pem(key))


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)
