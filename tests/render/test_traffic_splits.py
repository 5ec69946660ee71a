"""TrafficSplits rendered: weighted routes, the subsets they name, and what happens
when a share has nowhere to go."""

from __future__ import annotations

from federation.model import ClusterInfo
from federation.model.policies import PolicySet
from federation.render import conflicts, render_service
from federation.render.traffic_splits import SHARE_LABEL, spread

from .scenarios import CANARY, reviews_services, traffic_split
from .support import CLUSTERS, REVIEWS, assert_valid, service, snapshot

HOST = "reviews.default.svc.cluster.local"


def kinds(objects, kind):
    return [o for o in objects if o["kind"] == kind]


def weights(objects) -> dict[str, int]:
    """subset ("" for the plain host) → weight, from the VirtualService's HTTP route; the TCP route agrees."""
    [vs] = kinds(objects, "VirtualService")
    http = {d["destination"].get("subset", ""): d["weight"] for d in vs["spec"]["http"][0]["route"]}
    tcp = {d["destination"].get("subset", ""): d["weight"] for d in vs["spec"]["tcp"][0]["route"]}
    assert http == tcp and vs["spec"]["hosts"] == [HOST]
    return http


def render(services, target, *splits):
    objects = render_service(snapshot(services), REVIEWS, PolicySet(splits=splits), target)
    assert_valid(objects)
    return objects


def everywhere():
    return [*reviews_services(), service("cluster-c", endpoints=[("eu-west/eu-west-1a", 4)])]


def test_the_canary_gets_its_share_from_a_cluster_that_runs_the_service_itself():
    objects = render(everywhere(), "cluster-a", CANARY)
    assert weights(objects) == {"cluster-c": 10, "": 90}  # its own share stays on the plain host
    [rule] = kinds(objects, "DestinationRule")
    assert [(s["name"], s["labels"]) for s in rule["spec"]["subsets"]] == [("cluster-c", {SHARE_LABEL: "cluster-c"})]
    entries = {e["spec"]["address"]: e["spec"]["labels"].get(SHARE_LABEL) for e in kinds(objects, "WorkloadEntry")}
    assert entries == {"10.0.2.1": "cluster-c", "10.0.1.5": "rest"}


def test_a_subset_is_reached_with_the_plain_hosts_sni_and_keeps_failover_and_outlier_detection():
    [rule] = kinds(render(everywhere(), "cluster-a", CANARY), "DestinationRule")
    [subset] = rule["spec"]["subsets"]
    [port] = subset["trafficPolicy"]["portLevelSettings"]
    assert port["tls"] == {"mode": "ISTIO_MUTUAL", "sni": f"outbound_.9080_._.{HOST}"}
    # port-level settings replace the rule's wholesale in istiod: they are repeated
    assert port["loadBalancer"] == rule["spec"]["trafficPolicy"]["loadBalancer"]
    assert port["outlierDetection"] == rule["spec"]["trafficPolicy"]["outlierDetection"]


def test_from_the_canary_cluster_the_rest_is_a_subset_of_the_other_clusters():
    objects = render(everywhere(), "cluster-c", CANARY)
    assert weights(objects) == {"": 10, "rest": 90}
    assert {e["spec"]["labels"][SHARE_LABEL] for e in kinds(objects, "WorkloadEntry")} == {"rest"}


def test_a_share_whose_clusters_have_no_ready_endpoints_fails_over_to_the_others():
    services = [*reviews_services(), service("cluster-c", endpoints=[])]
    objects = render(services, "cluster-a", CANARY)
    assert weights(objects) == {"": 100}
    three = traffic_split([{"cluster": "cluster-b", "weight": 20}, {"cluster": "cluster-c", "weight": 20},
                           {"weight": 60}])
    assert weights(render(services, "cluster-a", three)) == {"cluster-b": 25, "": 75}


