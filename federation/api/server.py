"""Serving the hub's gRPC API: always TLS, per-service authentication, health and reflection.

The Admin service needs an admin bearer token; the health service is public
(Kubernetes probes send no credentials); reflection needs the admin token.
Other services (the VM onboarding API…) are added with ``add_service`` and
their own ``Authenticator``. Requests larger than ``max_message_bytes`` are
refused by grpc itself with RESOURCE_EXHAUSTED before any handler runs.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from federation.api import admin
from federation.api.control import Control
from federation.api.gen.federation.v1 import admin_pb2_grpc
from federation.api.interceptors import PUBLIC, Authenticator, BearerTokens, ServingInterceptor
from federation.api.limiting import FailureLimiter
from federation.api.servers import abandon, bind, build_server, shut_down, thread_pool
from federation.api.tls import ServerTLS
from federation.errors import ConfigError, FederationError

log = logging.getLogger(__name__)

DEFAULT_MAX_MESSAGE_BYTES = 4 * 1024 * 1024
HEALTH_SERVICE = health.SERVICE_NAME
REFLECTION_SERVICE = reflection.SERVICE_NAME

__all__ = ["ApiServer", "ServerTLS", "PUBLIC", "Authenticator", "BearerTokens"]


class ApiServer:
    """The hub's gRPC server. ``admin_tokens`` is a set of tokens, a token file
    path, or any ``Authenticator``. ``health_address`` optionally adds a
    plaintext listener that serves only the health service, for kubelet gRPC
    probes, which cannot speak TLS."""

    def __init__(
        self,
        address: str,
        control: Control,
        tls: ServerTLS,
        admin_tokens: Iterable[str] | str | os.PathLike | Authenticator,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
        max_workers: int = 16,
        max_concurrent_rpcs: int | None = None,
        health_address: str | None = None,
        tracer=None,
    ):
        if not isinstance(tls, ServerTLS):
            raise ConfigError("the API server always serves TLS: give it a ServerTLS")
        self._address = address
        self._tls = tls
        self._max_message_bytes = max_message_bytes
        self._max_workers = max_workers
        self._max_concurrent_rpcs = max_concurrent_rpcs or max_workers * 8
        self._health_address = health_address
        self._tracer = tracer  # a span per call when given
        self.admin_auth: Authenticator = (
            admin_tokens if isinstance(admin_tokens, Authenticator) else BearerTokens.from_source(admin_tokens)
        )
        self.health = health.HealthServicer()  # replaced on each start: a shut-down one stays shut
        self._policies: dict[str, Authenticator] = {HEALTH_SERVICE: PUBLIC, REFLECTION_SERVICE: self.admin_auth}
        # Failed authentications per caller address: 10 in a burst, then one per 6 s.
        self.auth_failures = FailureLimiter(burst=10, refill_seconds=6.0, what="failed authentications")
        self._registrations: list[tuple[Callable, object]] = []
        self._server: grpc.Server | None = None
        self._health_server: grpc.Server | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._port = 0
        self._health_port = 0
        self.add_service(admin_pb2_grpc.add_AdminServicer_to_server, admin.AdminServicer(control),
                         admin.SERVICE_NAME, self.admin_auth)

    def add_service(self, register: Callable[[object, grpc.Server], None], servicer: object,
                    service_name: str, authenticator: Authenticator) -> None:
        """Serve another service, e.g. ``add_service(add_FooServicer_to_server, FooServicer(),
        "federation.v1.Foo", my_auth)``; use ``PUBLIC`` for no authentication."""
        if self._server is not None:
            raise FederationError("services must be added before the API server starts")
        if service_name in self._policies:
            raise ConfigError(f"service {service_name} is already served")
        if not isinstance(authenticator, Authenticator):
            raise ConfigError(f"service {service_name} needs an Authenticator (or PUBLIC)")
        self._policies[service_name] = authenticator
        self._registrations.append((register, servicer))

    @property
    def port(self) -> int:
        """The bound TLS port (useful with port 0)."""
        return self._port

    @property
    def address(self) -> str:
        """``host:port`` as bound."""
        return f"{self._address.rpartition(':')[0]}:{self._port}"

    @property
    def health_port(self) -> int:
        return self._health_port

    def start(self) -> None:
        if self._server is not None:
            raise FederationError("the API server is already started")
        self.health = health.HealthServicer()
        self._executor = thread_pool(self._max_workers, "api")
        server = build_server(
            self._executor,
            ServingInterceptor(dict(self._policies), failures=self.auth_failures, tracer=self._tracer),
            max_message_bytes=self._max_message_bytes,
            max_concurrent_rpcs=self._max_concurrent_rpcs,
        )
        for register, servicer in self._registrations:
            register(servicer, server)
        health_pb2_grpc.add_HealthServicer_to_server(self.health, server)
        reflection.enable_server_reflection(sorted(self._policies), server)
        credentials = grpc.ssl_server_credentials(
            [(self._tls.key_pem, self._tls.cert_pem)],
            root_certificates=self._tls.client_ca_pem,
            require_client_auth=self._tls.client_ca_pem is not None,
        )
        try:
            self._port = bind(server, self._address, credentials)
            if self._health_address is not None:
                self._health_server = build_server(self._executor, ServingInterceptor({HEALTH_SERVICE: PUBLIC}))
                health_pb2_grpc.add_HealthServicer_to_server(self.health, self._health_server)
                self._health_port = bind(self._health_server, self._health_address, None)
        except ConfigError:
            abandon((server, self._health_server), self._executor)
            self._executor = self._health_server = None
            raise
        self._server = server
        server.start()
        if self._health_server is not None:
            self._health_server.start()
        for name in ["", *self._policies]:
            if name not in (HEALTH_SERVICE, REFLECTION_SERVICE):
                self.health.set(name, health_pb2.HealthCheckResponse.SERVING)
        log.info("api serving", extra={"fields": {
            "address": self.address, "mtls": self._tls.client_ca_pem is not None,
            "services": sorted(self._policies), "health_port": self._health_port or None}})

    def stop(self, grace: float = 5.0) -> None:
        """Refuse new calls, give running ones ``grace`` seconds, then cancel them."""
        if self._server is None:
            return
        self.health.enter_graceful_shutdown()
        # Handlers call Control, whose calls are bounded by their own timeouts.
        shut_down((self._server, self._health_server), self._executor, grace)
        self._server = self._health_server = self._executor = None
        log.info("api stopped", extra={"fields": {"address": self.address}})

    def __enter__(self) -> ApiServer:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
