"""Behaviour of render_service / render_cluster / conflicts on small topologies."""

from __future__ import annotations

from federation.model import ClusterInfo, PortSpec
from federation.model.ids import (
    MANAGED_BY, MANAGED_BY_LABEL, SERVICE_NAME_LABEL, SERVICE_NAMESPACE_LABEL, SOURCE_CLUSTER_LABEL,
)
from federation.model.policy import DEFAULT_OUTLIER
from federation.render import conflicts, object_hash, render_cluster, render_gateways, render_service
from federation.render.naming import VM_LABEL

from .scenarios import FAILOVER, PRIORITY, reviews_services
from .support import CLUSTERS, HTTP, RATINGS, REVIEWS, assert_valid, service, snapshot, vm


def by_kind(objects, kind):
    return [o for o in objects if o["kind"] == kind]


def entries_from(objects, cluster):
    return [o for o in by_kind(objects, "WorkloadEntry")
            if o["metadata"]["labels"][SOURCE_CLUSTER_LABEL] == cluster]


def test_remote_entries_carry_gateway_address_network_locality_and_ready_weight():
    objects = render_service(snapshot(reviews_services()), REVIEWS, [], "cluster-c")
    entries = {(o["spec"]["locality"], o["metadata"]["labels"][SOURCE_CLUSTER_LABEL]): o["spec"]
               for o in by_kind(objects, "WorkloadEntry")}
    assert set(entries) == {("us-east/us-east-1a", "cluster-a"), ("us-east/us-east-1b", "cluster-a"),
                            ("us-west/us-west-2a", "cluster-b")}
    a1 = entries[("us-east/us-east-1a", "cluster-a")]
    assert (a1["address"], a1["network"], a1["weight"]) == ("10.0.0.1", "net-1", 2)
    assert entries[("us-east/us-east-1b", "cluster-a")]["weight"] == 1
    b = entries[("us-west/us-west-2a", "cluster-b")]
    # cluster-b's first IP, not its hostname, and its own network
    assert (b["address"], b["network"], b["weight"]) == ("10.0.1.5", "net-2", 3)
    for spec in entries.values():
        assert spec["ports"] == {"http": 15443}
        assert spec["serviceAccount"] == "bookinfo-reviews"
        assert spec["labels"]["app"] == "reviews"
        assert spec["labels"][MANAGED_BY_LABEL] == MANAGED_BY
        assert spec["labels"][SERVICE_NAME_LABEL] == "reviews"
        assert spec["labels"][SERVICE_NAMESPACE_LABEL] == "default"
    assert_valid(objects)


def test_service_entry_when_target_has_no_service():
    objects = render_service(snapshot(reviews_services()), REVIEWS, [], "cluster-c")
    [entry] = by_kind(objects, "ServiceEntry")
    spec = entry["spec"]
    assert spec["hosts"] == ["reviews.default.svc.cluster.local"]
    assert (spec["location"], spec["resolution"]) == ("MESH_INTERNAL", "STATIC")
    assert spec["ports"] == [{"name": "http", "number": 9080, "protocol": "HTTP"}]
    assert spec["workloadSelector"] == {"labels": {"app": "reviews"}}
    for we in by_kind(objects, "WorkloadEntry"):
        assert spec["workloadSelector"]["labels"].items() <= we["spec"]["labels"].items()
    assert entry["metadata"]["namespace"] == "default"


def test_no_service_entry_and_no_own_endpoints_when_target_has_the_service():
    objects = render_service(snapshot(reviews_services(with_local=True)), REVIEWS, [], "cluster-c")
    assert not by_kind(objects, "ServiceEntry")
    assert not entries_from(objects, "cluster-c")
    assert entries_from(objects, "cluster-a") and entries_from(objects, "cluster-b")


def test_entries_use_the_targets_selector_and_port_names():
    services = reviews_services() + [
        service("cluster-c", selector={"app": "reviews", "track": "stable"},
                ports=(PortSpec("web", 9080, "HTTP"), PortSpec("admin", 9901, "TCP")),
                endpoints=[("eu-west/eu-west-1a", 1)])]
    objects = render_service(snapshot(services), REVIEWS, [], "cluster-c")
    for we in by_kind(objects, "WorkloadEntry"):
        assert {"app": "reviews", "track": "stable"}.items() <= we["spec"]["labels"].items()
        assert we["spec"]["ports"] == {"admin": 15443, "web": 15443}
    assert_valid(objects)