def test_a_migration_sends_everything_to_one_cluster_and_nothing_when_it_empties():
    migrate = traffic_split([{"cluster": "cluster-b", "weight": 100}])
    assert weights(render(everywhere(), "cluster-a", migrate)) == {"cluster-b": 100}
    assert weights(render(everywhere(), "cluster-b", migrate)) == {"": 100}
    services = [service("cluster-a", endpoints=[("us-east/us-east-1a", 2)]), service("cluster-b", endpoints=[])]
    objects = render(services, "cluster-c", migrate)
    assert not kinds(objects, "VirtualService")  # no share left: routed as without a split
    assert "subsets" not in kinds(objects, "DestinationRule")[0]["spec"]


def test_the_own_share_without_ready_local_endpoints_uses_the_entries_of_its_other_clusters():
    region = traffic_split([{"region": "us-east", "weight": 50}, {"weight": 50}])
    services = [service("cluster-a", endpoints=[]), *everywhere()[1:],
                service("cluster-d", endpoints=[("us-east/us-east-1c", 2)])]
    clusters = {**CLUSTERS, "cluster-d": ClusterInfo("cluster-d", "net-3", "us-east", ("10.0.3.1",),
                                                      namespaces=CLUSTERS["cluster-a"].namespaces)}
    objects = render_service(snapshot(services, clusters=clusters), REVIEWS, PolicySet(splits=(region,)),
                             "cluster-a")
    assert weights(objects) == {"us-east": 50, "rest": 50}


def test_no_routes_where_a_user_rule_covers_the_host_and_the_conflict_is_reported():
    snap = snapshot(everywhere(), user_rules={"cluster-a": {HOST}})
    objects = render_service(snap, REVIEWS, PolicySet(splits=(CANARY,)), "cluster-a")
    assert not kinds(objects, "VirtualService") and not kinds(objects, "DestinationRule")
    assert any("TrafficSplit's routes" in c for c in conflicts(snap, "cluster-a"))


def test_a_second_split_of_the_same_service_is_not_in_force_and_is_reported():
    later = traffic_split([{"cluster": "cluster-b", "weight": 100}], name="zz-migration")
    snap = snapshot(everywhere())
    objects = render_service(snap, REVIEWS, PolicySet(splits=(later, CANARY)), "cluster-a")
    assert weights(objects) == {"cluster-c": 10, "": 90}
    assert ("TrafficSplit default/zz-migration names default/reviews, which TrafficSplit "
            "default/reviews-canary already splits; it is not in force") in conflicts(
                snap, "cluster-a", policies=PolicySet(splits=(later, CANARY)))


def test_without_a_split_nothing_changes():
    objects = render_service(snapshot(everywhere()), REVIEWS, PolicySet(), "cluster-a")
    assert not kinds(objects, "VirtualService")
    assert all(SHARE_LABEL not in e["spec"]["labels"] for e in kinds(objects, "WorkloadEntry"))


def test_spread_keeps_the_sum_and_the_proportions():
    assert spread([10, 90]) == [10, 90]
    assert spread([20, 60]) == [25, 75]
    assert spread([1, 1, 1]) == [34, 33, 33]
    assert spread([]) == [] and spread([0, 0]) == [0, 0]


def test_a_users_virtual_service_for_the_host_keeps_the_split_out_and_is_reported():
    snap = snapshot(everywhere(), user_routes={"cluster-a": {HOST}})
    policies = PolicySet(splits=(CANARY,))
    objects = render_service(snap, REVIEWS, policies, "cluster-a")
    assert not kinds(objects, "VirtualService")
    assert "subsets" not in kinds(objects, "DestinationRule")[0]["spec"]  # failover stays
    assert (f"{HOST}: VirtualService host(s) {HOST} not managed by mesh-federation in cluster cluster-a; "
            "TrafficSplit default/reviews-canary is not applied there") in conflicts(snap, "cluster-a",
                                                                              policies=policies)
    assert weights(render_service(snap, REVIEWS, policies, "cluster-c")) == {"": 10, "rest": 90}  # elsewhere
