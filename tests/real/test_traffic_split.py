"""A TrafficSplit as a real istiod hands it to sidecars: the weights in their routes,
the subsets' endpoints and SNI, and what happens when the canary empties.

``reviews`` runs in all three clusters (tests/real/conftest.py). The split sends
10 % to cluster-3 and 90 % to the rest; from cluster-1 the rest is its own
share (the plain host), from cluster-3 it is the subset of the other two.
"""

from __future__ import annotations

import pytest
import yaml

from peers.xds import XdsError
from tests.real.conftest import GATEWAY_PORT, NS, host, outbound
from tests.support import wait_for

pytestmark = [pytest.mark.peers, pytest.mark.timeout(900)]

SPLIT = {
    "apiVersion": "federation.mesh/v1alpha1", "kind": "TrafficSplit",
    "metadata": {"name": "reviews-canary", "namespace": NS},
    "spec": {"service": {"name": "reviews"},
             "shares": [{"cluster": "cluster-3", "weight": 10}, {"weight": 90}]},
}
PLAIN = outbound("reviews", 9080)


def subset(name: str) -> str:
    return f"outbound|9080|{name}|{host('reviews')}"


def route_weights(probe) -> dict[str, int] | None:
    """cluster -> weight of the route istiod gives the sidecar for reviews:9080 (None: none yet)."""
    try:
        hosts = probe.routes("9080")
    except XdsError:
        return None
    vhost = hosts.get(f"{host('reviews')}:9080")
    if vhost is None or not vhost.routes:
        return None
    return dict(vhost.routes[0].clusters)


def addresses(probe, cluster: str) -> set[str]:
    try:
        return {f"{ep.address}:{ep.port}" for ep in probe.endpoints(cluster)}
    except XdsError:
        return set()


def owned_kinds(mesh, cluster: str, kind: str) -> list[str]:
    return sorted(o["metadata"]["name"] for o in mesh.owned(cluster, "networking.istio.io/v1", kind, NS))


def test_a_canary_split_reaches_sidecars_fails_over_when_the_canary_empties_and_is_pruned(mesh):
    one, three = mesh.sidecar("cluster-1"), mesh.sidecar("cluster-3")
    gw1, gw2, gw3 = (f"{mesh.gateway_ip(c)}:{GATEWAY_PORT}" for c in ("cluster-1", "cluster-2", "cluster-3"))
    assert mesh.hub.control.apply_resources(yaml.safe_dump(SPLIT)) == [
        f"TrafficSplit {NS}/reviews-canary created"]

    # cluster-1 runs reviews: 90 % stays on its plain host, 10 % goes to cluster-3's subset
    wait_for(lambda: route_weights(one) == {PLAIN: 90, subset("cluster-3"): 10}, 90,
             "cluster-1's sidecar route split 90/10")
    assert addresses(one, subset("cluster-3")) == {gw3}  # the canary's gateway, and only it
    canary_cluster = one.clusters()[subset("cluster-3")]
    # the remote gateway routes on SNI: the subset is reached with the plain host's
    assert canary_cluster.transport_socket.endswith(".tls")
    assert canary_cluster.sni == f"outbound_.9080_._.{host('reviews')}"

    # cluster-3 is the canary: its own 10 % stays local, the rest goes to clusters 1 and 2
    wait_for(lambda: route_weights(three) == {PLAIN: 10, subset("rest"): 90}, 60,
             "cluster-3's sidecar route split 10/90")
    assert addresses(three, subset("rest")) == {gw1, gw2}

    # the canary's endpoints go to zero: its share fails over instead of black-holing
    canary = mesh.member("cluster-3")
    for index in (0, 1):
        canary.set_ready(NS, "reviews", index, False)
    try:
        wait_for(lambda: route_weights(one) == {PLAIN: 0}, 60,
                 "cluster-1's route back to the plain host alone (one destination, no weights)")
    finally:
        for index in (0, 1):
            canary.set_ready(NS, "reviews", index, True)
    wait_for(lambda: route_weights(one) == {PLAIN: 90, subset("cluster-3"): 10}, 60,
             "the 10 % back once the canary is ready again")

    # deleted: the hub's VirtualService is pruned everywhere and routing is as before
    assert owned_kinds(mesh, "cluster-2", "VirtualService") == ["federation-reviews"]
    assert mesh.hub.control.delete_resources(yaml.safe_dump(SPLIT)) == [
        f"TrafficSplit {NS}/reviews-canary deleted"]
    for cluster in ("cluster-1", "cluster-2", "cluster-3"):
        wait_for(lambda: not owned_kinds(mesh, cluster, "VirtualService"), 60,
                 f"the VirtualService pruned from {cluster}")
    wait_for(lambda: route_weights(one) == {PLAIN: 0}, 60, "cluster-1's route unsplit")
