"""ClusterWatcher against a simulated cluster over HTTPS: what it derives and emits."""

from __future__ import annotations

from federation.model import ClusterChange, ClusterInfo, ServiceChange, UserRulesChange
from federation.model.ids import Locality, PortSpec, ServiceKey
from federation.sources.reflecting import Kept
from kubesim.cluster import SimCluster
from tests.sources.support import (
    CORE, DISCOVERY, ISTIO, MCS, destination_rule, endpoint, endpoint_slice, fast_settings, gateway_service,
    namespace, node, service, service_export, virtual_service,
)
from tests.support import wait_for

REVIEWS = ServiceKey("shop", "reviews")
RATINGS = ServiceKey("shop", "ratings")


def seed_shop(sim: SimCluster) -> None:
    """Two zones of one region, the network label, a gateway and two services."""
    sim.apply(namespace("istio-system", {"topology.istio.io/network": "net-a"}))
    sim.apply(namespace("shop"))
    sim.apply(node("n1", "eu-west", "eu-west-1a"))
    sim.apply(node("n2", "eu-west", "eu-west-1b"))
    sim.apply(node("n3", "us-east", "us-east-1a"))
    gateway = sim.apply(gateway_service())
    sim.store.set_status(CORE, "Service", gateway["metadata"]["name"], {"loadBalancer": {"ingress": [
        {"ip": "203.0.113.20"}, {"hostname": "ew.example.net"}, {"ip": "203.0.113.10"}]}},
        namespace="istio-system")
    sim.apply(service("shop", "reviews", ports=[
        {"name": "http-web", "port": 9080, "targetPort": 9080},
        {"name": "api", "port": 9090, "targetPort": "grpc-api", "appProtocol": "grpc"},
        {"name": "metrics", "port": 9100, "protocol": "UDP"},
    ], labels={"team": "books"}, annotations={"federation.mesh/service-account": "reviews-sa"}))
    sim.apply(endpoint_slice("shop", "reviews-abc", "reviews", [
        endpoint("10.0.0.1", "n1"),
        endpoint("10.0.0.2", "n1", ready=None),  # no condition: ready
        endpoint("10.0.0.3", "n2"),
        endpoint("10.0.0.4", "n2", ready=False),
        endpoint("10.0.0.5", zone="eu-west-1c"),  # no node: zone field + cluster region
    ]))
    sim.apply(service("shop", "ratings"))
    sim.apply(endpoint_slice("shop", "ratings-abc", "ratings", [endpoint("10.0.1.1", "n2")]))


def test_initial_sync_emits_the_full_state_once(make_sim, watch):
    sim = make_sim()
    seed_shop(sim)
    _, sink = watch(sim)
    sink.wait_state("synced")
    assert len(sink.since()) == 1, "the first sync is one change set"
    first = sink.since()[0]
    assert first.sources == ("c1",) and first.observed_at > 0

    info = sink.info()
    assert info.network == "net-a"
    assert info.region == "eu-west"  # two of three nodes
    assert info.gateways == ("203.0.113.10", "203.0.113.20", "ew.example.net")
    assert info.gateway_port == 15443 and not info.stale

    services = sink.services()
    assert set(services) == {REVIEWS, RATINGS}, "istio-system (and its gateway) is not federated"
    reviews = services[REVIEWS]
    assert reviews.ports == (
        PortSpec("http-web", 9080, "HTTP", 9080),
        PortSpec("api", 9090, "GRPC", 0, target_name="grpc-api"),
    )
    assert reviews.selector == (("app", "reviews"),)
    assert reviews.labels == (("team", "books"),)
    assert reviews.service_account == "reviews-sa"
    assert dict(reviews.endpoints) == {
        Locality("eu-west", "eu-west-1a"): 2,
        Locality("eu-west", "eu-west-1b"): 1,
        Locality("eu-west", "eu-west-1c"): 1,
    }
    assert sink.rules_changes() == [UserRulesChange("c1", frozenset())]


def test_scaling_endpoints_emits_only_that_service(make_sim, watch):
    sim = make_sim()
    seed_shop(sim)
    _, sink = watch(sim)
    sink.wait_state("synced")
    mark = sink.mark()
    sim.apply(endpoint_slice("shop", "ratings-abc", "ratings", [
        endpoint("10.0.1.1", "n2"), endpoint("10.0.1.2", "n2"), endpoint("10.0.1.3", "n3")]))
    changes = wait_for(lambda: sink.service_changes(mark), what="the ratings change")
    assert [c.key for c in changes] == [RATINGS]
    assert dict(changes[0].service.endpoints) == {
        Locality("eu-west", "eu-west-1b"): 2, Locality("us-east", "us-east-1a"): 1}
    # A later, unrelated change as a barrier: nothing else was emitted in between.
    sim.apply(service("shop", "barrier"))
    wait_for(lambda: sink.service_changes(mark, ServiceKey("shop", "barrier")), what="the barrier")
    assert [c.key for c in sink.service_changes(mark)] == [RATINGS, ServiceKey("shop", "barrier")]
    assert not sink.cluster_changes(mark), "cluster info did not change"


