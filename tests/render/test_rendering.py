"""Behaviour of render_service / render_cluster / conflicts on small topologies."""

from __future__ import annotations

from dataclasses import replace

from federation.model import ClusterInfo, PortSpec
from federation.model.ids import (
    MANAGED_BY, MANAGED_BY_LABEL, SERVICE_NAME_LABEL, SERVICE_NAMESPACE_LABEL, SOURCE_CLUSTER_LABEL,
    TLS_MODE_LABEL,
)
from federation.model.policy import DEFAULT_OUTLIER
from federation.render import (
    conflicts, object_hash, render_cluster, render_gateways, render_namespaces, render_service,
)
from federation.render.naming import VM_LABEL

from .scenarios import FAILOVER, PRIORITY, reviews_services
from .support import CLUSTERS, HTTP, RATINGS, REVIEWS, assert_valid, service, snapshot, vm


def by_kind(objects, kind):
    return [o for o in objects if o["kind"] == kind]


def entries_from(objects, cluster):
    return [o for o in by_kind(objects, "WorkloadEntry")
            if o["metadata"]["labels"][SOURCE_CLUSTER_LABEL] == cluster]


def stub_selector():
    return {SERVICE_NAMESPACE_LABEL: "default", SERVICE_NAME_LABEL: "reviews"}


def test_one_entry_per_remote_cluster_at_its_gateway_weighted_by_its_ready_endpoints():
    objects = render_service(snapshot(reviews_services()), REVIEWS, [], "cluster-c")
    entries = {o["metadata"]["labels"][SOURCE_CLUSTER_LABEL]: o["spec"]
               for o in by_kind(objects, "WorkloadEntry")}
    assert set(entries) == {"cluster-a", "cluster-b"}
    a, b = entries["cluster-a"], entries["cluster-b"]
    # both localities of cluster-a in one entry: one address, the sum of its ready endpoints,
    # the locality where most of them are
    assert (a["address"], a["network"], a["weight"], a["locality"]) == (
        "10.0.0.1", "net-1", 3, "us-east/us-east-1a")
    # cluster-b's first IP, not its hostname, and its own network
    assert (b["address"], b["network"], b["weight"], b["locality"]) == (
        "10.0.1.5", "net-2", 3, "us-west/us-west-2a")
    addresses = [spec["address"] for spec in entries.values()]
    assert len(addresses) == len(set(addresses))
    for spec in entries.values():
        assert spec["ports"] == {"http": 15443}
        assert spec["serviceAccount"] == "bookinfo-reviews"
        assert spec["labels"][TLS_MODE_LABEL] == "istio"
        assert stub_selector().items() <= spec["labels"].items()
        assert spec["labels"][MANAGED_BY_LABEL] == MANAGED_BY
    assert_valid(objects)


def test_every_entry_is_marked_for_mtls_even_without_a_known_service_account():
    services = [service("cluster-b", service_account="", endpoints=[("us-west/us-west-2a", 1)])]
    [we] = by_kind(render_service(snapshot(services), REVIEWS, [], "cluster-a"), "WorkloadEntry")
    assert we["spec"]["labels"][TLS_MODE_LABEL] == "istio"
    assert "serviceAccount" not in we["spec"]


def test_clusters_sharing_one_gateway_address_share_one_entry():
    clusters = dict(CLUSTERS)
    clusters["cluster-d"] = ClusterInfo("cluster-d", "net-1", "us-east", ("10.0.0.1",))
    services = reviews_services() + [service("cluster-d", endpoints=[("us-east/us-east-1c", 5)])]
    objects = render_service(snapshot(services, clusters=clusters), REVIEWS, [], "cluster-c")
    by_address = {}
    for we in by_kind(objects, "WorkloadEntry"):
        by_address.setdefault(we["spec"]["address"], []).append(we["spec"])
    assert {a: len(e) for a, e in by_address.items()} == {"10.0.0.1": 1, "10.0.1.5": 1}
    [merged] = by_address["10.0.0.1"]
    assert (merged["weight"], merged["locality"]) == (8, "us-east/us-east-1c")


