"""Discovery: what kubectl and the client read to find kinds (``/api``, ``/apis`` and group versions)."""

from __future__ import annotations

from tests.conformance.support import call


def _resources(client, path: str) -> dict:
    doc = call(client, "GET", path).ok()
    assert doc["kind"] == "APIResourceList"
    return {r["name"]: r for r in doc["resources"]}


def test_core_versions_and_resources(client):
    versions = call(client, "GET", "/api").ok()
    assert versions["kind"] == "APIVersions" and versions["versions"] == ["v1"]
    core = _resources(client, "/api/v1")
    assert core["namespaces"]["namespaced"] is False and core["namespaces"]["kind"] == "Namespace"
    assert core["services"]["namespaced"] is True and core["services"]["shortNames"] == ["svc"]
    assert {"create", "delete", "get", "list", "patch", "update", "watch"} <= set(core["services"]["verbs"])
    assert set(core["services/status"]["verbs"]) == {"get", "patch", "update"}
    assert "configmaps/status" not in core and "secrets/status" not in core


def test_group_list_names_the_served_groups_and_preferred_versions(client):
    groups = call(client, "GET", "/apis").ok()
    assert groups["kind"] == "APIGroupList"
    by_name = {g["name"]: g for g in groups["groups"]}
    for name, version in (("networking.istio.io", "v1"), ("discovery.k8s.io", "v1"),
                          ("gateway.networking.k8s.io", "v1"), ("multicluster.x-k8s.io", "v1alpha1")):
        assert name in by_name, f"{name} missing from /apis"
        assert {"groupVersion": f"{name}/{version}", "version": version} in by_name[name]["versions"]
    assert by_name["networking.istio.io"]["preferredVersion"] == {"groupVersion": "networking.istio.io/v1",
                                                                  "version": "v1"}
    group = call(client, "GET", "/apis/networking.istio.io").ok()
    assert group["kind"] == "APIGroup" and group["name"] == "networking.istio.io"


def test_custom_resources_from_their_crds(client):
    istio = _resources(client, "/apis/networking.istio.io/v1")
    entry = istio["workloadentries"]
    assert entry["kind"] == "WorkloadEntry" and entry["namespaced"] is True
    assert entry["shortNames"] == ["we"] and "istio-io" in entry["categories"]
    assert entry["singularName"] == "workloadentry"
    assert {"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"} <= set(entry["verbs"])
    assert "workloadentries/status" in istio
    assert {"serviceentries", "destinationrules", "gateways", "workloadgroups"} <= set(istio)
    gateway_api = _resources(client, "/apis/gateway.networking.k8s.io/v1")
    assert gateway_api["gatewayclasses"]["namespaced"] is False


def test_unknown_paths_are_404(client):
    assert call(client, "GET", "/apis/no.such.group/v1").status == 404
    assert call(client, "GET", "/api/v1/nosuchthings").status == 404
    assert call(client, "GET", "/apis/networking.istio.io/v1/namespaces/default/nosuchthings").status == 404
