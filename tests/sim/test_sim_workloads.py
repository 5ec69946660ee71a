"""The workload builders and seed_cluster."""

from __future__ import annotations

from kubesim import workloads
from kubesim.store import ObjectStore


def test_builders_produce_objects_a_validating_cluster_accepts(schemas):
    store = ObjectStore(schemas=schemas)
    store.create(workloads.istio_system_namespace("network-1"))
    store.create(workloads.node("n1", "region-1", "zone-1a"))
    store.create(workloads.service("reviews", ports=(("http", 9080), ("grpc", 9090))))
    store.create(workloads.endpoint_slice("reviews", "default", [workloads.Endpoint("10.1.0.1", "n1", "zone-1a"),
                                                                 workloads.Endpoint("10.1.0.2", "n1", "zone-1a",
                                                                                    ready=False)]))
    store.create(workloads.eastwest_gateway_service("network-1", "172.18.0.10"))
    store.create(workloads.service_export("reviews"))
    assert store.get("v1", "Namespace", "istio-system")["metadata"]["labels"][workloads.NETWORK_LABEL] == "network-1"
    assert store.get("v1", "Node", "n1")["metadata"]["labels"][workloads.ZONE_LABEL] == "zone-1a"
    gateway = store.get("v1", "Service", workloads.EASTWEST_NAME, "istio-system")
    assert gateway["spec"]["type"] == "LoadBalancer" and gateway["metadata"]["labels"]["istio"] == "eastwestgateway"
    assert 15443 in [p["port"] for p in gateway["spec"]["ports"]]
    assert gateway["status"]["loadBalancer"]["ingress"] == [{"ip": "172.18.0.10"}]
    endpoints = store.get("discovery.k8s.io/v1", "EndpointSlice", "reviews-sim", "default")["endpoints"]
    assert [(e["conditions"]["ready"], e["zone"], e["nodeName"]) for e in endpoints] == \
        [(True, "zone-1a", "n1"), (False, "zone-1a", "n1")]


def test_seed_cluster_populates_a_coherent_cluster(schemas):
    store = ObjectStore(schemas=schemas)
    seeded = workloads.seed_cluster(store, network="network-2", region="region-1", zones=["z-a", "z-b"],
                                    services=3, endpoints_per_service=4)
    assert sorted(s["metadata"]["name"] for s in store.list("v1", "Service", "default")) == ["svc-0", "svc-1", "svc-2"]
    nodes = {n["metadata"]["name"]: n["metadata"]["labels"] for n in store.list("v1", "Node")}
    assert set(nodes) == set(seeded.nodes) and {labels[workloads.ZONE_LABEL] for labels in nodes.values()} == \
        {"z-a", "z-b"}
    slices = store.list("discovery.k8s.io/v1", "EndpointSlice", "default",
                        label_selector=f"{workloads.SERVICE_NAME_LABEL}=svc-1")
    assert len(slices) == 1 and len(slices[0]["endpoints"]) == 4
    assert {e["nodeName"] for e in slices[0]["endpoints"]} <= set(nodes)
    addresses = [e.address for eps in seeded.services.values() for e in eps]
    assert len(addresses) == len(set(addresses)) == 12
    gateway = store.get("v1", "Service", workloads.EASTWEST_NAME, "istio-system")
    assert gateway["status"]["loadBalancer"]["ingress"][0]["ip"] == seeded.gateway_address


def test_seeding_twice_changes_nothing(schemas):
    store = ObjectStore(schemas=schemas)
    workloads.seed_cluster(store, "network-1", "region-1", ["z"], ["reviews", "ratings"])
    rv = store.resource_version
    workloads.seed_cluster(store, "network-1", "region-1", ["z"], ["reviews", "ratings"])
    assert store.resource_version == rv


def test_set_endpoints_flips_readiness(schemas):
    store = ObjectStore(schemas=schemas)
    seeded = workloads.seed_cluster(store, "network-1", "region-1", ["z"], ["reviews"])
    down = [workloads.Endpoint(e.address, e.node, e.zone, ready=False) for e in seeded.services["default/reviews"]]
    updated = workloads.set_endpoints(store, "reviews", "default", down)
    assert [e["conditions"]["ready"] for e in updated["endpoints"]] == [False, False]


def test_clusters_of_a_fleet_get_disjoint_address_ranges():
    numbers = {workloads.cluster_number_of(f"cluster-{i}") for i in range(1, 21)}
    assert len(numbers) == 20
    assert workloads.pod_address(3, 257) == "10.3.1.1"