def test_deleting_a_service_emits_its_removal(make_sim, watch):
    sim = make_sim()
    seed_shop(sim)
    _, sink = watch(sim)
    sink.wait_state("synced")
    mark = sink.mark()
    sim.delete(CORE, "Service", "ratings", "shop")
    changes = wait_for(lambda: sink.service_changes(mark), what="the removal")
    assert changes == [ServiceChange("c1", RATINGS, None)]
    assert set(sink.services()) == {REVIEWS}


def test_node_label_change_recomputes_services_on_that_node(make_sim, watch):
    sim = make_sim()
    seed_shop(sim)
    _, sink = watch(sim)
    sink.wait_state("synced")
    mark = sink.mark()
    sim.apply(node("n1", "eu-west", "eu-west-1z"))  # only reviews has endpoints on n1
    changes = wait_for(lambda: sink.service_changes(mark), what="the relocated endpoints")
    assert [c.key for c in changes] == [REVIEWS]
    assert dict(changes[0].service.endpoints)[Locality("eu-west", "eu-west-1z")] == 2


def test_gateway_and_network_changes_update_cluster_info(make_sim, watch):
    sim = make_sim()
    sim.apply(namespace("istio-system"))
    sim.apply(namespace("edge"))
    sim.apply(node("n1", "ap-south", "ap-south-1a"))
    _, sink = watch(sim)
    sink.wait_state("synced")
    assert sink.info().network == "" and sink.info().gateways == ()
    mark = sink.mark()
    # A gateway outside istio-system, with externalIPs only: its addresses, never a federated service.
    sim.apply(gateway_service("edge", "ew", external_ips=["198.51.100.7"]))
    wait_for(lambda: sink.info().gateways == ("198.51.100.7",), what="the gateway address")
    sim.apply(namespace("istio-system", {"topology.istio.io/network": "net-z"}))
    wait_for(lambda: sink.info().network == "net-z", what="the network label")
    assert not sink.service_changes(mark)
    assert sink.info().region == "ap-south"


def test_explicit_network_and_region_win(make_sim, watch):
    sim = make_sim()
    seed_shop(sim)
    _, sink = watch(sim, fast_settings(network="net-explicit", region="mars"))
    sink.wait_state("synced")
    assert (sink.info().network, sink.info().region) == ("net-explicit", "mars")
    # endpoints without a node fall back to the explicit region
    assert Locality("mars", "eu-west-1c") in dict(sink.services()[REVIEWS].endpoints)


def test_export_mode_namespace_label(make_sim, watch):
    sim = make_sim()
    sim.apply(namespace("shop", {"federation.mesh/export": "true"}))
    sim.apply(namespace("other"))
    sim.apply(service("shop", "reviews"))
    sim.apply(service("other", "billing"))
    sim.apply(service("other", "opted-in", labels={"federation.mesh/export": "true"}))
    _, sink = watch(sim, fast_settings(export_mode="namespace-label"))
    sink.wait_state("synced")
    assert set(sink.services()) == {REVIEWS, ServiceKey("other", "opted-in")}
    mark = sink.mark()
    sim.apply(namespace("other", {"federation.mesh/export": "true"}))
    changes = wait_for(lambda: sink.service_changes(mark), what="the namespace's services")
    assert [c.key for c in changes] == [ServiceKey("other", "billing")]
    mark = sink.mark()
    sim.apply(namespace("shop"))  # label removed: its services leave the federation
    changes = wait_for(lambda: sink.service_changes(mark), what="the withdrawal")
    assert changes == [ServiceChange("c1", REVIEWS, None)]


def test_export_mode_service_export(make_sim, watch):
    sim = make_sim()
    sim.apply(namespace("shop"))
    sim.apply(service("shop", "reviews"))
    sim.apply(service("shop", "ratings"))
    sim.apply(service_export("shop", "reviews"))
    _, sink = watch(sim, fast_settings(export_mode="service-export"))
    sink.wait_state("synced")
    assert set(sink.services()) == {REVIEWS}
    mark = sink.mark()
    sim.apply(service_export("shop", "ratings"))
    wait_for(lambda: sink.service_changes(mark, RATINGS), what="the exported ratings")
    mark = sink.mark()
    sim.delete(MCS, "ServiceExport", "reviews", "shop")
    changes = wait_for(lambda: sink.service_changes(mark), what="the unexported reviews")
    assert changes == [ServiceChange("c1", REVIEWS, None)]


