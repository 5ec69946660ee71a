"""The dashboard's view of the hub (pure): clusters grouped by network, which services
flow from which clusters into which, each cluster's sync state, reason and latency."""

from __future__ import annotations

from federation.check.reasons import explain


def view(status, services, clusters, latency: dict | None = None, *, fetched_at: float,
         metrics_error: str = "") -> dict:
    """``status`` (HubStatus), ``services`` (ServiceRows), ``clusters`` (ClusterRecords)
    as the page draws them."""
    latency = latency or {}
    gateways = {c.name: list(c.gateways) for c in clusters}
    rows = []
    for c in status.clusters:
        rows.append({"name": c.name, "network": c.network or "(none)", "region": c.region,
                     "state": c.state, "synced": c.synced, "stale": c.stale, "reason": explain(c),
                     "error": c.error, "objects": c.objects, "lastPush": c.last_push,
                     "conflicts": list(c.conflicts), "owner": c.owner,
                     "gateways": gateways.get(c.name, []), "latency": latency.get(c.name),
                     "gateway": c.gateway, "gatewaySince": c.gateway_since})
    names = [r["name"] for r in rows]
    networks: dict[str, list[str]] = {}
    for r in rows:
        networks.setdefault(r["network"], []).append(r["name"])
    # a withdrawn cluster's endpoints are not written into the others (gateway-aware failover)
    withdrawn = {c.name for c in status.clusters if c.gateway == "withdrawn"}
    flows: dict[tuple[str, str], list[str]] = {}
    service_rows = []
    for s in services:
        key = f"{s.namespace}/{s.name}"
        sources = [e for e in s.clusters if e.ready_endpoints > 0 and e.cluster not in withdrawn]
        service_rows.append({"name": key, "sources": [{"cluster": e.cluster, "ready": e.ready_endpoints,
                                                       "stale": e.stale} for e in sources],
                             "targets": sorted(n for n in names if any(e.cluster != n for e in sources))})
        for e in sources:
            for target in names:
                if target != e.cluster:
                    flows.setdefault((e.cluster, target), []).append(key)
    return {
        "hub": {"version": status.version, "store": status.store_backend, "storeHealth": status.store_health,
                "hubId": status.hub_id, "services": status.federated_services,
                "snapshot": status.snapshot_version, "gatewayNote": status.gateway_note},
        "fetchedAt": fetched_at, "error": "", "metricsError": metrics_error,
        "networks": [{"name": n, "clusters": members} for n, members in sorted(networks.items())],
        "clusters": rows,
        "flows": [{"from": a, "to": b, "services": sorted(keys)} for (a, b), keys in sorted(flows.items())],
        "services": service_rows,
    }
