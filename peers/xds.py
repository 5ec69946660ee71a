"""Asking a real istiod over xDS what it hands a proxy, as plain data.

A probe connects to istiod's ADS (``StreamAggregatedResources``, state of the
world) as a sidecar or as the east-west gateway, with the Envoy node id and
metadata istio-agent would send (``pkg/istio-agent``, ``pkg/bootstrap/config.go``,
``pkg/model/proxy.go``), asks in Envoy's order (CDS, then EDS for the EDS
clusters, LDS, NDS), ACKs every response and closes its stream. Every answer
is dataclasses and dicts, never protobuf, so tests assert on what istiod
decided. Each ask opens a fresh stream; ``wait_until`` re-asks until a
condition holds, because istiod pushes asynchronously after config changes.
"""

from __future__ import annotations

import ipaddress
import json
import queue
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import grpc
from envoy.config.cluster.v3 import cluster_pb2
from envoy.config.core.v3 import base_pb2, health_check_pb2
from envoy.config.endpoint.v3 import endpoint_pb2
from envoy.config.listener.v3 import listener_pb2
from envoy.config.route.v3 import route_pb2
from envoy.extensions.transport_sockets.tls.v3 import tls_pb2
# Imported so that filter configs (Any) of these types can be read as dicts.
from envoy.extensions.filters.http.rbac.v3 import rbac_pb2 as http_rbac_pb2  # noqa: F401
from envoy.extensions.filters.network.http_connection_manager.v3 import (
    http_connection_manager_pb2 as hcm_pb2,
)
from envoy.extensions.filters.network.rbac.v3 import rbac_pb2 as network_rbac_pb2  # noqa: F401
from envoy.extensions.filters.network.tcp_proxy.v3 import tcp_proxy_pb2  # noqa: F401
from envoy.service.discovery.v3 import ads_pb2_grpc, discovery_pb2
from google.protobuf import any_pb2, json_format, struct_pb2

from federation.errors import AuthError, Transient
from federation.model.ids import Locality
from peers.ca import ISTIOD_SERVER_NAME
from peers.errors import PeerError
from peers.gen.istio import nds_pb2

CDS = "type.googleapis.com/envoy.config.cluster.v3.Cluster"
EDS = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment"
LDS = "type.googleapis.com/envoy.config.listener.v3.Listener"
RDS = "type.googleapis.com/envoy.config.route.v3.RouteConfiguration"
NDS = "type.googleapis.com/istio.networking.nds.v1.NameTable"
KINDS = ("sidecar", "router")
DEFAULT_ISTIO_VERSION = "1.31.0"  # the pinned module's VERSION file
_MAX_MESSAGE = 64 << 20
_CLOSE_GRACE = 1.0  # seconds istiod gets to end a half-closed stream
_SHOWN = 6000  # characters of the last data an Outcome shows
T = TypeVar("T")


class XdsError(PeerError):
    """istiod did not answer an xDS request as expected (or in time)."""


class XdsUnavailable(XdsError, Transient):
    """istiod's xDS address cannot be reached."""


class XdsRefused(XdsError, AuthError):
    """istiod refused the proxy's credentials on its secure xDS address."""