def test_destination_rule_always_has_outlier_detection():
    objects = render_service(snapshot(reviews_services()), REVIEWS, [], "cluster-c")
    [rule] = by_kind(objects, "DestinationRule")
    assert rule["metadata"]["name"] == "federation-reviews"
    assert rule["spec"]["host"] == "reviews.default.svc.cluster.local"
    policy = rule["spec"]["trafficPolicy"]
    assert policy["loadBalancer"]["localityLbSetting"] == {"enabled": True}
    assert policy["outlierDetection"] == DEFAULT_OUTLIER.to_dict()
    assert policy["outlierDetection"] == {"consecutive5xxErrors": 5, "interval": "5s",
                                          "baseEjectionTime": "30s", "maxEjectionPercent": 100}


def test_zero_ready_endpoints_in_a_cluster_give_it_no_entry():
    services = [service("cluster-a", endpoints=[]),
                service("cluster-a", key=RATINGS, endpoints=[("us-east/us-east-1a", 0)]),
                service("cluster-b", endpoints=[("us-west/us-west-2a", 3)])]
    snap = snapshot(services)
    objects = render_service(snap, REVIEWS, [], "cluster-c")
    assert not entries_from(objects, "cluster-a")
    assert [we["spec"]["weight"] for we in entries_from(objects, "cluster-b")] == [3]
    assert render_service(snap, RATINGS, [], "cluster-c") == []


def test_service_only_in_the_target_renders_nothing():
    snap = snapshot([service("cluster-c", endpoints=[("eu-west/eu-west-1a", 4)])])
    assert render_service(snap, REVIEWS, [FAILOVER], "cluster-c") == []
    assert render_cluster(snap, [FAILOVER], "cluster-c") == render_gateways(snap, "cluster-c")


def test_clusters_without_gateway_or_network_are_skipped():
    clusters = dict(CLUSTERS)
    clusters["cluster-a"] = ClusterInfo("cluster-a", "net-1", "us-east", ())
    clusters["cluster-b"] = ClusterInfo("cluster-b", "", "us-west", ("10.0.1.5",))
    snap = snapshot(reviews_services(), clusters=clusters)
    assert render_service(snap, REVIEWS, [], "cluster-c") == []
    assert not [o for o in render_gateways(snap, "cluster-c") if o["apiVersion"].startswith("gateway.")]


def test_unknown_target_gets_nothing():
    snap = snapshot(reviews_services(), vms=[vm("ratings-vm-1")])
    assert render_service(snap, REVIEWS, [], "cluster-x") == []
    assert render_cluster(snap, [], "cluster-x") == []
    assert conflicts(snap, "cluster-x") == []


def test_failover_policy_sets_failover_and_its_outlier_detection():
    objects = render_service(snapshot(reviews_services()), REVIEWS, [PRIORITY, FAILOVER], "cluster-c")
    [rule] = by_kind(objects, "DestinationRule")
    policy = rule["spec"]["trafficPolicy"]
    assert policy["loadBalancer"]["localityLbSetting"] == {
        "enabled": True,
        "failover": [{"from": "eu-west", "to": "us-east"}, {"from": "us-east", "to": "us-west"}]}
    assert policy["outlierDetection"] == {"consecutive5xxErrors": 2, "consecutiveGatewayErrors": 1,
                                          "interval": "1s", "baseEjectionTime": "60s",
                                          "maxEjectionPercent": 100}
    assert rule["metadata"]["annotations"] == {"federation.mesh/policy": "default/reviews-failover"}


def test_failover_priority_policy_keeps_default_outlier_fields_it_does_not_set():
    objects = render_service(snapshot(reviews_services()), REVIEWS, [PRIORITY], "cluster-c")
    [rule] = by_kind(objects, "DestinationRule")
    policy = rule["spec"]["trafficPolicy"]
    assert policy["loadBalancer"]["localityLbSetting"] == {
        "enabled": True,
        "failoverPriority": ["topology.istio.io/network", "topology.kubernetes.io/region"]}
    assert policy["outlierDetection"] == {**DEFAULT_OUTLIER.to_dict(), "interval": "0.5s"}


def test_user_owned_rule_suppresses_ours_and_is_reported():
    host = REVIEWS.host()
    snap = snapshot(reviews_services(), user_rules={"cluster-c": {host}})
    objects = render_service(snap, REVIEWS, [FAILOVER], "cluster-c")
    assert not by_kind(objects, "DestinationRule")
    assert by_kind(objects, "ServiceEntry") and by_kind(objects, "WorkloadEntry")
    [message] = conflicts(snap, "cluster-c")
    assert host in message and "cluster-c" in message
    # other clusters are not affected
    assert conflicts(snap, "cluster-a") == []
    assert by_kind(render_service(snap, REVIEWS, [FAILOVER], "cluster-a"), "DestinationRule")


def test_user_rule_for_a_host_not_federated_there_is_no_conflict():
    snap = snapshot([service("cluster-c", endpoints=[("eu-west/eu-west-1a", 4)])],
                    user_rules={"cluster-c": {REVIEWS.host()}})
    assert conflicts(snap, "cluster-c") == []