def test_export_mode_all_skips_system_namespaces_and_opt_outs(make_sim, watch):
    sim = make_sim()
    sim.apply(namespace("shop"))
    sim.apply(namespace("istio-system"))
    sim.apply(service("kube-system", "kube-dns"))
    sim.apply(service("istio-system", "istiod"))
    sim.apply(service("shop", "reviews"))
    sim.apply(service("shop", "private", labels={"federation.mesh/export": "false"}))
    _, sink = watch(sim)
    sink.wait_state("synced")
    assert set(sink.services()) == {REVIEWS}


def test_user_owned_destination_rule_yields_user_rules_change(make_sim, watch):
    sim = make_sim()
    seed_shop(sim)
    sim.apply(destination_rule("shop", "mine", "reviews"))
    sim.apply(destination_rule("shop", "hubs", "ratings.shop.svc.cluster.local", owned_by_hub=True))
    _, sink = watch(sim)
    sink.wait_state("synced")
    assert sink.rules_changes() == [UserRulesChange("c1", frozenset({"reviews.shop.svc.cluster.local"}))]
    mark = sink.mark()
    sim.apply(destination_rule("default", "theirs", "ratings.shop.svc.cluster.local"))
    changes = wait_for(lambda: sink.rules_changes(mark), what="the second user rule")
    assert changes == [UserRulesChange("c1", frozenset({
        "reviews.shop.svc.cluster.local", "ratings.shop.svc.cluster.local"}))]
    assert not [c for c in sink.changes(mark) if not isinstance(c, UserRulesChange)]


def test_user_owned_virtual_services_yield_their_hosts_as_user_routes(make_sim, watch):
    sim = make_sim()
    seed_shop(sim)
    sim.apply(virtual_service("shop", "mine", "reviews", "details.shop.svc.cluster.local"))
    sim.apply(virtual_service("shop", "hubs", "ratings", owned_by_hub=True))  # the hub's own: not counted
    _, sink = watch(sim)
    sink.wait_state("synced")
    assert sink.rules_changes() == [UserRulesChange(
        "c1", frozenset(), frozenset({"reviews.shop.svc.cluster.local", "details.shop.svc.cluster.local"}))]
    mark = sink.mark()
    sim.delete(ISTIO, "VirtualService", "mine", "shop")
    changes = wait_for(lambda: sink.rules_changes(mark), what="the user route gone")
    assert changes == [UserRulesChange("c1", frozenset(), frozenset())]


def test_endpoint_slices_of_one_service_are_summed_and_deduplicated(make_sim, watch):
    sim = make_sim()
    seed_shop(sim)
    _, sink = watch(sim)
    sink.wait_state("synced")
    mark = sink.mark()
    # a second slice with one new pod and one pod already counted (dual-stack style)
    sim.apply(endpoint_slice("shop", "ratings-def", "ratings", [
        endpoint("10.0.1.9", "n3", pod="ratings-9"), endpoint("10.0.1.1", "n2")]))
    changes = wait_for(lambda: sink.service_changes(mark), what="the second slice")
    assert changes[-1].service.ready == 2
    mark = sink.mark()
    sim.delete(DISCOVERY, "EndpointSlice", "ratings-def", "shop")
    changes = wait_for(lambda: sink.service_changes(mark), what="the slice removal")
    assert changes[-1].service.ready == 1


def test_cluster_info_is_first_in_the_initial_change_set(make_sim, watch):
    sim = make_sim()
    seed_shop(sim)
    _, sink = watch(sim)
    sink.wait_state("synced")
    changes = sink.since()[0].changes
    assert isinstance(changes[0], ClusterChange)
    assert all(isinstance(c, (ServiceChange, UserRulesChange)) for c in changes[1:])


def test_a_cluster_seeded_by_the_workload_generator(make_sim, watch):
    from kubesim import workloads

    sim = make_sim("seeded")
    seeded = workloads.seed_cluster(sim, "net-s", "eu", ["eu-a", "eu-b"], 3, namespace_name="apps",
                                    endpoints_per_service=4, gateway_address="172.18.0.10")
    _, sink = watch(sim)
    sink.wait_state("synced")
    info = sink.info()
    assert info == ClusterInfo("seeded", "net-s", "eu", ("172.18.0.10",), 15443, False,
                               namespaces=info.namespaces)
    assert {"apps", "istio-system"} <= info.namespaces
    services = sink.services()
    assert set(services) == {ServiceKey("apps", name.split("/")[1]) for name in seeded.services}
    for service_ in services.values():
        assert dict(service_.endpoints) == {Locality("eu", "eu-a"): 2, Locality("eu", "eu-b"): 2}


