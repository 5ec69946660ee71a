"""The Admin API's client: one method per call, returning ``control``'s dataclasses
and raising ``federation.errors`` types translated from gRPC status codes."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from federation import errors
from federation.api import converting
from federation.api.codes import client_error
from federation.api.control import HubStatus, ObjectDiff, RegisteredCluster, RemovalResult, ServiceRow
from federation.api.gen.federation.v1 import admin_pb2 as pb
from federation.api.gen.federation.v1 import admin_pb2_grpc as pb_grpc
from federation.api.tls import read_pem

ENV_HUB = "FEDERATION_HUB"
ENV_CA = "FEDERATION_CA"
ENV_TOKEN = "FEDERATION_TOKEN"
ENV_TOKEN_FILE = "FEDERATION_TOKEN_FILE"
DEFAULT_MAX_RECEIVE_BYTES = 64 * 1024 * 1024  # rendered configuration can be large


class AdminClient:
    """Talks to the hub at ``address`` (``host:port``) over TLS, trusting
    ``ca_pem``/``ca_file`` (the system roots when neither is given) and sending
    ``token`` as a bearer token. Every call gives up after ``timeout`` seconds."""

    def __init__(self, address: str, ca_pem: bytes | None = None, token: str = "", timeout: float = 10.0,
                 *, ca_file: str | os.PathLike | None = None, client_cert_pem: bytes | None = None,
                 client_key_pem: bytes | None = None, server_name: str | None = None,
                 max_receive_bytes: int = DEFAULT_MAX_RECEIVE_BYTES):
        if not token or not token.strip():
            raise errors.ConfigError("an admin token is required")
        if ca_pem is None and ca_file is not None:
            ca_pem = read_pem(ca_file)
        self.address = address
        self.timeout = timeout
        self._metadata = (("authorization", f"Bearer {token.strip()}"),)
        credentials = grpc.ssl_channel_credentials(
            root_certificates=ca_pem, private_key=client_key_pem, certificate_chain=client_cert_pem)
        options = [("grpc.max_receive_message_length", max_receive_bytes)]
        if server_name:
            options.append(("grpc.ssl_target_name_override", server_name))
        self._channel = grpc.secure_channel(address, credentials, options=options)
        self._stub = pb_grpc.AdminStub(self._channel)
        self._health = health_pb2_grpc.HealthStub(self._channel)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **kwargs) -> AdminClient:
        """From FEDERATION_HUB (host:port), FEDERATION_CA (a PEM file) and
        FEDERATION_TOKEN or FEDERATION_TOKEN_FILE."""
        env = os.environ if environ is None else environ

        def need(name: str) -> str:
            value = env.get(name, "").strip()
            if not value:
                raise errors.ConfigError(f"{name} is not set")
            return value

        address, ca_file = need(ENV_HUB), need(ENV_CA)
        token = env.get(ENV_TOKEN, "").strip()
        if not token:
            if not env.get(ENV_TOKEN_FILE, "").strip():
                raise errors.ConfigError(f"{ENV_TOKEN} is not set (nor {ENV_TOKEN_FILE})")
            token_file = need(ENV_TOKEN_FILE)
            try:
                token = Path(token_file).read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise errors.ConfigError(f"cannot read {ENV_TOKEN_FILE} {token_file}: {exc.strerror}") from exc
            if not token:
                raise errors.ConfigError(f"{ENV_TOKEN_FILE} {token_file} is empty")
        return cls(address, read_pem(ca_file), token, **kwargs)

    # --- calls ---------------------------------------------------------------
    def register_cluster(self, name: str, kubeconfig: str, network: str = "", region: str = "",
                         istiod_ca: str = "", labels: dict[str, str] | None = None) -> RegisteredCluster:
        req = pb.RegisterClusterRequest(name=name, kubeconfig=kubeconfig, network=network, region=region,
                                        istiod_ca=istiod_ca, labels=labels or {})
        return converting.cluster_from_message(self._call("RegisterCluster", req))

    def label_cluster(self, name: str, labels: dict[str, str] | None = None,
                      remove: list[str] | tuple[str, ...] = ()) -> RegisteredCluster:
        req = pb.LabelClusterRequest(name=name, labels=labels or {}, remove=list(remove))
        return converting.cluster_from_message(self._call("LabelCluster", req))

    def list_clusters(self) -> list[RegisteredCluster]:
        resp = self._call("ListClusters", pb.ListClustersRequest())
        return [converting.cluster_from_message(c) for c in resp.clusters]

    def remove_cluster(self, name: str, force: bool = False) -> RemovalResult:
        resp = self._call("RemoveCluster", pb.RemoveClusterRequest(name=name, force=force))
        return RemovalResult(name=name, state=resp.state, deleted=resp.deleted, error=resp.error,
                             left_behind=tuple(resp.left_behind))

    def list_services(self) -> list[ServiceRow]:
        resp = self._call("ListServices", pb.ListServicesRequest())
        return [converting.service_from_message(s) for s in resp.services]

    def status(self) -> HubStatus:
        return converting.status_from_message(self._call("Status", pb.StatusRequest()))

    def apply_resources(self, yaml_text: str) -> list[str]:
        return list(self._call("ApplyResources", pb.ApplyResourcesRequest(yaml=yaml_text)).results)

    def delete_resources(self, yaml_text: str | None = None, *, kind: str = "", name: str = "",
                         namespace: str = "", api_version: str = "") -> list[str]:
        """Delete what ``yaml_text`` names, or the one resource ``kind``/``namespace``/``name``."""
        if yaml_text is not None:
            req = pb.DeleteResourcesRequest(yaml=yaml_text)
        else:
            req = pb.DeleteResourcesRequest(ref=pb.ResourceRef(
                api_version=api_version, kind=kind, namespace=namespace, name=name))
        return list(self._call("DeleteResources", req).results)

    def list_resources(self, kind: str = "") -> str:
        return self._call("ListResources", pb.ListResourcesRequest(kind=kind)).yaml

    def render(self, cluster: str) -> str:
        return self._call("Render", pb.RenderRequest(cluster=cluster)).yaml

    def diff(self, cluster: str) -> list[ObjectDiff]:
        return [ObjectDiff(d.api_version, d.kind, d.namespace, d.name, d.action, d.live_yaml,
                                   d.desired_yaml)
                for d in self._call("Diff", pb.DiffRequest(cluster=cluster)).objects]

    def health(self, service: str = "") -> str:
        """The health service's answer (``SERVING``…); sends no token."""
        try:
            resp = self._health.Check(health_pb2.HealthCheckRequest(service=service), timeout=self.timeout)
        except grpc.RpcError as exc:
            raise self._error("Health.Check", exc) from exc
        return health_pb2.HealthCheckResponse.ServingStatus.Name(resp.status)

    # --- plumbing -------------------------------------------------------------
    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> AdminClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"AdminClient(address={self.address!r})"

    def _call(self, method: str, request):
        try:
            return getattr(self._stub, method)(request, timeout=self.timeout, metadata=self._metadata)
        except grpc.RpcError as exc:
            raise self._error(method, exc) from exc

    def _error(self, method: str, exc: grpc.RpcError) -> errors.FederationError:
        return client_error(exc, method, self.address, self.timeout)
