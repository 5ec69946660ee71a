"""Talking to the hub's onboarding API; the agent's only gRPC module.

``enroll`` opens a TLS channel to the enrollment port (verifying the hub with
the given CA) for one call. ``Session`` is a channel to the session port that
presents the VM's workload certificate (mutual TLS); it is replaced after every
renewal so the next handshake shows the new certificate. gRPC errors become
the project's: UNAVAILABLE, DEADLINE_EXCEEDED, CANCELLED and UNKNOWN (how
gRPC reports a connection lost mid-call) are ``Transient``,
RESOURCE_EXHAUSTED ``LimitExceeded``, UNAUTHENTICATED ``AuthError``,
PERMISSION_DENIED ``PermissionDenied``, INVALID_ARGUMENT ``ValidationError``.
"""

from __future__ import annotations

import grpc

from federation import errors
from federation.api.codes import error_for
from federation.api.gen.federation.v1 import onboarding_pb2 as pb
from federation.api.gen.federation.v1 import onboarding_pb2_grpc as pb_grpc

_OPTIONS = [
    ("grpc.max_receive_message_length", 1024 * 1024),
    # Come back soon after the hub does, instead of gRPC's default back-off of up to 120 s.
    ("grpc.initial_reconnect_backoff_ms", 500),
    ("grpc.max_reconnect_backoff_ms", 5000),
]


def translate(exc: grpc.RpcError, method: str, address: str) -> errors.FederationError:
    code = exc.code() if hasattr(exc, "code") else grpc.StatusCode.UNKNOWN
    details = (exc.details() if hasattr(exc, "details") else "") or code.name
    if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED,
                grpc.StatusCode.CANCELLED, grpc.StatusCode.UNKNOWN):
        return errors.Transient(f"{method} to {address}: {code.name}: {details}")
    error = error_for(code, details)
    if type(error) is errors.FederationError:
        return errors.FederationError(f"{method} to {address} failed ({code.name}): {details}")
    return type(error)(f"{method} refused by {address}: {details}")


def enroll(address: str, ca_pem: bytes, request: pb.EnrollRequest,
           timeout: float = 10.0) -> pb.EnrollResponse:
    credentials = grpc.ssl_channel_credentials(root_certificates=ca_pem)
    with grpc.secure_channel(address, credentials, options=_OPTIONS) as channel:
        try:
            return pb_grpc.OnboardingStub(channel).Enroll(request, timeout=timeout)
        except grpc.RpcError as exc:
            raise translate(exc, "Enroll", address) from exc


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
            raise translate(exc, method, self.address) from exc

    def close(self) -> None:
        self._channel.close()
