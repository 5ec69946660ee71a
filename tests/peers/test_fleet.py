"""A fleet on its own etcd: members start in parallel, each isolated, and stop leaves nothing."""

from __future__ import annotations

import pytest

from federation.kube.client import NAMESPACE, NODE
from peers.errors import PeerError
from peers.fleet import RealFleet
from peers.processes import process_exists

pytestmark = pytest.mark.peers

TOPOLOGY = [("east-1", "net-east", "us-east", ["us-east-1a"]),
            ("west-1", "net-west", "eu-west", ["eu-west-1a", "eu-west-1b"])]


def test_fleet_members_are_separate_clusters_and_stop_leaves_no_process(real_binaries, shared_crds, tmp_path):
    with RealFleet(tmp_path, TOPOLOGY) as fleet:
        print(f"fleet of {len(TOPOLOGY)}: API servers ready in {fleet.timings['apiservers']:.1f}s, "
              f"bootstrapped in {fleet.timings['ready']:.1f}s")
        east, west = fleet.members["east-1"], fleet.members["west-1"]
        assert east.apiserver.server != west.apiserver.server
        assert east.apiserver.etcd_prefix != west.apiserver.etcd_prefix
        assert east.client.get(NAMESPACE, None, "istio-system")["metadata"]["labels"][
            "topology.istio.io/network"] == "net-east"
        assert {n["metadata"]["name"] for n in west.client.list(NODE)["items"]} == {
            "west-1-eu-west-1a-0", "west-1-eu-west-1b-0"}
        east.deploy("shop", "cart", pods=[("us-east-1a", True)])
        assert west.client.get(NAMESPACE, None, "shop") is None, "one cluster's objects stay in it"
        assert east.workload("shop", "cart").pods[0].ip != west.gateway.pods[0].ip
        pids = [fleet.etcd.pid, east.apiserver.pid, west.apiserver.pid]
    assert not any(process_exists(pid) for pid in pids)


def test_bad_topologies_are_named(tmp_path):
    with pytest.raises(PeerError, match="duplicate cluster names"):
        RealFleet(tmp_path, [("a", "n", "r", ["z"]), ("a", "n", "r", ["z"])])
    with pytest.raises(PeerError, match=r"expected \(name, network, region, zones\)"):
        RealFleet(tmp_path, [("a", "n")])