def test_stub_service_when_target_has_no_service():
    objects = render_service(snapshot(reviews_services()), REVIEWS, [], "cluster-c")
    [stub] = by_kind(objects, "Service")
    assert (stub["metadata"]["name"], stub["metadata"]["namespace"]) == ("reviews", "default")
    assert stub["spec"]["type"] == "ClusterIP"
    assert stub["spec"]["selector"] == stub_selector()
    assert stub["spec"]["ports"] == [
        {"name": "http", "port": 9080, "targetPort": 9080, "protocol": "TCP", "appProtocol": "http"}]
    for we in by_kind(objects, "WorkloadEntry"):
        assert stub["spec"]["selector"].items() <= we["spec"]["labels"].items()
    assert not by_kind(objects, "ServiceEntry")
    assert_valid(objects)


def test_stub_ports_of_unnamed_remote_ports_get_names():
    services = [service("cluster-b", ports=(PortSpec("", 8080, "TCP", 8080),),
                        endpoints=[("us-west/us-west-2a", 1)])]
    objects = render_service(snapshot(services), REVIEWS, [], "cluster-a")
    [stub] = by_kind(objects, "Service")
    assert [p["name"] for p in stub["spec"]["ports"]] == ["tcp-8080"]
    [we] = by_kind(objects, "WorkloadEntry")
    assert we["spec"]["ports"] == {"tcp-8080": 15443}


def test_no_stub_and_no_own_endpoints_when_target_has_the_service():
    objects = render_service(snapshot(reviews_services(with_local=True)), REVIEWS, [], "cluster-c")
    assert not by_kind(objects, "Service")
    assert not entries_from(objects, "cluster-c")
    assert entries_from(objects, "cluster-a") and entries_from(objects, "cluster-b")


def test_entries_use_the_targets_selector_and_port_keys_istiod_looks_up():
    services = reviews_services() + [
        service("cluster-c", selector={"app": "reviews", "track": "stable"},
                ports=(PortSpec("web", 9080, "HTTP", 9080),
                       PortSpec("admin", 9901, "TCP", 0, target_name="admin-port")),
                endpoints=[("eu-west/eu-west-1a", 1)])]
    objects = render_service(snapshot(services), REVIEWS, [], "cluster-c")
    for we in by_kind(objects, "WorkloadEntry"):
        assert {"app": "reviews", "track": "stable"}.items() <= we["spec"]["labels"].items()
        # a named target port is the key; else the port's own name
        assert we["spec"]["ports"] == {"admin-port": 15443, "web": 15443}
    assert_valid(objects)


def test_unnamed_port_headless_or_selectorless_service_in_the_target_is_reported_not_imported():
    cases = {
        "unnamed": service("cluster-c", ports=(PortSpec("", 9080, "TCP", 9080),),
                           endpoints=[("eu-west/eu-west-1a", 1)]),
        "no selector": service("cluster-c", selector={}, endpoints=[("eu-west/eu-west-1a", 1)]),
        "headless": replace(service("cluster-c", endpoints=[("eu-west/eu-west-1a", 1)]), headless=True),
    }
    for words, local in cases.items():
        snap = snapshot(reviews_services() + [local])
        assert render_service(snap, REVIEWS, [], "cluster-c") == [], words
        [message] = conflicts(snap, "cluster-c")
        assert "not federated into cluster cluster-c" in message and words.split()[-1] in message


def test_headless_services_elsewhere_are_not_federated():
    services = [replace(service("cluster-b", endpoints=[("us-west/us-west-2a", 2)]), headless=True)]
    snap = snapshot(services)
    assert render_service(snap, REVIEWS, [], "cluster-a") == []
    [message] = conflicts(snap, "cluster-a")
    assert "headless" in message


def test_hostname_only_gateway_is_reached_at_its_resolved_address():
    clusters = dict(CLUSTERS)
    clusters["cluster-b"] = ClusterInfo("cluster-b", "net-2", "us-west", ("gw-b.example.com",),
                                        resolved=("10.9.9.9",))
    objects = render_service(snapshot(reviews_services(), clusters=clusters), REVIEWS, [], "cluster-c")
    [b] = entries_from(objects, "cluster-b")
    assert b["spec"]["address"] == "10.9.9.9"


def test_namespace_created_only_where_the_target_lacks_it():
    clusters = {name: replace(info, namespaces=frozenset({"default"}) if name == "cluster-a" else frozenset())
                for name, info in CLUSTERS.items()}
    snap = snapshot(reviews_services(), clusters=clusters)
    [namespace] = render_namespaces(snap, "default", "cluster-c")
    assert namespace["kind"] == "Namespace" and namespace["metadata"]["name"] == "default"
    assert namespace["metadata"]["labels"][MANAGED_BY_LABEL] == MANAGED_BY
    assert render_namespaces(snap, "default", "cluster-a") == []  # it has one
    assert render_namespaces(snap, "other", "cluster-c") == []  # nothing to import there
    assert_valid([namespace])


