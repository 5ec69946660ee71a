"""A simulated cluster through the official kubernetes client and raw HTTPS."""

from __future__ import annotations

import json

import kubernetes
import pytest
import urllib3
import yaml
from kubernetes import client, watch

from kubesim import SimCluster
from kubesim.certs import SimCA

from .helpers import http_request

ISTIO = ("networking.istio.io", "v1")


def workload_entry(name: str, address: str = "10.0.0.1", **spec) -> dict:
    return {"apiVersion": "networking.istio.io/v1", "kind": "WorkloadEntry",
            "metadata": {"name": name, "namespace": "default"}, "spec": {"address": address, **spec}}


def config_map(name: str, labels: dict | None = None, **data) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": "default", "labels": labels or {}}, "data": data}


def watch_events(list_func, *args, **kwargs) -> list[tuple[str, str]]:
    """(type, name) of every non-bookmark event of a watch that ends by its timeout."""
    events = []
    for event in watch.Watch().stream(list_func, *args, **kwargs):
        if event["type"] != "BOOKMARK":
            obj = event["raw_object"]
            events.append((event["type"], obj["metadata"]["name"]))
    return events


def test_list_namespaces_and_services(cluster, api_client):
    cluster.create({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "reviews", "namespace": "default"},
                    "spec": {"ports": [{"port": 9080}]}})
    core = client.CoreV1Api(api_client)
    assert {"default", "kube-system"} <= {n.metadata.name for n in core.list_namespace().items}
    services = core.list_namespaced_service("default")
    assert [s.metadata.name for s in services.items] == ["reviews"]
    assert services.metadata.resource_version == str(cluster.store.resource_version)
    assert core.list_service_for_all_namespaces().items[0].spec.cluster_ip.startswith("10.")


def test_discovery_documents(cluster):
    status, _, body = http_request(cluster, "GET", "/apis", headers={
        "Accept": "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json"})
    groups = {g["name"] for g in json.loads(body)["groups"]}
    assert status == 200 and {"networking.istio.io", "gateway.networking.k8s.io", "discovery.k8s.io",
                              "multicluster.x-k8s.io"} <= groups
    _, _, body = http_request(cluster, "GET", "/apis/networking.istio.io/v1")
    resources = {r["name"]: r for r in json.loads(body)["resources"]}
    assert resources["workloadentries"]["kind"] == "WorkloadEntry"
    assert resources["workloadentries"]["shortNames"] == ["we"]
    assert resources["workloadentries"]["singularName"] == "workloadentry"
    assert "watch" in resources["workloadentries"]["verbs"] and resources["workloadentries"]["namespaced"]
    _, _, body = http_request(cluster, "GET", "/api/v1")
    core = {r["name"]: r for r in json.loads(body)["resources"]}
    assert core["namespaces"]["namespaced"] is False and core["services"]["shortNames"] == ["svc"]
    assert http_request(cluster, "GET", "/version")[0] == 200
    assert http_request(cluster, "GET", "/openapi/v2")[0] == 404


def test_watch_resumed_from_a_resource_version_gets_exactly_the_missed_events(cluster, api_client):
    core = client.CoreV1Api(api_client)
    cluster.create(config_map("a", x="1"))
    resume_from = core.list_namespaced_config_map("default").metadata.resource_version
    cluster.create(config_map("b"))
    cluster.store.patch("v1", "ConfigMap", "a", {"data": {"x": "2"}}, namespace="default")
    cluster.delete("v1", "ConfigMap", "b", "default")
    elsewhere = config_map("elsewhere")
    elsewhere["metadata"]["namespace"] = "kube-system"
    cluster.create(elsewhere)  # another namespace: not part of this watch
    events = watch_events(core.list_namespaced_config_map, "default", resource_version=resume_from,
                          timeout_seconds=1)
    assert events == [("ADDED", "b"), ("MODIFIED", "a"), ("DELETED", "b")]


def test_watch_without_resource_version_starts_with_the_current_objects(cluster, api_client):
    cluster.create(config_map("a"))
    events = watch_events(client.CoreV1Api(api_client).list_namespaced_config_map, "default", timeout_seconds=1)
    assert events == [("ADDED", "a")]


def test_watch_from_an_expired_resource_version_gets_410(cluster, api_client):
    core = client.CoreV1Api(api_client)
    cluster.create(config_map("a"))
    old = core.list_namespaced_config_map("default").metadata.resource_version
    cluster.create(config_map("b"))
    cluster.compact()
    with pytest.raises(client.ApiException) as info:
        watch_events(core.list_namespaced_config_map, "default", resource_version=old, timeout_seconds=1)
    assert info.value.status == 410