@dataclass(frozen=True)
class Proxy:
    """Who the probe claims to be; ``node_id``/``metadata`` are what istio-agent would send."""

    kind: str = "sidecar"
    namespace: str = "default"
    cluster_id: str = "Kubernetes"
    network: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)
    ip: str = "10.250.0.1"
    locality: Locality = Locality()
    service_account: str = "default"
    dns_capture: bool = False
    istio_version: str = DEFAULT_ISTIO_VERSION
    name: str = "xds-probe"
    mesh_id: str = "mesh1"
    dns_domain: str = "cluster.local"
    extra_metadata: Mapping[str, Any] = field(default_factory=dict)  # e.g. REQUESTED_NETWORK_VIEW

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"Proxy kind must be one of {KINDS}, not {self.kind!r}")
        try:
            ipaddress.ip_address(self.ip)
        except ValueError as exc:
            raise ValueError(f"Proxy ip {self.ip!r} is not an IP address") from exc
        for attr in ("namespace", "cluster_id", "name"):
            if not getattr(self, attr):
                raise ValueError(f"Proxy {attr} must not be empty")

    @classmethod
    def eastwest_gateway(cls, cluster_id: str, network: str, **kw: Any) -> Proxy:
        """The east-west gateway as istio-agent runs it (router, ``istio: eastwestgateway``)."""
        labels = {"istio": "eastwestgateway", "app": "istio-eastwestgateway",
                  "topology.istio.io/network": network, **kw.pop("labels", {})}
        kw.setdefault("name", "istio-eastwestgateway-probe")
        kw.setdefault("service_account", "istio-eastwestgateway-service-account")
        return cls(kind="router", namespace="istio-system", cluster_id=cluster_id, network=network,
                   labels=labels, **kw)

    @property
    def node_id(self) -> str:
        """``TYPE~IP~POD.NS~NS.svc.DOMAIN`` (istio-agent's ``ServiceNode``)."""
        return f"{self.kind}~{self.ip}~{self.name}.{self.namespace}~{self.namespace}.svc.{self.dns_domain}"

    def metadata(self) -> dict[str, Any]:
        """The node metadata: ``ISTIO_META_*`` env, labels and proxy config, as istiod parses it."""
        workload = self.labels.get("app", self.name)
        meta: dict[str, Any] = {
            "ISTIO_VERSION": self.istio_version, "CLUSTER_ID": self.cluster_id, "MESH_ID": self.mesh_id,
            "NAMESPACE": self.namespace, "NAME": self.name, "LABELS": dict(self.labels),
            "SERVICE_ACCOUNT": self.service_account, "INSTANCE_IPS": self.ip, "INTERCEPTION_MODE": "REDIRECT",
            "WORKLOAD_NAME": workload,
            "OWNER": f"kubernetes://apis/apps/v1/namespaces/{self.namespace}/deployments/{workload}",
            "ENVOY_STATUS_PORT": 15021, "ENVOY_PROMETHEUS_PORT": 15090, "PILOT_SAN": [ISTIOD_SERVER_NAME],
            "PROXY_CONFIG": {
                "configPath": "./etc/istio/proxy", "binaryPath": "/usr/local/bin/envoy",
                "serviceCluster": "istio-proxy", "drainDuration": "45s", "discoveryAddress":
                "istiod.istio-system.svc:15012", "proxyAdminPort": 15000, "statusPort": 15020,
                "controlPlaneAuthPolicy": "MUTUAL_TLS",
                "proxyMetadata": {"ISTIO_META_DNS_CAPTURE": "true"} if self.dns_capture else {},
            },
        }
        if self.network:
            meta["NETWORK"] = self.network
        if self.dns_capture:
            meta["DNS_CAPTURE"] = "true"
            meta["DNS_AUTO_ALLOCATE"] = "true"
        meta.update(self.extra_metadata)
        return meta

    def node(self) -> base_pb2.Node:
        node = base_pb2.Node(id=self.node_id, user_agent_name="envoy")
        json_format.ParseDict(self.metadata(), node.metadata)
        node.locality.region, node.locality.zone = self.locality.region, self.locality.zone
        node.locality.sub_zone = self.locality.subzone
        return node


@dataclass(frozen=True)
class TransportSocketMatch:
    name: str
    match: dict[str, Any]
    transport_socket: str  # e.g. "envoy.transport_sockets.tls"
    sni: str = ""  # the TLS socket's SNI, when it is one


@dataclass(frozen=True)
class Cluster:
    name: str
    type: str               # STATIC, EDS, ORIGINAL_DST, ... (or the custom cluster type's name)
    eds_service_name: str
    transport_socket: str
    transport_socket_matches: tuple[TransportSocketMatch, ...]
    sni: str = ""  # the SNI of its own TLS transport socket (a rule's explicit TLS), if any

    @property
    def mtls_for_istio(self) -> bool:
        """Whether endpoints labelled ``tlsMode: istio`` get a TLS transport socket."""
        return any(m.match.get("tlsMode") == "istio" and m.transport_socket.endswith(".tls")
                   for m in self.transport_socket_matches)


@dataclass(frozen=True)
class Endpoint:
    address: str
    port: int
    locality: Locality
    priority: int
    weight: int             # the endpoint's load-balancing weight (0 when unset)
    locality_weight: int    # its locality's load-balancing weight (0 when unset)
    health: str             # UNKNOWN, HEALTHY, UNHEALTHY, DRAINING, ...
    metadata: dict[str, dict[str, Any]]  # filter metadata: "istio", "envoy.transport_socket_match", ...

    @property
    def tls_mode(self) -> str:
        return str(self.metadata.get("envoy.transport_socket_match", {}).get("tlsMode", ""))


