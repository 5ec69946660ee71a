"""The index of one cluster's objects, fed events directly (no cluster, no threads)."""

from __future__ import annotations

from federation.model.ids import MANAGED_BY, MANAGED_BY_LABEL, Locality, ServiceKey
from federation.sources.indexing import ClusterIndex
from federation.sources.reflecting import ReflectorEvent
from federation.sources.settings import SourceSettings

REVIEWS = ServiceKey("shop", "reviews")
RATINGS = ServiceKey("shop", "ratings")


def _event(obj: dict, kind: str = "ADDED") -> ReflectorEvent:
    return ReflectorEvent(kind, obj, observed_at=1.0)


def _service(name: str) -> dict:
    return {"metadata": {"name": name, "namespace": "shop"},
            "spec": {"ports": [{"name": "http", "port": 9080, "protocol": "TCP"}], "selector": {"app": name}}}


def _slice(service: str, node: str, ready: int, not_ready: int = 0) -> dict:
    endpoints = [{"addresses": [f"10.0.0.{i}"], "conditions": {"ready": i < ready}, "nodeName": node}
                 for i in range(ready + not_ready)]
    return {"metadata": {"name": f"{service}-1", "namespace": "shop",
                         "labels": {"kubernetes.io/service-name": service}}, "endpoints": endpoints}


def _node(name: str, zone: str) -> dict:
    return {"metadata": {"name": name, "labels": {"topology.kubernetes.io/region": "eu",
                                                  "topology.kubernetes.io/zone": zone}}}


def _index() -> ClusterIndex:
    return ClusterIndex("c1", SourceSettings(), resolve=lambda host: [])


def test_an_endpoint_slice_marks_its_service_and_counts_ready_endpoints_by_the_nodes_locality():
    index = _index()
    index.node_event(_event(_node("n1", "eu-1a")))
    index.service_event(_event(_service("reviews")))
    index.service_event(_event(_service("ratings")))
    index.take_pending()
    index.slice_event(_event(_slice("reviews", "n1", ready=2, not_ready=1)))
    assert index.take_pending().services == {REVIEWS}
    service = index.cluster_service(REVIEWS)
    assert service.endpoints == ((Locality("eu", "eu-1a", ""), 2),)
    assert index.cluster_service(RATINGS).endpoints == ()


def test_a_node_marks_only_the_services_with_endpoints_on_it():
    index = _index()
    for name in ("n1", "n2"):
        index.node_event(_event(_node(name, "eu-1a")))
    index.service_event(_event(_service("reviews")))
    index.service_event(_event(_service("ratings")))
    index.slice_event(_event(_slice("reviews", "n1", ready=1)))
    index.slice_event(_event(_slice("ratings", "n2", ready=1)))
    index.take_pending()
    index.node_event(_event(_node("n1", "eu-1b"), "MODIFIED"))
    assert index.take_pending().services == {REVIEWS}
    assert index.cluster_service(REVIEWS).endpoints == ((Locality("eu", "eu-1b", ""), 1),)


def test_a_hub_written_stub_is_not_the_members_service():
    index = _index()
    stub = _service("reviews")
    stub["metadata"]["labels"] = {MANAGED_BY_LABEL: MANAGED_BY}
    index.service_event(_event(stub))
    assert REVIEWS not in index.services
    assert index.cluster_service(REVIEWS) is None
    assert index.take_pending().services == {REVIEWS}  # what it replaced, if anything, is derived again


def test_user_rule_hosts_and_the_pending_mark():
    index = _index()
    rule = {"metadata": {"name": "r", "namespace": "shop"}, "spec": {"host": "reviews.shop.svc.cluster.local"}}
    index.rule_event(_event(rule))
    pending = index.take_pending()
    assert pending.rules and not index.pending.rules
    assert index.user_hosts() == (frozenset({"reviews.shop.svc.cluster.local"}), frozenset())
    index.rule_event(_event(rule, "DELETED"))
    assert index.user_hosts() == (frozenset(), frozenset())
