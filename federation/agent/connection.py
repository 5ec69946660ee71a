"""Talking to the hub's onboarding API; the agent's only gRPC module.

``enroll`` opens a TLS channel to the enrollment port (verifying the hub with
the given CA) for one call. ``Session`` is a channel to the session port that
presents the VM's workload certificate (mutual TLS); it is replaced after every
renewal so the next handshake shows the new certificate. gRPC errors become
the project's as for every client of the hub (``federation.api.codes.client_error``:
UNAVAILABLE, DEADLINE_EXCEEDED, CANCELLED and UNKNOWN are ``Transient``,
RESOURCE_EXHAUSTED ``LimitExceeded``, UNAUTHENTICATED ``AuthError``,
PERMISSION_DENIED ``PermissionDenied``, INVALID_ARGUMENT ``ValidationError``).
When enrolling, failures no retry can fix are told apart from a hub that is
down: a certificate the CA bundle does not verify is ``TrustError``; an address
that is not the enrollment port (the session port, the admin API, a plaintext
server) is ``EndpointMismatch``. Each carries a ``hint`` naming the likely fix.
"""

from __future__ import annotations

import grpc

from federation import errors
from federation.api.codes import client_error
from federation.api.gen.federation.v1 import onboarding_pb2 as pb
from federation.api.gen.federation.v1 import onboarding_pb2_grpc as pb_grpc

_OPTIONS = [
    ("grpc.max_receive_message_length", 1024 * 1024),
    # Come back soon after the hub does, instead of gRPC's default back-off of up to 120 s.
    ("grpc.initial_reconnect_backoff_ms", 500),
    ("grpc.max_reconnect_backoff_ms", 5000),
]


# (text in gRPC's details, error type, hint); first match wins. ``{address}`` is filled in.
_PERMANENT = (
    ("CERTIFICATE_VERIFY_FAILED", errors.TrustError,
     "--ca-bundle does not verify the hub's certificate: pass the hub's CA (the file "
     "FEDERATION_CA names in hub.env, DIR/tls/ca.crt)"),
    ("not in peer certificate", errors.TrustError,
     "the hub's certificate does not name {address}: use a host name or IP it was issued for"),
    ("PEER_DID_NOT_RETURN_A_CERTIFICATE", errors.EndpointMismatch,
     "{address} wants a client certificate (the session port?): pass the enroll address "
     "(FEDERATION_ONBOARDING in hub.env)"),
    ("Socket closed", errors.EndpointMismatch,
     "{address} closed the TLS handshake (the session port, which wants a client "
     "certificate?): pass the enroll address (FEDERATION_ONBOARDING in hub.env)"),
    ("WRONG_VERSION_NUMBER", errors.EndpointMismatch,
     "{address} does not speak TLS (a metrics or health port?): pass the enroll address "
     "(FEDERATION_ONBOARDING in hub.env)"),
    ("http1.x server", errors.EndpointMismatch,
     "{address} is an HTTP/1 server, not the hub's gRPC API: pass the enroll address "
     "(FEDERATION_ONBOARDING in hub.env)"),
)
_WRONG_SERVICE_HINT = ("{address} serves gRPC but not enrollment (the admin API?): pass the "
                       "enroll address (FEDERATION_ONBOARDING in hub.env)")


def _permanent(error_type, message: str, hint: str, address: str) -> errors.FederationError:
    error = error_type(message)
    error.hint = hint.format(address=address)
    return error


def translate(exc: grpc.RpcError, method: str, address: str, enrolling: bool = False,
              timeout: float | None = None) -> errors.FederationError:
    """``enrolling``: the address was given by hand, so a handshake or service
    mismatch is a mistake to report (a running session retries instead: the hub
    may be mid-rotation or mid-restart)."""
    code = exc.code() if hasattr(exc, "code") else grpc.StatusCode.UNKNOWN
    details = (exc.details() if hasattr(exc, "details") else "") or code.name
    if enrolling and code == grpc.StatusCode.UNAVAILABLE:
        for needle, error_type, hint in _PERMANENT:
            if needle in details:
                return _permanent(error_type, f"{method} to {address}: {_short(details)}", hint, address)
    if enrolling and code == grpc.StatusCode.UNIMPLEMENTED:
        return _permanent(errors.EndpointMismatch, f"{method} to {address}: {details}",
                          _WRONG_SERVICE_HINT, address)
    return client_error(exc, method, address, timeout)


def _short(details: str) -> str:
    """gRPC's details without its "failed to connect to all addresses; last error:" preamble."""
    return details.rpartition("last error: ")[2].removesuffix(": OK") or details


def enroll(address: str, ca_pem: bytes, request: pb.EnrollRequest,
           timeout: float = 10.0) -> pb.EnrollResponse:
    credentials = grpc.ssl_channel_credentials(root_certificates=ca_pem)
    with grpc.secure_channel(address, credentials, options=_OPTIONS) as channel:
        try:
            return pb_grpc.OnboardingStub(channel).Enroll(request, timeout=timeout)
        except grpc.RpcError as exc:
            raise translate(exc, "Enroll", address, enrolling=True, timeout=timeout) from exc


class Session:
    """Renew and Heartbeat over mutual TLS with the VM's current certificate."""

    def __init__(self, address: str, ca_pem: bytes, chain_pem: bytes, key_pem: bytes,
                 timeout: float = 10.0):
        self.address = address
        self.timeout = timeout
        credentials = grpc.ssl_channel_credentials(
            root_certificates=ca_pem, private_key=key_pem, certificate_chain=chain_pem)
        self._channel = grpc.secure_channel(address, credentials, options=_OPTIONS)
        self._stub = pb_grpc.OnboardingStub(self._channel)

    def heartbeat(self, fingerprint: str, healthy: bool) -> pb.HeartbeatResponse:
        return self._call("Heartbeat", pb.HeartbeatRequest(bundle_fingerprint=fingerprint,
                                                           healthy=healthy))

    def renew(self, csr_pem: bytes) -> pb.RenewResponse:
        return self._call("Renew", pb.RenewRequest(csr_pem=csr_pem))

    def _call(self, method: str, request):
        try:
            return getattr(self._stub, method)(request, timeout=self.timeout)
        except grpc.RpcError as exc:
            raise translate(exc, method, self.address, timeout=self.timeout) from exc

    def close(self) -> None:
        self._channel.close()
