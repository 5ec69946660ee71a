"""Who is calling: the peer's address and, on the session port, its certificate."""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from federation import errors
from federation.api.limiting import peer_address  # noqa: F401 - the onboarding servicers' import
from federation.onboarding.refusals import refusal

_PEM_KEY = "x509_pem_cert"
_CACHE_SIZE = 4096


class _Parsed:
    """Recently seen leaves: a VM shows the same certificate on every heartbeat."""

    def __init__(self):
        self._lock = threading.Lock()
        self._items: OrderedDict[bytes, PeerCertificate] = OrderedDict()

    def get(self, pem: bytes) -> "PeerCertificate | None":
        with self._lock:
            found = self._items.get(pem)
            if found is not None:
                self._items.move_to_end(pem)
            return found

    def put(self, pem: bytes, peer: "PeerCertificate") -> None:
        with self._lock:
            self._items[pem] = peer
            while len(self._items) > _CACHE_SIZE:
                self._items.popitem(last=False)


_parsed = _Parsed()


@dataclass(frozen=True)
class PeerCertificate:
    """The leaf a caller presented (gRPC verified its chain during the handshake)."""

    serial: str  # lower-case hex
    spiffe_id: str
    not_after: float
    fingerprint: str = ""  # SHA-256 (hex) of the DER certificate
    certificate: x509.Certificate | None = None  # to check who signed it


def serial_hex(serial: int) -> str:
    return format(serial, "x")


def certificate_fingerprint(cert: x509.Certificate) -> str:
    """SHA-256 (hex) of the certificate's DER bytes: what enroll and renew record."""
    return hashlib.sha256(cert.public_bytes(Encoding.DER)).hexdigest()


def peer_certificate(auth_context: dict, method: str) -> PeerCertificate:
    """The caller's verified leaf; AuthError when it sent none (the enrollment
    port never asks for one)."""
    pems = auth_context.get(_PEM_KEY) or []
    if not pems:
        raise refusal(errors.AuthError,
                      f"{method} needs the VM's workload certificate: call the session port "
                      "(EnrollResponse.session_port) with mutual TLS", "no_client_certificate")
    cached = _parsed.get(pems[0])
    if cached is not None:
        return cached
    try:
        cert = x509.load_pem_x509_certificate(pems[0])
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        uris = sans.get_values_for_type(x509.UniformResourceIdentifier)
    except (ValueError, x509.ExtensionNotFound) as exc:
        raise refusal(errors.AuthError, "the client certificate carries no SPIFFE identity",
                      "no_spiffe_identity") from exc
    spiffe = [u for u in uris if u.startswith("spiffe://")]
    if len(spiffe) != 1:
        raise refusal(errors.AuthError, "the client certificate carries no single SPIFFE identity",
                      "no_spiffe_identity")
    peer = PeerCertificate(serial_hex(cert.serial_number), spiffe[0],
                           cert.not_valid_after_utc.timestamp(), certificate_fingerprint(cert), cert)
    _parsed.put(pems[0], peer)
    return peer
