"""Gateway-aware failover on real peers: each member's east-west gateway is a
real loopback TCP listener at the address its gateway Service publishes (port
15443), the hub probes them, and an xDS probe posing as a sidecar asks each
member's istiod which endpoints it hands out for ``reviews``. Stopping
cluster-3's listener takes its gateway endpoint out of cluster-1's and
cluster-2's sidecars within the bound; starting it again brings it back.

Its own fleet (three kube-apiservers, three istiods) and its own hub, with
probing on (the shared ``mesh`` fixture's gateways are placeholders)."""

from __future__ import annotations

import json
import os
import socket
import time

import pytest

from federation.check.reasons import explain
from federation.kube.client import MERGE_PATCH
from federation.serving import HubService, prepare_workdir
from federation.settings import HubSettings
from federation.trust.client import TrustClient
from peers.fleet import RealFleet
from tests.peers.support import (  # noqa: F401  (fixtures)
    peers_etcd, peers_workdir, real_binaries, shared_crds, unique_name,
)
from tests.real.conftest import GATEWAY_PORT, NS, TOPOLOGY, Mesh, all_synced, outbound, register
from tests.real.test_routing import remote_view
from tests.support import wait_for

INTERVAL = 0.5
WITHDRAW_AFTER = 3.0
# from the listener closing: the bound, a probe round either side, the connect, render and push,
# and istiod's own debounce (100 ms quiet, up to 10 s under load) before it pushes EDS
WITHIN = WITHDRAW_AFTER + 2 * INTERVAL + 12.0
REVIEWS = outbound("reviews", 9080)


class Listener:
    """A member's east-west gateway as the hub's probe sees it: accepts, at a fixed address."""

    def __init__(self, address: str):
        self.address = address
        self._server: socket.socket | None = None
        self.start()

    def start(self) -> None:
        self._server = socket.create_server((self.address, GATEWAY_PORT))  # SO_REUSEADDR

    def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None


def loopback_base() -> str:
    """127.X.Y: a loopback block of this process, so that concurrent runs never share a port."""
    pid = os.getpid()
    return f"127.{100 + pid % 100}.{(pid // 100) % 250}"


def publish_gateway(member, address: str) -> None:
    """The gateway Service's LoadBalancer ingress is ``address`` (as a cloud controller sets it)."""
    rtype = member.resource_type("v1", "Service")
    member.client.request("PATCH", rtype.path("istio-system", "istio-eastwestgateway") + "/status",
                          body=json.dumps({"status": {"loadBalancer": {"ingress": [{"ip": address}]}}}).encode(),
                          content_type=MERGE_PATCH)
    member.gateway_address = address


@pytest.fixture(scope="module")
def probed_mesh(real_binaries, shared_crds, peers_etcd, peers_workdir):  # noqa: F811
    workdir = peers_workdir / unique_name("gateways")
    fleet = RealFleet(workdir / "fleet", TOPOLOGY, etcd_url=peers_etcd.url)
    base = loopback_base()
    listeners = {name: Listener(f"{base}.{i + 1}") for i, (name, *_) in enumerate(TOPOLOGY)}
    hub = trust = None
    started = time.monotonic()
    try:
        fleet.start()
        http = [("http", 9080)]
        fleet.members["cluster-1"].deploy(NS, "reviews", http, [("us-east-1a", True)])
        fleet.members["cluster-2"].deploy(NS, "reviews", http, [("us-east-1c", True)])
        fleet.members["cluster-3"].deploy(NS, "reviews", http, [("eu-west-1a", True), ("eu-west-1a", True)])
        for name, listener in listeners.items():
            publish_gateway(fleet.members[name], listener.address)
        wd = prepare_workdir(workdir / "hub", hosts=["127.0.0.1"])
        settings = HubSettings(store_url="memory://", listen="127.0.0.1:0", tls_cert=str(wd.cert),
                               tls_key=str(wd.key), admin_token_file=str(wd.token), kek_file=str(wd.kek),
                               debounce_quiet=0.05, debounce_max=0.5, initial_sync_timeout=10.0,
                               cluster_timeout=10.0, gateway_probe_interval=INTERVAL,
                               gateway_withdraw_after=WITHDRAW_AFTER)
        hub = HubService(settings)
        hub.start()
        trust = TrustClient(hub.api.address, ca_file=wd.ca, token=wd.token.read_text().strip(), timeout=20)
        register(hub, fleet, workdir)
        trust.init_root()
        wait_for(lambda: all_synced(hub), 90, "every member synced")
        fleet.start_istiods(wait_for_cacerts=True)
        mesh = Mesh(fleet, hub, trust, workdir)
        print(f"fleet, hub and istiods up in {time.monotonic() - started:.1f} s")
        yield mesh, listeners
        for probe in mesh.probes:
            probe.close()
    finally:
        if trust is not None:
            trust.close()
        if hub is not None:
            hub.stop()
        fleet.stop()
        for listener in listeners.values():
            listener.stop()


