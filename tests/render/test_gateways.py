"""render_gateways: the local cross-network server, and nothing per remote network."""

from __future__ import annotations

from federation.model.ids import MANAGED_BY, MANAGED_BY_LABEL
from federation.render import render_gateways
from federation.render.naming import COMPONENT_LABEL

from .support import CLUSTERS, assert_valid, snapshot


def test_every_cluster_gets_the_hubs_own_cross_network_gateway_for_the_mesh_domain():
    snap = snapshot()
    for target in CLUSTERS:
        [local] = render_gateways(snap, target, "mesh.example")
        assert (local["apiVersion"], local["metadata"]["name"], local["metadata"]["namespace"]) == (
            "networking.istio.io/v1", "mesh-federation-cross-network", "istio-system")
        assert local["spec"]["selector"] == {"istio": "eastwestgateway"}
        assert local["spec"]["servers"] == [{
            "port": {"number": 15443, "name": "tls", "protocol": "TLS"},
            "tls": {"mode": "AUTO_PASSTHROUGH"}, "hosts": ["*.mesh.example"]}]


def test_no_network_gateways_that_would_spread_a_networks_traffic():
    snap = snapshot()
    for target in CLUSTERS:
        assert not [o for o in render_gateways(snap, target)
                    if o["apiVersion"].startswith("gateway.networking.k8s.io")]


def test_gateways_carry_ownership_and_component_labels_only():
    for obj in render_gateways(snapshot(), "cluster-b"):
        labels = obj["metadata"]["labels"]
        assert labels[MANAGED_BY_LABEL] == MANAGED_BY
        assert labels[COMPONENT_LABEL] == "gateway"
        assert not any(k.startswith("federation.mesh/service") for k in labels)


def test_all_gateway_objects_validate():
    snap = snapshot()
    for target in CLUSTERS:
        assert_valid(render_gateways(snap, target))