@dataclass(frozen=True)
class FilterChain:
    name: str
    server_names: tuple[str, ...]
    transport_protocol: str
    application_protocols: tuple[str, ...]
    destination_port: int
    filters: tuple[str, ...]
    # the network filters' typed configs by filter name, as dicts (the HTTP connection
    # manager's without its http_filters, which follow as (name, typed config) pairs);
    # a config of a type these protos do not know is {"@type": its type URL}
    configs: Mapping[str, dict] = field(default_factory=dict, hash=False)
    http_filters: tuple[tuple[str, dict], ...] = field(default=(), hash=False)


@dataclass(frozen=True)
class Listener:
    name: str
    address: str
    port: int
    filter_chains: tuple[FilterChain, ...]

    @property
    def server_names(self) -> set[str]:
        return {n for chain in self.filter_chains for n in chain.server_names}


@dataclass(frozen=True)
class Route:
    """One route of a virtual host: where it sends, as cluster name -> weight (one
    cluster without weights: that cluster -> 0)."""

    name: str
    clusters: dict[str, int]


@dataclass(frozen=True)
class VirtualHost:
    name: str
    domains: tuple[str, ...]
    routes: tuple[Route, ...]


@dataclass(frozen=True)
class NameInfo:
    ips: tuple[str, ...]
    registry: str
    shortname: str
    namespace: str