def test_watch_bookmarks_carry_the_current_resource_version(cluster, api_client):
    cluster.create(config_map("a"))
    bookmarks = [e["raw_object"]["metadata"]["resourceVersion"] for e in watch.Watch().stream(
        client.CoreV1Api(api_client).list_namespaced_config_map, "default",
        resource_version=str(cluster.store.resource_version), allow_watch_bookmarks=True, timeout_seconds=1)
        if e["type"] == "BOOKMARK"]
    assert bookmarks and set(bookmarks) == {str(cluster.store.resource_version)}


def test_watch_label_selector_turns_relabelling_into_added_and_deleted(cluster, api_client):
    start = str(cluster.store.resource_version)
    cluster.create(config_map("a", {"app": "x"}))
    cluster.store.patch("v1", "ConfigMap", "a", {"metadata": {"labels": {"app": "y"}}}, namespace="default")
    cluster.store.patch("v1", "ConfigMap", "a", {"metadata": {"labels": {"app": "x"}}}, namespace="default")
    cluster.create(config_map("b", {"app": "y"}))
    events = watch_events(client.CoreV1Api(api_client).list_namespaced_config_map, "default",
                          label_selector="app=x", resource_version=start, timeout_seconds=1)
    assert events == [("ADDED", "a"), ("DELETED", "a"), ("ADDED", "a")]


def test_pagination_with_limit_and_continue(cluster, api_client):
    for i in range(5):
        cluster.create(config_map(f"c{i}"))
    core = client.CoreV1Api(api_client)
    first = core.list_namespaced_config_map("default", limit=3)
    rest = core.list_namespaced_config_map("default", limit=3, _continue=first.metadata._continue)
    assert [c.metadata.name for c in first.items + rest.items] == [f"c{i}" for i in range(5)]
    assert not rest.metadata._continue


def test_invalid_workload_entry_is_422_naming_the_field_and_not_stored(cluster, api_client):
    custom = client.CustomObjectsApi(api_client)
    with pytest.raises(client.ApiException) as info:
        custom.create_namespaced_custom_object(*ISTIO, "default", "workloadentries",
                                               workload_entry("bad", weight=-1))
    status = json.loads(info.value.body)
    assert info.value.status == 422 and status["reason"] == "Invalid" and status["kind"] == "Status"
    assert "spec.weight" in status["message"]
    assert status["details"]["causes"][0]["field"] == "spec.weight"
    assert custom.list_namespaced_custom_object(*ISTIO, "default", "workloadentries")["items"] == []


def test_unknown_fields_are_pruned_with_a_warning_or_rejected_when_strict(cluster):
    path = "/apis/networking.istio.io/v1/namespaces/default/workloadentries"
    status, headers, body = http_request(cluster, "POST", path, workload_entry("w", colour="red"))
    assert status == 201 and "colour" not in json.loads(body)["spec"] and "spec.colour" in headers["warning"]
    status, _, body = http_request(cluster, "POST", path + "?fieldValidation=Strict",
                                   workload_entry("w2", colour="red"))
    assert status == 400 and 'unknown field "spec.colour"' in json.loads(body)["message"]


def test_unknown_kind_or_group_is_404(cluster, api_client):
    custom = client.CustomObjectsApi(api_client)
    for group, version, plural in [("networking.istio.io", "v1", "envoyfilters"),
                                   ("example.com", "v1", "widgets")]:
        with pytest.raises(client.ApiException) as info:
            custom.list_namespaced_custom_object(group, version, "default", plural)
        assert info.value.status == 404
    assert http_request(cluster, "GET", "/api/v1/deployments")[0] == 404


def test_bad_or_missing_token_is_401_with_a_status_saying_so(cluster, tmp_path):
    for token in ("not-the-token", ""):
        status, _, body = http_request(cluster, "GET", "/api/v1/namespaces", token=token)
        message = json.loads(body)
        assert status == 401 and message["reason"] == "Unauthorized" and "token" in message["message"]
    path = tmp_path / "bad-token.yaml"
    path.write_text(yaml.safe_dump(cluster.kubeconfig_dict(token="forged")))
    bad = kubernetes.config.new_client_from_config(config_file=str(path))
    try:
        with pytest.raises(client.ApiException) as info:
            client.CoreV1Api(bad).list_namespace()
        assert info.value.status == 401
    finally:
        bad.close()


