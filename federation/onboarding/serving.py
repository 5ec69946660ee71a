"""The onboarding gRPC server: one ``grpc.server``, two TLS ports.

- the enrollment port (``onboarding_listen``): TLS with the hub's API
  certificate, no client certificate; agents call Enroll here with a token;
- the session port: the same server certificate, and a client certificate that
  chains to the mesh trust bundle is required (the roots follow rotations, see
  ``trust_following``); agents call Renew and Heartbeat here. The handshake is
  not the authentication: every member's intermediate chains to those roots
  too, so the ``Registrar`` accepts only the very certificate it issued.

Two ports because gRPC's Python server can either require a client certificate
or not ask for one at all — "ask, but accept none" is not offered — and a VM
has no certificate before it enrolls. Both ports share one bounded thread pool,
a cap on concurrent RPCs (beyond it gRPC answers RESOURCE_EXHAUSTED at once)
and a 64 KiB request limit, checked by gRPC before any handler runs.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor

import grpc

from federation.api.gen.federation.v1 import onboarding_pb2_grpc as pb_grpc
from federation.api.interceptors import PUBLIC, ServingInterceptor
from federation.api.servers import abandon, bind, build_server, shut_down, thread_pool
from federation.api.tls import ServerTLS
from federation.errors import ConfigError, FederationError
from federation.onboarding.servicers import ONBOARDING_SERVICE, OnboardingServicer
from federation.onboarding.trust_following import TrustFollower

log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 64 * 1024
MAX_METADATA_BYTES = 8 * 1024


def session_address_for(address: str) -> str:
    """The session port's default: the next port on the same host (an ephemeral
    one when the enrollment port is ephemeral)."""
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise ConfigError(f"onboarding address {address!r} is not HOST:PORT")
    number = int(port)
    return f"{host}:{number + 1 if number else 0}"


class OnboardingServer:
    def __init__(self, address: str, session_address: str, servicer: OnboardingServicer,
                 tls: ServerTLS, follower: TrustFollower, *, max_workers: int = 8,
                 max_concurrent_rpcs: int = 64, max_message_bytes: int = MAX_MESSAGE_BYTES):
        self._address = address
        self._session_address = session_address
        self._servicer = servicer
        self._tls = tls
        self._follower = follower
        self._max_workers = max_workers
        self._max_concurrent = max_concurrent_rpcs
        self._max_message = max_message_bytes
        self._server: grpc.Server | None = None
        self._executor: ThreadPoolExecutor | None = None
        self.port = 0
        self.session_port = 0

    @property
    def host(self) -> str:
        return self._address.rpartition(":")[0]

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def session_address(self) -> str:
        return f"{self._session_address.rpartition(':')[0]}:{self.session_port}"

    def start(self) -> None:
        """Listen; after a stop, again on the ports bound the first time."""
        if self._server is not None:
            raise FederationError("the onboarding server is already started")
        self._executor = thread_pool(self._max_workers, "onboarding")
        server = build_server(self._executor, ServingInterceptor({ONBOARDING_SERVICE: PUBLIC}),
                              max_message_bytes=self._max_message, max_metadata_bytes=MAX_METADATA_BYTES,
                              max_concurrent_rpcs=self._max_concurrent)
        pb_grpc.add_OnboardingServicer_to_server(self._servicer, server)
        enroll_credentials = grpc.ssl_server_credentials([(self._tls.key_pem, self._tls.cert_pem)])
        try:
            self.port = bind(server, _with_port(self._address, self.port), enroll_credentials)
            self.session_port = bind(server, _with_port(self._session_address, self.session_port),
                                     self._follower.server_credentials())
        except ConfigError:
            abandon((server,), self._executor)
            self._executor = None
            raise
        server.start()
        self._server = server
        log.info("onboarding serving", extra={"fields": {
            "enroll": self.address, "session": self.session_address}})

    def stop(self, grace: float = 2.0) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        shut_down((server,), self._executor, grace)
        self._executor = None
        log.info("onboarding stopped", extra={"fields": {"enroll": self.address}})


def _with_port(address: str, bound: int) -> str:
    """Rebind the port chosen the first time when the configured one was ephemeral."""
    host, _, port = address.rpartition(":")
    return f"{host}:{bound}" if bound and port == "0" else address