class XdsProbe:
    """One proxy's view of one istiod: ``clusters()``, ``endpoints()``, ``listeners()``, ``dns_table()``."""

    def __init__(self, address: str, proxy: Proxy, *, timeout: float = 10.0, root_pem: str | None = None,
                 token: str | None = None, server_name: str = ISTIOD_SERVER_NAME):
        """Plaintext xDS by default; with ``root_pem`` (and a TokenRequest ``token`` for the proxy's
        ServiceAccount, audience ``istio-ca``) istiod's secure address, as istio-agent connects."""
        self.address, self.proxy, self.timeout = address, proxy, timeout
        options = [("grpc.max_receive_message_length", _MAX_MESSAGE)]
        if root_pem is None:
            if token:
                raise ValueError("a token is only sent to istiod's secure address: pass root_pem too")
            self._channel = grpc.insecure_channel(address, options=options)
        else:
            credentials = grpc.ssl_channel_credentials(root_certificates=root_pem.encode())
            options.append(("grpc.ssl_target_name_override", server_name))
            self._channel = grpc.secure_channel(address, credentials, options=options)
        self._metadata = (("clusterid", proxy.cluster_id),) + (
            (("authorization", f"Bearer {token}"),) if token else ())
        self._stub = ads_pb2_grpc.AggregatedDiscoveryServiceStub(self._channel)

    def __enter__(self) -> XdsProbe:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._channel.close()

    def clusters(self) -> dict[str, Cluster]:
        with self._stream() as stream:
            return {c.name: c for c in map(_cluster, stream.fetch(CDS, cluster_pb2.Cluster))}

    def endpoints(self, cluster_name: str) -> list[Endpoint]:
        """The endpoints of one cluster (``outbound|PORT||HOST``): EDS, asked for after CDS as Envoy
        does, or the cluster's own load assignment (DNS-resolved clusters, e.g. hostname gateways)."""
        with self._stream() as stream:
            raw = {c.name: c for c in stream.fetch(CDS, cluster_pb2.Cluster)}
            if cluster_name not in raw:
                raise XdsError(f"istiod at {self.address} sent {self.proxy.node_id} no cluster "
                               f"{cluster_name!r} (it sent {len(raw)} clusters)")
            cluster = _cluster(raw[cluster_name])
            if cluster.type != "EDS":
                return list(_endpoints(raw[cluster_name].load_assignment))
            name = cluster.eds_service_name or cluster_name
            assignments = stream.fetch(EDS, endpoint_pb2.ClusterLoadAssignment, names=[name])
        return [ep for cla in assignments if cla.cluster_name == name for ep in _endpoints(cla)]

    def listeners(self) -> dict[str, Listener]:
        with self._stream() as stream:
            stream.fetch(CDS, cluster_pb2.Cluster)
            return {li.name: li for li in map(_listener, stream.fetch(LDS, listener_pb2.Listener))}

    def routes(self, route_name: str) -> dict[str, VirtualHost]:
        """RDS: the virtual hosts of one route configuration (a sidecar's is named by
        the port, e.g. ``"9080"``), asked for after CDS and LDS as Envoy does."""
        with self._stream() as stream:
            stream.fetch(CDS, cluster_pb2.Cluster)
            stream.fetch(LDS, listener_pb2.Listener)
            configs = stream.fetch(RDS, route_pb2.RouteConfiguration, names=[route_name])
        return {vh.name: _virtual_host(vh) for config in configs if config.name == route_name
                for vh in config.virtual_hosts}

    def dns_table(self) -> dict[str, NameInfo]:
        """NDS: the name table istiod sends a proxy with DNS capture on."""
        if not self.proxy.dns_capture:
            raise ValueError("dns_table() needs a Proxy with dns_capture=True; istiod sends others none")
        with self._stream() as stream:
            tables = stream.fetch(NDS, nds_pb2.NameTable)
        return {host: NameInfo(tuple(info.ips), info.registry, info.shortname, info.namespace)
                for table in tables for host, info in table.table.items()}

    def follow_endpoints(self, cluster_name: str, condition: Callable[[list[Endpoint]], bool], *,
                         timeout: float) -> Outcome[list[Endpoint]]:
        """Keep one EDS subscription open and test ``condition`` on every push istiod sends
        (the moment of a change, not a re-ask's); the outcome's ``elapsed`` is when it held."""
        def pushes(stream: _AdsStream) -> Iterator[list[Endpoint]]:
            clusters = {c.name: _cluster(c) for c in stream.fetch(CDS, cluster_pb2.Cluster)}
            if cluster_name not in clusters or clusters[cluster_name].type != "EDS":
                raise XdsError(f"istiod sent {self.proxy.node_id} no EDS cluster {cluster_name!r}")
            name = clusters[cluster_name].eds_service_name or cluster_name
            for assignments in stream.pushes(EDS, endpoint_pb2.ClusterLoadAssignment, names=[name]):
                yield [ep for cla in assignments if cla.cluster_name == name for ep in _endpoints(cla)]
        return self._follow(pushes, condition, timeout)

    def follow_listeners(self, condition: Callable[[dict[str, Listener]], bool], *,
                         timeout: float) -> Outcome[dict[str, Listener]]:
        """Like ``follow_endpoints``, for the listeners of every LDS push."""
        def pushes(stream: _AdsStream) -> Iterator[dict[str, Listener]]:
            stream.fetch(CDS, cluster_pb2.Cluster)
            for listeners in stream.pushes(LDS, listener_pb2.Listener):
                yield {li.name: li for li in map(_listener, listeners)}
        return self._follow(pushes, condition, timeout)

    def _follow(self, pushes: Callable[[_AdsStream], Iterator[T]], condition: Callable[[T], bool],
                timeout: float) -> Outcome[T]:
        start = time.monotonic()
        data: T | None = None
        attempts = 0
        try:
            with _AdsStream(self._stub, self.proxy, self.address, timeout, self._metadata) as stream:
                for data in pushes(stream):
                    attempts += 1
                    if condition(data):
                        return Outcome(True, data, attempts, time.monotonic() - start)
        except XdsError as exc:
            return Outcome(False, data, attempts, time.monotonic() - start, str(exc))
        return Outcome(False, data, attempts, time.monotonic() - start, "the stream ended")

    def _stream(self) -> _AdsStream:
        return _AdsStream(self._stub, self.proxy, self.address, self.timeout, self._metadata)


