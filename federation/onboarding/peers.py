"""Who is calling: the peer's address and, on the session port, its certificate."""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

from cryptography import x509

from federation import errors
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


def peer_address(peer: str) -> str:
    """The address part of a gRPC peer string (``ipv4:10.0.0.7:5123`` → ``10.0.0.7``,
    ``ipv6:[::1]:5123`` → ``::1``)."""
    kind, _, rest = peer.partition(":")
    if kind == "ipv6":
        host = rest.rpartition(":")[0] if "]" in rest else rest
        return host.strip("[]") or peer
    if kind == "ipv4":
        return rest.rpartition(":")[0] or peer
    return peer  # unix sockets and unknown forms: the whole string is the identity


def serial_hex(serial: int) -> str:
    return format(serial, "x")


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
                           cert.not_valid_after_utc.timestamp())
    _parsed.put(pems[0], peer)
    return peer