def test_vm_workload_rendered_in_every_cluster_with_its_own_address():
    snap = snapshot(reviews_services(), vms=[vm("ratings-vm-1")])
    for target in CLUSTERS:
        objects = render_service(snap, RATINGS, [], target)
        [we] = by_kind(objects, "WorkloadEntry")
        spec = we["spec"]
        assert (spec["address"], spec["network"], spec["locality"]) == (
            "192.168.10.7", "vm-net", "on-prem/rack-1")
        assert spec["serviceAccount"] == "ratings-vm"
        assert spec["labels"]["version"] == "v1" and spec["labels"]["app"] == "ratings"
        assert we["metadata"]["labels"][SOURCE_CLUSTER_LABEL] == "vm"
        assert we["metadata"]["labels"][VM_LABEL] == "ratings-vm-1"
        assert by_kind(objects, "ServiceEntry") and by_kind(objects, "DestinationRule")
        assert_valid(objects)


def test_vm_entry_names_differ_from_gateway_entry_names():
    # A VM named like a gateway entry's tail must not collide with it.
    services = [service("cluster-b", key=RATINGS, endpoints=[("us-west/us-west-2a", 1)])]
    snap = snapshot(services, vms=[vm("cluster-b-us-west-2a"), vm("ratings-cluster-b-us-west-2a",
                                                                   address="192.168.10.8")])
    names = [o["metadata"]["name"] for o in by_kind(render_service(snap, RATINGS, [], "cluster-a"),
                                                    "WorkloadEntry")]
    assert len(names) == len(set(names)) == 3


def test_selectorless_service_is_selected_by_federation_labels():
    services = [service("cluster-b", selector={}, endpoints=[("us-west/us-west-2a", 2)])]
    objects = render_service(snapshot(services), REVIEWS, [], "cluster-a")
    [entry] = by_kind(objects, "ServiceEntry")
    selector = {SERVICE_NAMESPACE_LABEL: "default", SERVICE_NAME_LABEL: "reviews"}
    assert entry["spec"]["workloadSelector"]["labels"] == selector
    [we] = by_kind(objects, "WorkloadEntry")
    assert selector.items() <= we["spec"]["labels"].items()
    assert "app" not in we["spec"]["labels"]


def test_service_entry_ports_merge_deterministically():
    # Clusters are merged in name order: cluster-a's ports first; then cluster-b's
    # "http" (name taken) and "metrics" (number 9100 taken) are skipped.
    services = [
        service("cluster-b", ports=(HTTP, PortSpec("metrics", 9100, "TCP")),
                endpoints=[("us-west/us-west-2a", 1)]),
        service("cluster-a", ports=(PortSpec("http", 8080, "HTTP"), PortSpec("grpc", 9090, "GRPC"),
                                    PortSpec("stats", 9100, "TCP")),
                endpoints=[("us-east/us-east-1a", 1)]),
    ]
    objects = render_service(snapshot(services), REVIEWS, [], "cluster-c")
    [entry] = by_kind(objects, "ServiceEntry")
    assert entry["spec"]["ports"] == [
        {"name": "http", "number": 8080, "protocol": "HTTP"},
        {"name": "grpc", "number": 9090, "protocol": "GRPC"},
        {"name": "stats", "number": 9100, "protocol": "TCP"},
    ]
    for we in by_kind(objects, "WorkloadEntry"):
        assert we["spec"]["ports"] == {"grpc": 15443, "http": 15443, "stats": 15443}
    assert_valid(objects)


def test_render_cluster_is_gateways_then_every_service():
    snap = snapshot(reviews_services(), vms=[vm("ratings-vm-1")])
    policies = [FAILOVER, PRIORITY]
    expected = render_gateways(snap, "cluster-c")
    for key in snap.service_keys():
        expected += render_service(snap, key, policies, "cluster-c")
    assert render_cluster(snap, policies, "cluster-c") == expected
    assert_valid(expected)


def test_output_is_independent_of_input_order():
    services = reviews_services(with_local=True)
    first = snapshot(services, vms=[vm("ratings-vm-1"), vm("ratings-vm-2", address="192.168.10.8")])
    clusters = dict(reversed(list(CLUSTERS.items())))
    second = snapshot(list(reversed(services)),
                      vms=[vm("ratings-vm-2", address="192.168.10.8"), vm("ratings-vm-1")],
                      clusters=clusters)
    for target in CLUSTERS:
        one = render_cluster(first, [PRIORITY, FAILOVER], target)
        two = render_cluster(second, [FAILOVER, PRIORITY], target)
        assert [object_hash(o) for o in one] == [object_hash(o) for o in two]