def gateway_of(mesh, cluster: str) -> str:
    return mesh.status(cluster).gateway


def test_a_cluster_whose_gateway_stops_answering_leaves_the_other_sidecars_and_returns(probed_mesh):
    mesh, listeners = probed_mesh
    gw3 = mesh.gateway_ip("cluster-3")
    one, two, three = mesh.sidecar("cluster-1"), mesh.sidecar("cluster-2"), mesh.sidecar("cluster-3")
    for probe in (one, two):
        view = wait_for(lambda: remote_view(probe, REVIEWS).get(gw3), 90, "cluster-3's gateway in the view")
        assert (view.port, view.weight, view.tls_mode) == (GATEWAY_PORT, 2, "istio")
    assert {mesh.gateway_ip("cluster-1"), mesh.gateway_ip("cluster-2")} <= set(remote_view(three, REVIEWS))
    wait_for(lambda: {gateway_of(mesh, n) for n, *_ in TOPOLOGY} == {"reachable"}, 30, "every gateway reached")

    listeners["cluster-3"].stop()
    stopped = time.monotonic()
    gone = one.follow_endpoints(REVIEWS, lambda eps: gw3 not in {e.address for e in eps}, timeout=WITHIN + 30)
    took = time.monotonic() - stopped
    print(f"cluster-3 withdrawn from cluster-1's sidecar {took:.2f} s after its gateway stopped "
          f"(bound {WITHDRAW_AFTER} s, probe every {INTERVAL} s)")
    assert gone.ok, gone
    assert WITHDRAW_AFTER - INTERVAL <= took <= WITHIN, took
    wait_for(lambda: gw3 not in remote_view(two, REVIEWS), 30, "cluster-3's gateway gone from cluster-2's sidecar")
    status = mesh.status("cluster-3")
    assert status.gateway == "withdrawn" and status.gateway_since is not None
    assert "gateway withdrawn" in explain(status)
    # cluster-3's own sidecars keep their endpoints: only the others stop sending there
    assert {mesh.gateway_ip("cluster-1"), mesh.gateway_ip("cluster-2")} <= set(remote_view(three, REVIEWS))

    listeners["cluster-3"].start()
    started = time.monotonic()
    back = one.follow_endpoints(REVIEWS, lambda eps: gw3 in {e.address for e in eps}, timeout=WITHIN + 30)
    took = time.monotonic() - started
    print(f"cluster-3 back in cluster-1's sidecar {took:.2f} s after its gateway answered again")
    assert back.ok, back
    assert took <= 2 * INTERVAL + 12.0, took
    wait_for(lambda: gw3 in remote_view(two, REVIEWS), 30, "cluster-3's gateway back in cluster-2's sidecar")
    assert remote_view(one, REVIEWS)[gw3].weight == 2
    wait_for(lambda: gateway_of(mesh, "cluster-3") == "reachable", 10, "cluster-3 reachable in status")
