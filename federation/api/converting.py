"""Converting between the Admin API's messages and ``control``'s dataclasses."""

from __future__ import annotations

import math

from google.protobuf.timestamp_pb2 import Timestamp

from federation.api.control import ClusterEndpoints, ClusterStatus, HubStatus, RegisteredCluster, ServiceRow
from federation.api.gen.federation.v1 import admin_pb2 as pb


def cluster_to_message(record: RegisteredCluster) -> pb.Cluster:
    return pb.Cluster(name=record.name, network=record.network, region=record.region,
                      server=record.server, state=record.state, gateways=list(record.gateways),
                      istiod_ca=record.istiod_ca, labels=dict(record.labels))


def cluster_from_message(msg: pb.Cluster) -> RegisteredCluster:
    return RegisteredCluster(name=msg.name, network=msg.network, region=msg.region,
                         server=msg.server, state=msg.state, gateways=tuple(msg.gateways),
                         istiod_ca=msg.istiod_ca, labels=dict(sorted(msg.labels.items())))


def service_to_message(row: ServiceRow) -> pb.FederatedService:
    return pb.FederatedService(
        namespace=row.namespace,
        name=row.name,
        clusters=[
            pb.ClusterEndpoints(cluster=c.cluster, network=c.network, ready_endpoints=c.ready_endpoints,
                                localities=dict(c.localities), stale=c.stale)
            for c in row.clusters
        ],
        exported_from=list(row.exported_from),
        imported_to=list(row.imported_to),
        import_selectors=list(row.import_selectors),
    )


def service_from_message(msg: pb.FederatedService) -> ServiceRow:
    return ServiceRow(
        namespace=msg.namespace,
        name=msg.name,
        clusters=tuple(
            ClusterEndpoints(cluster=c.cluster, network=c.network, ready_endpoints=c.ready_endpoints,
                             localities=dict(sorted(c.localities.items())), stale=c.stale)
            for c in msg.clusters
        ),
        exported_from=tuple(msg.exported_from),
        imported_to=tuple(msg.imported_to),
        import_selectors=tuple(msg.import_selectors),
    )


def status_to_message(status: HubStatus) -> pb.HubStatus:
    return pb.HubStatus(
        version=status.version,
        store_backend=status.store_backend,
        clusters=[_cluster_status_to_message(c) for c in status.clusters],
        federated_services=status.federated_services,
        snapshot_version=status.snapshot_version,
        store_health=status.store_health,
        hub_id=status.hub_id,
        gateway_note=status.gateway_note,
    )


def status_from_message(msg: pb.HubStatus) -> HubStatus:
    return HubStatus(
        version=msg.version,
        store_backend=msg.store_backend,
        clusters=tuple(_cluster_status_from_message(c) for c in msg.clusters),
        federated_services=msg.federated_services,
        snapshot_version=msg.snapshot_version,
        store_health=msg.store_health,
        hub_id=msg.hub_id,
        gateway_note=msg.gateway_note,
    )


def _cluster_status_to_message(status: ClusterStatus) -> pb.ClusterStatus:
    msg = pb.ClusterStatus(name=status.name, network=status.network, region=status.region,
                           state=status.state, synced=status.synced, objects=status.objects,
                           error=status.error, stale=status.stale, conflicts=list(status.conflicts),
                           fights=list(status.fights), owner=status.owner, gateway=status.gateway)
    if status.last_push is not None:
        msg.last_push.CopyFrom(_timestamp(status.last_push))
    if status.gateway_since is not None:
        msg.gateway_unreachable_since.CopyFrom(_timestamp(status.gateway_since))
    return msg


def _cluster_status_from_message(msg: pb.ClusterStatus) -> ClusterStatus:
    last_push = _seconds(msg.last_push) if msg.HasField("last_push") else None
    since = _seconds(msg.gateway_unreachable_since) if msg.HasField("gateway_unreachable_since") else None
    return ClusterStatus(name=msg.name, network=msg.network, region=msg.region, state=msg.state,
                         synced=msg.synced, last_push=last_push, objects=msg.objects,
                         error=msg.error, stale=msg.stale, conflicts=tuple(msg.conflicts),
                         fights=tuple(msg.fights), owner=msg.owner, gateway=msg.gateway,
                         gateway_since=since)


def _seconds(ts: Timestamp) -> float:
    return ts.seconds + ts.nanos / 1e9


def _timestamp(unix_seconds: float) -> Timestamp:
    # Split first: a float holds whole seconds exactly but not whole nanoseconds.
    seconds = math.floor(unix_seconds)
    nanos = min(round((unix_seconds - seconds) * 1e9), 999_999_999)
    return Timestamp(seconds=seconds, nanos=nanos)