class _AdsStream:
    """One SotW ADS stream: subscribe, wait for the answer, ACK, close (no thread outlives it)."""

    def __init__(self, stub: ads_pb2_grpc.AggregatedDiscoveryServiceStub, proxy: Proxy,
                 address: str, timeout: float, metadata: tuple[tuple[str, str], ...]):
        self._proxy, self._address, self._timeout = proxy, address, timeout
        self._requests: queue.Queue[discovery_pb2.DiscoveryRequest | None] = queue.Queue()
        self._closed = threading.Event()
        self._first = True
        self._names: dict[str, list[str]] = {}  # subscriptions: type URL -> resource names
        self._call = stub.StreamAggregatedResources(self._outgoing(), timeout=timeout, metadata=metadata)

    def __enter__(self) -> _AdsStream:
        return self

    def __exit__(self, *exc: object) -> None:
        # Half-close after the pending ACKs; istiod then ends the stream. Cancel only if it does not.
        done = threading.Event()
        self._requests.put(None)
        self._call.add_done_callback(lambda _call: done.set())
        done.wait(_CLOSE_GRACE)
        self._closed.set()
        self._call.cancel()

    def _outgoing(self) -> Iterator[discovery_pb2.DiscoveryRequest]:
        # grpc's request-consuming thread blocks here; a bounded get lets it notice the close.
        while not self._closed.is_set():
            try:
                item = self._requests.get(timeout=0.5)
            except queue.Empty:
                continue
            if item is None:
                return
            yield item

    def _send(self, type_url: str, version: str = "", nonce: str = "") -> None:
        request = discovery_pb2.DiscoveryRequest(type_url=type_url, resource_names=self._names[type_url],
                                                 version_info=version, response_nonce=nonce)
        if self._first:  # istiod reads the node from the stream's first request only
            request.node.CopyFrom(self._proxy.node())
            self._first = False
        self._requests.put(request)

    def fetch(self, type_url: str, message: type, names: list[str] | None = None) -> list:
        """Subscribe to ``type_url`` and return the resources of its first response, ACKed."""
        return next(self.pushes(type_url, message, names))

    def pushes(self, type_url: str, message: type, names: list[str] | None = None) -> Iterator[list]:
        """Subscribe to ``type_url``; yield the resources of each response istiod sends, ACKed."""
        self._names[type_url] = list(names or [])
        self._send(type_url)
        while True:
            response = self._receive(type_url)
            self._send(type_url, response.version_info, response.nonce)
            out = []
            for resource in response.resources:
                item = message()
                if not resource.Unpack(item):
                    raise XdsError(f"istiod sent a {resource.type_url} where {type_url} was asked for")
                out.append(item)
            yield out

    def _receive(self, type_url: str) -> discovery_pb2.DiscoveryResponse:
        try:
            for response in self._call:
                if response.type_url == type_url:
                    return response
                # a push of a type subscribed before: ACK it (same names), keep waiting
                if response.type_url in self._names:
                    self._send(response.type_url, response.version_info, response.nonce)
        except grpc.RpcError as exc:
            raise _translate(exc, self._address, type_url, self._timeout) from exc
        raise XdsError(f"istiod at {self._address} closed the stream before answering {type_url}")


def _translate(exc: grpc.RpcError, address: str, type_url: str, timeout: float) -> XdsError:
    code = exc.code() if hasattr(exc, "code") else None
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return XdsError(f"istiod at {address} sent no {type_url.rsplit('/', 1)[-1]} within {timeout:.1f}s")
    if code == grpc.StatusCode.UNAVAILABLE:
        return XdsUnavailable(f"istiod's xDS at {address} is unavailable: {exc.details()}")
    if code in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED):
        return XdsRefused(f"istiod at {address} refused the xDS stream ({code.name}): {exc.details()}")
    return XdsError(f"istiod at {address} failed the {type_url} stream: {code}: {exc.details()}")


def _struct(value: struct_pb2.Struct) -> dict[str, Any]:
    return json_format.MessageToDict(value)


def _socket_address(address: Any) -> tuple[str, int]:
    if address.HasField("socket_address"):
        return address.socket_address.address, address.socket_address.port_value
    return json.dumps(json_format.MessageToDict(address), sort_keys=True), 0


def _cluster(c: cluster_pb2.Cluster) -> Cluster:
    kind = c.cluster_type.name if c.HasField("cluster_type") else cluster_pb2.Cluster.DiscoveryType.Name(c.type)
    return Cluster(
        name=c.name, type=kind, eds_service_name=c.eds_cluster_config.service_name,
        transport_socket=c.transport_socket.name, sni=_sni(c.transport_socket),
        transport_socket_matches=tuple(
            TransportSocketMatch(m.name, _struct(m.match), m.transport_socket.name, _sni(m.transport_socket))
            for m in c.transport_socket_matches))


def _sni(socket: Any) -> str:
    context = tls_pb2.UpstreamTlsContext()
    if socket.HasField("typed_config") and socket.typed_config.Unpack(context):
        return context.sni
    return ""


