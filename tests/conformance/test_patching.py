"""JSON merge patches, JSON patches and strategic merge patches (built-in kinds only)."""

from __future__ import annotations

from tests.conformance.support import (
    JSON_PATCH, MERGE, STRATEGIC, call, cm_path, config_map, rv_of, we_path, workload_entry,
)


def test_merge_patch_merges_maps_and_null_deletes(client, ns):
    call(client, "POST", cm_path(ns), config_map("m", ns, labels={"keep": "1", "drop": "1"}, a="1", b="1")).ok()
    patched = call(client, "PATCH", cm_path(ns, "m"),
                   {"metadata": {"labels": {"drop": None, "new": "2"}}, "data": {"a": None, "b": "2", "c": "3"}},
                   content_type=MERGE).ok()
    assert patched["data"] == {"b": "2", "c": "3"}
    assert patched["metadata"]["labels"] == {"keep": "1", "new": "2"}


def test_merge_patch_into_a_custom_resources_map(client, ns):
    call(client, "POST", we_path(ns), workload_entry("l", ns, ports={"http": 80, "grpc": 90})).ok()
    patched = call(client, "PATCH", we_path(ns, "l"), {"spec": {"ports": {"http": None, "tcp": 91}}},
                   content_type=MERGE).ok()
    assert patched["spec"]["ports"] == {"grpc": 90, "tcp": 91}


def test_json_patch_operations(client, ns):
    call(client, "POST", cm_path(ns), config_map("j", ns, labels={"a": "1"}, x="1", y="1")).ok()
    ops = [{"op": "add", "path": "/metadata/labels/app.kubernetes.io~1name", "value": "reviews"},
           {"op": "replace", "path": "/data/x", "value": "2"},
           {"op": "remove", "path": "/data/y"},
           {"op": "test", "path": "/metadata/labels/a", "value": "1"}]
    patched = call(client, "PATCH", cm_path(ns, "j"), ops, content_type=JSON_PATCH).ok()
    assert patched["metadata"]["labels"] == {"a": "1", "app.kubernetes.io/name": "reviews"}
    assert patched["data"] == {"x": "2"}


def test_failed_json_patch_test_changes_nothing(client, ns):
    before = call(client, "POST", cm_path(ns), config_map("t", ns, x="1")).ok()
    ops = [{"op": "replace", "path": "/data/x", "value": "2"}, {"op": "test", "path": "/data/x", "value": "1"}]
    resp = call(client, "PATCH", cm_path(ns, "t"), ops, content_type=JSON_PATCH)
    assert resp.status == 422 and resp.reason == "Invalid", resp.body
    after = call(client, "GET", cm_path(ns, "t")).ok()
    assert after["data"] == {"x": "1"} and rv_of(after) == rv_of(before)


def test_json_patch_removing_a_missing_path_is_rejected(client, ns):
    call(client, "POST", cm_path(ns), config_map("r", ns, x="1")).ok()
    resp = call(client, "PATCH", cm_path(ns, "r"), [{"op": "remove", "path": "/data/nothere"}],
                content_type=JSON_PATCH)
    assert resp.status == 422 and resp.reason == "Invalid", resp.body


def test_strategic_merge_patch_on_built_ins_but_415_on_custom_kinds(client, ns):
    call(client, "POST", cm_path(ns), config_map("s", ns, x="1")).ok()
    patched = call(client, "PATCH", cm_path(ns, "s"), {"data": {"y": "2"}}, content_type=STRATEGIC).ok()
    assert patched["data"] == {"x": "1", "y": "2"}
    call(client, "POST", we_path(ns), workload_entry("s", ns)).ok()
    refused = call(client, "PATCH", we_path(ns, "s"), {"spec": {"weight": 2}}, content_type=STRATEGIC)
    assert refused.status == 415 and refused.reason == "UnsupportedMediaType"


def test_patch_with_a_stale_resource_version_is_409(client, ns):
    obj = call(client, "POST", cm_path(ns), config_map("p", ns, x="1")).ok()
    call(client, "PATCH", cm_path(ns, "p"), {"data": {"x": "2"}}, content_type=MERGE).ok()
    stale = call(client, "PATCH", cm_path(ns, "p"),
                 {"metadata": {"resourceVersion": obj["metadata"]["resourceVersion"]}, "data": {"x": "3"}},
                 content_type=MERGE)
    assert stale.status == 409 and stale.reason == "Conflict"


def test_patch_of_a_missing_object_is_404(client, ns):
    resp = call(client, "PATCH", cm_path(ns, "absent"), {"data": {"x": "1"}}, content_type=MERGE)
    assert resp.status == 404 and resp.reason == "NotFound"
