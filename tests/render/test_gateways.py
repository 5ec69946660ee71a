"""render_gateways on three clusters in two networks."""

from __future__ import annotations

from federation.model import ClusterInfo
from federation.model.ids import MANAGED_BY, MANAGED_BY_LABEL, NETWORK_LABEL
from federation.render import render_gateways
from federation.render.gateways import MAX_ADDRESSES, address_entry
from federation.render.naming import COMPONENT_LABEL

from .support import CLUSTERS, assert_valid, snapshot


def remote(objects):
    return {o["metadata"]["labels"][NETWORK_LABEL]: o for o in objects
            if o["apiVersion"] == "gateway.networking.k8s.io/v1"}


def test_every_cluster_gets_the_cross_network_gateway():
    snap = snapshot()
    for target in CLUSTERS:
        [local] = [o for o in render_gateways(snap, target) if o["apiVersion"] == "networking.istio.io/v1"]
        assert (local["metadata"]["name"], local["metadata"]["namespace"]) == (
            "cross-network-gateway", "istio-system")
        assert local["spec"]["selector"] == {"istio": "eastwestgateway"}
        assert local["spec"]["servers"] == [{
            "port": {"number": 15443, "name": "tls", "protocol": "TLS"},
            "tls": {"mode": "AUTO_PASSTHROUGH"}, "hosts": ["*.local"]}]


def test_one_remote_gateway_per_other_network_with_all_its_addresses():
    snap = snapshot()
    for_c = remote(render_gateways(snap, "cluster-c"))
    assert list(for_c) == ["net-2"]  # none for its own network net-1
    net2 = for_c["net-2"]
    assert net2["metadata"]["name"] == "istio-remote-net-2"
    assert net2["spec"]["gatewayClassName"] == "istio-remote"
    assert net2["spec"]["addresses"] == [{"type": "Hostname", "value": "gw-b.example.com"},
                                         {"type": "IPAddress", "value": "10.0.1.5"}]
    assert net2["spec"]["listeners"] == [{"name": "cross-network", "port": 15443, "protocol": "TLS",
                                          "tls": {"mode": "Passthrough"}}]
    for_b = remote(render_gateways(snap, "cluster-b"))
    assert list(for_b) == ["net-1"]
    # every cluster of net-1 contributes its gateway
    assert for_b["net-1"]["spec"]["addresses"] == [{"type": "IPAddress", "value": "10.0.0.1"},
                                                    {"type": "IPAddress", "value": "10.0.2.1"}]
    assert list(remote(render_gateways(snap, "cluster-a"))) == ["net-2"]


def test_gateways_carry_ownership_and_component_labels_only():
    for obj in render_gateways(snapshot(), "cluster-b"):
        labels = obj["metadata"]["labels"]
        assert labels[MANAGED_BY_LABEL] == MANAGED_BY
        assert labels[COMPONENT_LABEL] == "gateway"
        assert not any(k.startswith("federation.mesh/service") for k in labels)


def test_network_names_are_sanitised_and_addresses_capped_and_valid():
    clusters = {
        "here": ClusterInfo("here", "net-1", "r", ("10.0.0.1",)),
        "there": ClusterInfo("there", "Net_West.Zone", "r",
                             tuple(f"10.1.0.{i}" for i in range(20)) + ("GW.Example.COM.", "bad host!")),
    }
    objects = render_gateways(snapshot(clusters=clusters), "here")
    [gw] = remote(objects).values()
    name = gw["metadata"]["name"]
    assert name.startswith("istio-remote-net-west-zone-") and len(name) <= 63
    assert len(gw["spec"]["addresses"]) == MAX_ADDRESSES
    assert {"type": "Hostname", "value": "gw.example.com"} in gw["spec"]["addresses"]
    assert_valid(objects)


def test_address_entry_classifies_ips_and_hostnames():
    assert address_entry("10.1.2.3") == {"type": "IPAddress", "value": "10.1.2.3"}
    assert address_entry("2001:db8::1") == {"type": "IPAddress", "value": "2001:db8::1"}
    assert address_entry("LB.example.com") == {"type": "Hostname", "value": "lb.example.com"}
    assert address_entry("not a host") is None


def test_all_gateway_objects_validate():
    snap = snapshot()
    for target in CLUSTERS:
        assert_valid(render_gateways(snap, target))
