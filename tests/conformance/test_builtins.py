"""Built-in kinds the hub reads and writes: Services (defaults, cluster IPs, port rules) and EndpointSlices."""

from __future__ import annotations

import pytest

from tests.conformance.support import APPLY, call

SLICE_LABEL = "kubernetes.io/service-name"
ATOMIC_LISTS = "server-side apply in the simulator treats every list as atomic; see kubesim"


def _svc_path(ns: str, name: str | None = None) -> str:
    return f"/api/v1/namespaces/{ns}/services" + (f"/{name}" if name else "")


def _slice_path(ns: str, name: str | None = None) -> str:
    return f"/apis/discovery.k8s.io/v1/namespaces/{ns}/endpointslices" + (f"/{name}" if name else "")


def _service(name: str, ns: str, *ports: dict) -> dict:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": ns},
            "spec": {"selector": {"app": name}, "ports": list(ports)}}


def test_service_defaults_and_a_kept_cluster_ip(client, ns):
    created = call(client, "POST", _svc_path(ns), _service("reviews", ns, {"name": "http", "port": 9080})).ok()
    spec = created["spec"]
    assert spec["type"] == "ClusterIP" and spec["sessionAffinity"] == "None"
    assert spec["clusterIPs"] == [spec["clusterIP"]] and spec["ipFamilies"] == ["IPv4"]
    assert spec["ports"] == [{"name": "http", "protocol": "TCP", "port": 9080, "targetPort": 9080}]
    # An apply by another manager that leaves the cluster IP out keeps it.
    applied = call(client, "PATCH", _svc_path(ns, "reviews"), _service("reviews", ns, {"name": "http", "port": 9080}),
                   content_type=APPLY, fieldManager="hub").ok()
    assert applied["spec"]["clusterIP"] == spec["clusterIP"]
    assert applied["spec"]["ports"] == spec["ports"]


def test_apply_merges_associative_lists_by_key(api, client, ns):
    if api.is_sim:
        pytest.skip(ATOMIC_LISTS)
    call(client, "POST", _svc_path(ns), _service("ratings", ns, {"name": "http", "port": 9080})).ok()
    applied = call(client, "PATCH", _svc_path(ns, "ratings"),
                   _service("ratings", ns, {"name": "http", "port": 9080}, {"name": "grpc", "port": 9090}),
                   content_type=APPLY, fieldManager="hub").ok()
    assert [p["name"] for p in applied["spec"]["ports"]] == ["http", "grpc"]


def test_service_port_rules(client, ns):
    unnamed = call(client, "POST", _svc_path(ns), _service("two", ns, {"port": 80}, {"port": 81}))
    assert unnamed.status == 422 and "spec.ports[0].name" in unnamed.message
    out_of_range = call(client, "POST", _svc_path(ns), _service("big", ns, {"name": "x", "port": 70000}))
    assert out_of_range.status == 422 and "spec.ports[0].port" in out_of_range.message


def test_endpoint_slices_by_service_label(client, ns):
    def slice_of(name: str, service: str, ready: bool) -> dict:
        return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                "metadata": {"name": name, "namespace": ns, "labels": {SLICE_LABEL: service}},
                "addressType": "IPv4", "ports": [{"name": "http", "port": 9080, "protocol": "TCP"}],
                "endpoints": [{"addresses": ["10.1.0.5"], "conditions": {"ready": ready}, "zone": "zone-a"}]}

    for name, service, ready in (("reviews-a", "reviews", True), ("reviews-b", "reviews", False),
                                 ("details-a", "details", True)):
        call(client, "POST", _slice_path(ns), slice_of(name, service, ready)).ok()
    listed = call(client, "GET", _slice_path(ns), labelSelector=f"{SLICE_LABEL}=reviews").ok()
    assert [(s["metadata"]["name"], s["endpoints"][0]["conditions"]["ready"]) for s in listed["items"]] == [
        ("reviews-a", True), ("reviews-b", False)]
    assert listed["items"][0]["endpoints"][0]["zone"] == "zone-a"
    bad = slice_of("bad", "x", True)
    del bad["addressType"]
    resp = call(client, "POST", _slice_path(ns), bad)
    assert resp.status == 422 and "addressType" in resp.message