def test_a_hub_namespace_the_target_now_runs_services_in_is_never_dropped():
    # reviews is gone elsewhere, but cluster-c runs its own reviews in the namespace the hub made
    clusters = {name: replace(info, namespaces=frozenset()) for name, info in CLUSTERS.items()}
    snap = snapshot([service("cluster-c", endpoints=[("eu-west/eu-west-1a", 1)])], clusters=clusters)
    assert render_service(snap, REVIEWS, [], "cluster-c") == []
    assert [o["kind"] for o in render_namespaces(snap, "default", "cluster-c")] == ["Namespace"]


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


def test_clusters_without_a_gateway_address_are_skipped():
    clusters = dict(CLUSTERS)
    clusters["cluster-a"] = ClusterInfo("cluster-a", "net-1", "us-east", ())
    clusters["cluster-b"] = ClusterInfo("cluster-b", "net-2", "us-west", ("gw-b.example.com",))
    snap = snapshot(reviews_services(), clusters=clusters)
    assert render_service(snap, REVIEWS, [], "cluster-c") == []


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
    for pattern in (host, "*.default.svc.cluster.local", "*.cluster.local", "*"):
        snap = snapshot(reviews_services(), user_rules={"cluster-c": {pattern}})
        objects = render_service(snap, REVIEWS, [FAILOVER], "cluster-c")
        assert not by_kind(objects, "DestinationRule"), pattern
        assert by_kind(objects, "Service") and by_kind(objects, "WorkloadEntry")
        [message] = conflicts(snap, "cluster-c")
        assert host in message and pattern in message and "cluster-c" in message
    # a wildcard for another namespace does not cover it
    snap = snapshot(reviews_services(), user_rules={"cluster-c": {"*.other.svc.cluster.local"}})
    assert by_kind(render_service(snap, REVIEWS, [FAILOVER], "cluster-c"), "DestinationRule")
    snap = snapshot(reviews_services(), user_rules={"cluster-c": {host}})
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
        assert spec["labels"][TLS_MODE_LABEL] == "istio"
        assert by_kind(objects, "Service") and by_kind(objects, "DestinationRule")
        assert_valid(objects)


def test_vm_entry_names_differ_from_gateway_entry_names():
    # A VM named like a gateway entry's tail must not collide with it.
    services = [service("cluster-b", key=RATINGS, endpoints=[("us-west/us-west-2a", 1)])]
    snap = snapshot(services, vms=[vm("cluster-b-us-west-2a"), vm("ratings-cluster-b-us-west-2a",
                                                                   address="192.168.10.8")])
    names = [o["metadata"]["name"] for o in by_kind(render_service(snap, RATINGS, [], "cluster-a"),
                                                    "WorkloadEntry")]
    assert len(names) == len(set(names)) == 3


def test_remote_selectorless_service_is_selected_by_federation_labels():
    services = [service("cluster-b", selector={}, endpoints=[("us-west/us-west-2a", 2)])]
    objects = render_service(snapshot(services), REVIEWS, [], "cluster-a")
    [stub] = by_kind(objects, "Service")
    assert stub["spec"]["selector"] == stub_selector()
    [we] = by_kind(objects, "WorkloadEntry")
    assert stub_selector().items() <= we["spec"]["labels"].items()
    assert "app" not in we["spec"]["labels"]


def test_stub_ports_merge_deterministically():
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
    [stub] = by_kind(objects, "Service")
    assert [(p["name"], p["port"], p["appProtocol"]) for p in stub["spec"]["ports"]] == [
        ("http", 8080, "http"), ("grpc", 9090, "grpc"), ("stats", 9100, "tcp")]
    for we in by_kind(objects, "WorkloadEntry"):
        assert we["spec"]["ports"] == {"grpc": 15443, "http": 15443, "stats": 15443}
    assert_valid(objects)


def test_render_cluster_is_gateways_then_namespaces_then_every_service():
    snap = snapshot(reviews_services(), vms=[vm("ratings-vm-1")])
    policies = [FAILOVER, PRIORITY]
    expected = render_gateways(snap, "cluster-c") + render_namespaces(snap, "default", "cluster-c")
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