def test_service_account_learned_from_the_ready_pods(make_sim, watch):
    sim = make_sim()
    sim.apply(namespace("istio-system", {"topology.istio.io/network": "net-a"}))
    sim.apply(namespace("shop"))
    sim.apply(service("shop", "ratings"))
    for name, account in (("r1", "ratings"), ("r2", "ratings"), ("r3", "legacy")):
        sim.apply({"apiVersion": CORE, "kind": "Pod", "metadata": {"name": name, "namespace": "shop"},
                   "spec": {"serviceAccountName": account, "containers": [{"name": "c", "image": "i"}]}})
    sim.apply(endpoint_slice("shop", "ratings-abc", "ratings", [
        endpoint("10.0.1.1", pod="r1"), endpoint("10.0.1.2", pod="r2"), endpoint("10.0.1.3", pod="r3")]))
    _, sink = watch(sim)
    sink.wait_state("synced")
    assert sink.services()[RATINGS].service_account == "ratings"
    # the pods change: the service follows
    for name in ("r1", "r2"):
        sim.delete(CORE, "Pod", name, namespace="shop")
    wait_for(lambda: sink.services()[RATINGS].service_account == "legacy", what="account from r3")


def test_objects_the_hub_wrote_are_not_read_back_as_the_members(make_sim, watch):
    sim = make_sim()
    owned = {"app.kubernetes.io/managed-by": "mesh-federation"}
    sim.apply(namespace("istio-system", {"topology.istio.io/network": "net-a"}))
    sim.apply(namespace("imported", owned))
    sim.apply(service("imported", "reviews", labels=owned), manager="mesh-federation")
    sim.apply(namespace("shop"))
    sim.apply(service("shop", "ratings"))
    _, sink = watch(sim)
    sink.wait_state("synced")
    assert set(sink.services()) == {RATINGS}
    assert "imported" not in sink.info().namespaces and "shop" in sink.info().namespaces
    # a user rolls reviews out here, applying their Service over the hub's stub: now it is theirs
    sim.apply(service("imported", "reviews", labels=owned), manager="kubectl-client-side-apply")
    wait_for(lambda: ServiceKey("imported", "reviews") in sink.services(), what="the taken-over stub")


def test_headless_service_is_marked(make_sim, watch):
    sim = make_sim()
    sim.apply(namespace("shop"))
    headless = service("shop", "ratings")
    headless["spec"]["clusterIP"] = "None"
    sim.apply(headless)
    _, sink = watch(sim)
    sink.wait_state("synced")
    assert sink.services()[RATINGS].headless


def test_a_gateway_publishing_only_a_hostname_is_resolved(make_sim, watch):
    sim = make_sim()
    sim.apply(namespace("istio-system", {"topology.istio.io/network": "net-a"}))
    gateway = sim.apply(gateway_service())
    sim.store.set_status(CORE, "Service", gateway["metadata"]["name"], {"loadBalancer": {"ingress": [
        {"hostname": "lb.example.test"}]}}, namespace="istio-system")
    asked = []
    _, sink = watch(sim, resolve=lambda host: asked.append(host) or ["198.51.100.7", "198.51.100.6"])
    sink.wait_state("synced")
    info = sink.info()
    assert info.gateways == ("lb.example.test",)
    assert info.resolved == ("198.51.100.6", "198.51.100.7")
    assert asked == ["lb.example.test"]


def test_the_clusters_own_api_server_service_is_never_federated(make_sim, watch):
    sim = make_sim()
    sim.apply(namespace("default"))
    sim.apply(service("default", "kubernetes"))
    sim.apply(endpoint_slice("default", "kubernetes", "kubernetes", [endpoint("10.0.9.1")]))
    sim.apply(service("default", "web"))
    _, sink = watch(sim)
    sink.wait_state("synced")
    assert set(sink.services()) == {ServiceKey("default", "web")}


def test_the_caches_keep_identities_not_objects(make_sim, watch):
    """What the reflectors cache between events is each object's identity, version and labels
    (a Pod's service account too): no specs, and no managedFields, which are most of a stub."""
    sim = make_sim()
    seed_shop(sim)
    owned = {"app.kubernetes.io/managed-by": "mesh-federation"}
    sim.apply(service("shop", "details", labels=owned), manager="mesh-federation")
    watcher, sink = watch(sim)
    sink.wait_state("synced")
    cached = [obj for reflector in watcher.reflectors.values() for obj in reflector.cache.values()]
    assert len(cached) >= 10
    for obj in cached:
        if isinstance(obj, Kept):  # a version and labels only
            continue
        assert set(obj) <= {"metadata", "spec"} and "managedFields" not in obj["metadata"], obj
        assert set(obj.get("spec", {})) <= {"serviceAccountName"}, obj
    assert sum(isinstance(obj, Kept) for obj in cached) >= 5
    kept = watcher.index.services[REVIEWS]
    assert "managedFields" not in kept["metadata"] and kept["spec"]["ports"][0]["port"] == 9080
    assert REVIEWS in sink.services() and ServiceKey("shop", "details") not in sink.services()
