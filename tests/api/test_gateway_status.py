"""Gateway reachability as status carries it: through the admin API's messages,
in `federation status` (its reason and -o wide's column) and the dashboard's view."""

from __future__ import annotations

from federation.api.control import ClusterStatus, HubStatus
from federation.api.converting import status_from_message, status_to_message
from federation.check.reasons import explain
from federation.cli import format_status
from federation.dashboard.state import view
from federation.model.gateway_health import HOLDING

SINCE = 1_790_000_000.25


def status(note: str = "") -> HubStatus:
    return HubStatus(version="1", store_backend="memory", gateway_note=note, clusters=(
        ClusterStatus("east", network="n1", state="synced", synced=True, gateway="reachable"),
        ClusterStatus("west", network="n2", state="synced", synced=True, gateway="withdrawn",
                      gateway_since=SINCE),
        ClusterStatus("vm-only", network="n3", state="synced", synced=True)))


def test_the_admin_api_carries_each_gateway_and_the_hubs_note():
    back = status_from_message(status_to_message(status(HOLDING)))
    assert back == status(HOLDING)
    assert status_from_message(status_to_message(status())).clusters[0].gateway_since is None


def test_status_says_it_in_words_and_in_the_wide_column():
    east, west, plain = status().clusters
    assert explain(east) == "" and explain(plain) == ""
    assert explain(west).startswith("gateway withdrawn: its east-west gateway has not answered the hub's "
                                    "probes since 2026-")
    assert "unreachable: not answering" in explain(ClusterStatus("x", synced=True, gateway="unreachable"))
    wide = format_status(status(), wide=True).splitlines()
    assert "GATEWAY" in wide[1]
    assert [line.split()[4] for line in wide[2:5]] == ["reachable", "withdrawn", "-"]
    assert "GATEWAY" not in format_status(status())
    assert format_status(status(HOLDING)).splitlines()[1] == f"gateways: {HOLDING}"


def test_the_dashboard_shows_it_and_draws_no_flow_from_a_withdrawn_cluster():
    from federation.api.control import ClusterEndpoints, ServiceRow
    services = [ServiceRow("ns", "svc", (ClusterEndpoints("east", ready_endpoints=1),
                                         ClusterEndpoints("west", ready_endpoints=2)))]
    state = view(status(HOLDING), services, [], fetched_at=0.0)
    rows = {r["name"]: r for r in state["clusters"]}
    assert (rows["west"]["gateway"], rows["west"]["gatewaySince"]) == ("withdrawn", SINCE)
    assert state["hub"]["gatewayNote"] == HOLDING
    assert {(f["from"], f["to"]) for f in state["flows"]} == {("east", "west"), ("east", "vm-only")}
