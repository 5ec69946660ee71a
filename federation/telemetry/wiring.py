"""Per-cluster gauges of a running hub (``HubService`` calls ``install``): each
member's state, its last successful sync, and (with ``--probe-gateways``) whether
the hub reaches its east-west gateways."""

from __future__ import annotations

from federation.telemetry.reachability import GatewayProber


def install(service) -> None:
    hub, telemetry = service.hub, service.telemetry

    def states():
        return [(1.0, {"cluster": name, "state": member.state})
                for name, member in sorted(hub.members().items())]

    def last_sync():
        members = hub.members()
        return [(when, {"cluster": name}) for name, when in sorted(dict(telemetry.last_sync).items())
                if name in members]

    telemetry.gauge("federation_cluster_state", states)
    telemetry.gauge("federation_cluster_last_sync_timestamp_seconds", last_sync)
    interval = getattr(service.settings, "gateway_probe_interval", 0.0)
    if interval and interval > 0:
        prober = GatewayProber(hub, interval)
        telemetry.gauge("federation_gateway_reachable", prober.observe)
        service.extensions.append(prober)
        service.gateway_prober = prober