def test_kubeconfig_is_valid_and_a_corrupted_one_fails_clearly(cluster, kubeconfig, tmp_path):
    good = kubernetes.config.new_client_from_config(config_file=str(kubeconfig))
    good.close()
    broken = tmp_path / "broken.yaml"
    broken.write_text("apiVersion: v1\nkind: Config\ncurrent-context: nowhere\n")
    with pytest.raises(kubernetes.config.ConfigException):
        kubernetes.config.new_client_from_config(config_file=str(broken))
    foreign_ca = tmp_path / "foreign-ca.yaml"  # a CA that did not sign the server certificate
    other = SimCluster("other", ca=SimCA(), token=cluster.token)
    other.port = cluster.port
    foreign_ca.write_text(yaml.safe_dump(other.kubeconfig_dict()))
    stranger = kubernetes.config.new_client_from_config(config_file=str(foreign_ca))
    stranger.configuration.retries = 0
    try:
        with pytest.raises(urllib3.exceptions.MaxRetryError) as info:
            client.CoreV1Api(stranger).list_namespace()
        assert isinstance(info.value.reason, urllib3.exceptions.SSLError)
    finally:
        stranger.close()


def test_server_side_apply_over_http(cluster, api_client):
    custom = client.CustomObjectsApi(api_client)

    def apply(body, manager, force=False):
        resp = custom.patch_namespaced_custom_object(
            *ISTIO, "default", "workloadentries", body["metadata"]["name"], body, field_manager=manager,
            force=force, _content_type="application/apply-patch+yaml", _preload_content=False)
        return resp.status, json.loads(resp.data)

    status, created = apply(workload_entry("w", "10.0.0.1"), "federation")
    assert status == 201 and created["spec"]["address"] == "10.0.0.1"
    status, same = apply(workload_entry("w", "10.0.0.1"), "federation")
    assert status == 200 and same["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
    status, updated = apply(workload_entry("w", "10.0.0.2"), "federation")
    assert updated["spec"]["address"] == "10.0.0.2" and updated["metadata"]["generation"] == 2
    with pytest.raises(client.ApiException) as info:
        apply(workload_entry("w", "10.0.0.3"), "someone-else")
    assert info.value.status == 409 and json.loads(info.value.body)["reason"] == "Conflict"
    status, forced = apply(workload_entry("w", "10.0.0.3"), "someone-else", force=True)
    assert status == 200 and forced["spec"]["address"] == "10.0.0.3"
    assert [m["manager"] for m in forced["metadata"]["managedFields"]] == ["someone-else"]
    status, _, body = http_request(cluster, "PATCH", "/apis/networking.istio.io/v1/namespaces/default/"
                                   "workloadentries/w", workload_entry("w"),
                                   headers={"Content-Type": "application/apply-patch+yaml"})
    assert status == 422 and "fieldManager: Required value" in json.loads(body)["message"]


def test_update_with_stale_resource_version_is_409(cluster, api_client):
    core = client.CoreV1Api(api_client)
    created = core.create_namespaced_config_map("default", client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name="a"), data={"x": "1"}))
    created.data = {"x": "2"}
    core.replace_namespaced_config_map("a", "default", created)
    created.data = {"x": "3"}
    with pytest.raises(client.ApiException) as info:
        core.replace_namespaced_config_map("a", "default", created)
    assert info.value.status == 409
    assert core.read_namespaced_config_map("a", "default").data == {"x": "2"}


def test_status_subresource_is_separate_from_the_main_resource(cluster, api_client):
    core = client.CoreV1Api(api_client)
    core.create_namespaced_service("default", {"metadata": {"name": "gw"}, "spec": {
        "type": "LoadBalancer", "ports": [{"port": 15443}]}, "status": {"loadBalancer": {"ingress": [{"ip": "1.1.1.1"}]}}})
    assert core.read_namespaced_service("gw", "default").status.load_balancer.ingress is None
    core.patch_namespaced_service_status("gw", "default", {"status": {"loadBalancer": {"ingress": [{"ip": "1.2.3.4"}]}}})
    assert core.read_namespaced_service("gw", "default").status.load_balancer.ingress[0].ip == "1.2.3.4"


def test_delete_returns_a_success_status(cluster, api_client):
    cluster.apply(workload_entry("w"))
    cluster.create(config_map("c"))
    deleted = client.CustomObjectsApi(api_client).delete_namespaced_custom_object(
        *ISTIO, "default", "workloadentries", "w")
    assert deleted["status"] == "Success" and deleted["details"]["name"] == "w"
    assert client.CoreV1Api(api_client).delete_namespaced_config_map("c", "default")["status"] == "Success"
    with pytest.raises(client.ApiException) as info:
        client.CoreV1Api(api_client).delete_namespaced_config_map("c", "default")
    assert info.value.status == 404


def test_answered_requests_are_recorded(cluster, api_client):
    cluster.clear_requests()
    client.CoreV1Api(api_client).list_namespace()
    with pytest.raises(client.ApiException):
        client.CoreV1Api(api_client).read_namespace("missing")
    assert [(r.method, r.path, r.code) for r in cluster.requests()] == [
        ("GET", "/api/v1/namespaces", 200), ("GET", "/api/v1/namespaces/missing", 404)]