def _endpoints(cla: endpoint_pb2.ClusterLoadAssignment) -> Iterator[Endpoint]:
    for group in cla.endpoints:
        locality = Locality(group.locality.region, group.locality.zone, group.locality.sub_zone)
        for lb in group.lb_endpoints:
            address, port = _socket_address(lb.endpoint.address)
            yield Endpoint(
                address=address, port=port, locality=locality, priority=group.priority,
                weight=lb.load_balancing_weight.value, locality_weight=group.load_balancing_weight.value,
                health=health_check_pb2.HealthStatus.Name(lb.health_status),
                metadata={k: _struct(v) for k, v in lb.metadata.filter_metadata.items()})


def _virtual_host(vh: Any) -> VirtualHost:
    routes = []
    for route in vh.routes:
        action = route.route
        if action.HasField("weighted_clusters"):
            clusters = {c.name: c.weight.value for c in action.weighted_clusters.clusters}
        else:
            clusters = {action.cluster: 0} if action.cluster else {}
        routes.append(Route(route.name, clusters))
    return VirtualHost(vh.name, tuple(vh.domains), tuple(routes))


def _listener(li: listener_pb2.Listener) -> Listener:
    address, port = _socket_address(li.address)
    chains = [*li.filter_chains, *([li.default_filter_chain] if li.HasField("default_filter_chain") else [])]
    return Listener(name=li.name, address=address, port=port, filter_chains=tuple(
        FilterChain(
            name=ch.name, server_names=tuple(ch.filter_chain_match.server_names),
            transport_protocol=ch.filter_chain_match.transport_protocol,
            application_protocols=tuple(ch.filter_chain_match.application_protocols),
            destination_port=ch.filter_chain_match.destination_port.value,
            filters=tuple(f.name for f in ch.filters),
            configs={f.name: _filter_config(f.typed_config) for f in ch.filters if f.HasField("typed_config")},
            http_filters=_http_filters(ch.filters))
        for ch in chains))


def _typed(config: any_pb2.Any) -> dict:
    try:
        return json_format.MessageToDict(config)
    except (TypeError, KeyError):  # a type (or a nested one) these protos do not define
        return {"@type": config.type_url}


def _filter_config(config: any_pb2.Any) -> dict:
    manager = hcm_pb2.HttpConnectionManager()
    if not config.Unpack(manager):
        return _typed(config)
    del manager.http_filters[:]  # listed one by one in http_filters
    return _typed(_packed(manager))


def _http_filters(filters: Any) -> tuple[tuple[str, dict], ...]:
    manager = hcm_pb2.HttpConnectionManager()
    for f in filters:
        if f.HasField("typed_config") and f.typed_config.Unpack(manager):
            return tuple((h.name, _typed(h.typed_config)) for h in manager.http_filters)
    return ()


def _packed(message: Any) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)
    return packed


@dataclass(frozen=True)
class Outcome(Generic[T]):
    """What ``wait_until`` saw last: ``ok`` when the condition held; ``data``/``error`` either way."""

    ok: bool
    data: T | None
    attempts: int
    elapsed: float
    error: str = ""

    def __str__(self) -> str:
        state = "held" if self.ok else "did not hold"
        tail = f"; last error: {self.error}" if self.error else ""
        data = repr(self.data)
        if len(data) > _SHOWN:
            data = data[:_SHOWN] + f"... ({len(data)} characters)"
        return f"condition {state} after {self.attempts} asks in {self.elapsed:.1f}s; last data: {data}{tail}"


def wait_until(ask: Callable[[], T], condition: Callable[[T], bool], *, timeout: float,
               interval: float = 0.2) -> Outcome[T]:
    """Re-ask (``ask()``, e.g. ``lambda: probe.endpoints(name)``) until ``condition`` holds or ``timeout``.

    Failures to ask (istiod not ready yet) count as "not yet"; the outcome keeps
    the last data and the last error for the assertion message.
    """
    start = time.monotonic()
    deadline = start + timeout
    pause = threading.Event()
    data: T | None = None
    error = ""
    attempts = 0
    while True:
        attempts += 1
        try:
            data, error = ask(), ""
            if condition(data):
                return Outcome(True, data, attempts, time.monotonic() - start)
        except PeerError as exc:
            error = str(exc)
        if time.monotonic() + interval > deadline:
            return Outcome(False, data, attempts, time.monotonic() - start, error)
        pause.wait(interval)
