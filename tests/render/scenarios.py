"""Named render scenarios: each returns the objects rendered for one target.

Every scenario has a golden file (``golden/<name>.yaml``) and every object of
every scenario is validated against the CRD schemas.
"""

from __future__ import annotations

from federation.model import ClusterInfo, PortSpec
from federation.model.policies import PolicySet
from federation.model.policy import parse_policy
from federation.model.traffic_split import parse_traffic_split
from federation.render import render_cluster, render_gateways, render_service

from .support import CLUSTERS, GRPC, HTTP, RATINGS, REVIEWS, service, snapshot, vm


def reviews_services(with_local: bool = False):
    out = [
        service("cluster-a", endpoints=[("us-east/us-east-1a", 2), ("us-east/us-east-1b", 1)]),
        service("cluster-b", endpoints=[("us-west/us-west-2a", 3)]),
    ]
    if with_local:
        out.append(service("cluster-c", endpoints=[("eu-west/eu-west-1a", 4)]))
    return out


def policy(name: str, spec: dict, namespace: str = "default"):
    return parse_policy({"apiVersion": "federation.mesh/v1alpha1", "kind": "FailoverPolicy",
                         "metadata": {"name": name, "namespace": namespace}, "spec": spec})


FAILOVER = policy("reviews-failover", {
    "selector": {"namespace": "default", "name": "reviews"},
    "failover": [{"from": "eu-west", "to": "us-east"}, {"from": "us-east", "to": "us-west"}],
    "outlierDetection": {"consecutive5xxErrors": 2, "consecutiveGatewayErrors": 1,
                         "interval": "1s", "baseEjectionTime": "1m", "maxEjectionPercent": 100},
})

PRIORITY = policy("backend-priority", {
    "selector": {"matchLabels": {"tier": "backend"}},
    "failoverPriority": ["topology.istio.io/network", "topology.kubernetes.io/region"],
    "outlierDetection": {"interval": "500ms"},
})


def remote_only_for_c():
    return render_service(snapshot(reviews_services()), REVIEWS, [], "cluster-c")


def local_and_remote_for_c():
    return render_service(snapshot(reviews_services(with_local=True)), REVIEWS, [], "cluster-c")


def zero_ready_in_a_for_c():
    services = [service("cluster-a", endpoints=[]),
                service("cluster-b", endpoints=[("us-west/us-west-2a", 3)])]
    return render_service(snapshot(services), REVIEWS, [], "cluster-c")


def policy_failover_for_c():
    return render_service(snapshot(reviews_services()), REVIEWS, [FAILOVER], "cluster-c")


def policy_failover_priority_for_c():
    return render_service(snapshot(reviews_services()), REVIEWS, [PRIORITY], "cluster-c")


def user_rule_conflict_for_c():
    snap = snapshot(reviews_services(), user_rules={"cluster-c": {REVIEWS.host()}})
    return render_service(snap, REVIEWS, [FAILOVER], "cluster-c")


def vm_workload_for_a():
    services = [service("cluster-b", key=RATINGS, endpoints=[("us-west/us-west-2b", 1)],
                        ports=(HTTP, GRPC), service_account="bookinfo-ratings")]
    return render_service(snapshot(services, vms=[vm("ratings-vm-1")]), RATINGS, [], "cluster-a")


def gateways_for_c():
    return render_gateways(snapshot(), "cluster-c")


def user_wildcard_rule_for_c():
    snap = snapshot(reviews_services(), user_rules={"cluster-c": {"*.default.svc.cluster.local"}})
    return render_service(snap, REVIEWS, [FAILOVER], "cluster-c")


def named_target_ports_for_c():
    local = service("cluster-c", ports=(PortSpec("http", 9080, "HTTP", 0, target_name="http-web"),
                                        PortSpec("tcp-admin", 9901, "TCP", 9901)),
                    endpoints=[("eu-west/eu-west-1a", 1)])
    return render_service(snapshot(reviews_services() + [local]), REVIEWS, [], "cluster-c")


def hostname_gateway_for_a():
    clusters = dict(CLUSTERS)
    clusters["cluster-b"] = ClusterInfo("cluster-b", "net-2", "us-west", ("gw-b.example.com",),
                                        resolved=("10.9.9.9",))
    snap = snapshot([service("cluster-b", endpoints=[("us-west/us-west-2a", 3)])], clusters=clusters)
    return render_service(snap, REVIEWS, [], "cluster-a")


def cluster_c_full():
    clusters = dict(CLUSTERS)
    clusters["cluster-d"] = ClusterInfo("cluster-d", "", "ap-south", ())  # unreachable: no gateway
    services = reviews_services(with_local=True) + [
        service("cluster-b", key=RATINGS, endpoints=[("us-west/us-west-2b", 1)], ports=(HTTP, GRPC),
                service_account="bookinfo-ratings"),
        service("cluster-d", key=RATINGS, endpoints=[("ap-south/ap-south-1a", 5)], ports=(HTTP, GRPC)),
    ]
    snap = snapshot(services, vms=[vm("ratings-vm-1")], clusters=clusters)
    return render_cluster(snap, [FAILOVER, PRIORITY], "cluster-c")


def traffic_split(shares: list[dict], name: str = "reviews-canary", service_name: str = "reviews"):
    return parse_traffic_split({"apiVersion": "federation.mesh/v1alpha1", "kind": "TrafficSplit",
                                "metadata": {"name": name, "namespace": "default"},
                                "spec": {"service": {"name": service_name}, "shares": shares}})


CANARY = traffic_split([{"cluster": "cluster-c", "weight": 10}, {"weight": 90}])


def traffic_split_canary_for_a():
    """cluster-a runs reviews itself: its own share (the rest) stays on the plain host."""
    services = [*reviews_services(), service("cluster-c", endpoints=[("eu-west/eu-west-1a", 4)])]
    return render_service(snapshot(services), REVIEWS, PolicySet(splits=(CANARY,)), "cluster-a")


def traffic_split_canary_for_c():
    """cluster-c is the canary: the rest share is a subset of the entries of a and b."""
    policies = PolicySet(failover=(FAILOVER,), splits=(CANARY,))
    return render_service(snapshot(reviews_services(with_local=True)), REVIEWS, policies, "cluster-c")


SCENARIOS = {fn.__name__: fn for fn in (
    traffic_split_canary_for_a, traffic_split_canary_for_c,
    remote_only_for_c, local_and_remote_for_c, zero_ready_in_a_for_c, policy_failover_for_c,
    policy_failover_priority_for_c, user_rule_conflict_for_c, vm_workload_for_a,
    gateways_for_c, cluster_c_full, user_wildcard_rule_for_c, named_target_ports_for_c,
    hostname_gateway_for_a,
)}
