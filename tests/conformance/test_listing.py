"""Lists and plain writes: resourceVersion semantics, pagination, selectors, basic error codes."""

from __future__ import annotations

import pytest

from tests.conformance.support import call, cm_path, config_map, rv_of, we_path, workload_entry


def _names(listing: dict) -> list[str]:
    return [item["metadata"]["name"] for item in listing["items"]]


def test_list_carries_a_resource_version_at_least_every_item_and_write(client, ns):
    created = [call(client, "POST", cm_path(ns), config_map(f"cm-{i}", ns, x=str(i))).ok() for i in range(3)]
    listing = call(client, "GET", cm_path(ns)).ok()
    assert listing["kind"] == "ConfigMapList" and listing["apiVersion"] == "v1"
    list_rv = int(listing["metadata"]["resourceVersion"])
    assert list_rv >= max(rv_of(obj) for obj in created)
    assert all(rv_of(item) <= list_rv for item in listing["items"])
    assert _names(listing) == ["cm-0", "cm-1", "cm-2"]
    # A write gets a larger resourceVersion than any list before it.
    changed = call(client, "PUT", cm_path(ns, "cm-0"), {**listing["items"][0], "data": {"x": "changed"}}).ok()
    assert rv_of(changed) > list_rv
    assert int(call(client, "GET", cm_path(ns)).ok()["metadata"]["resourceVersion"]) >= rv_of(changed)


def test_list_at_an_exact_resource_version_shows_the_state_then(client, ns):
    call(client, "POST", cm_path(ns), config_map("a", ns, v="1")).ok()
    then = call(client, "GET", cm_path(ns)).ok()["metadata"]["resourceVersion"]
    call(client, "POST", cm_path(ns), {**config_map("b", ns), "metadata": {"name": "b", "labels": {}}}).ok()
    call(client, "PATCH", cm_path(ns, "a"), {"data": {"v": "2"}}, content_type="application/merge-patch+json").ok()
    past = call(client, "GET", cm_path(ns), resourceVersion=then, resourceVersionMatch="Exact").ok()
    assert past["metadata"]["resourceVersion"] == then
    assert [(i["metadata"]["name"], i["data"]) for i in past["items"]] == [("a", {"v": "1"})]
    now = call(client, "GET", cm_path(ns)).ok()
    # Empty maps of typed fields are not stored: "b" has no data, no labels.
    assert [(i["metadata"]["name"], i.get("data")) for i in now["items"]] == [("a", {"v": "2"}), ("b", None)]
    assert "labels" not in now["items"][1]["metadata"]


def test_unchanged_put_keeps_the_resource_version(client, ns):
    obj = call(client, "POST", cm_path(ns), config_map("same", ns, x="1")).ok()
    again = call(client, "PUT", cm_path(ns, "same"), obj).ok()
    assert rv_of(again) == rv_of(obj)


def test_paginated_list_keeps_the_first_pages_resource_version(client, ns):
    for i in range(5):
        call(client, "POST", cm_path(ns), config_map(f"page-{i}", ns)).ok()
    first = call(client, "GET", cm_path(ns), limit=2).ok()
    assert len(first["items"]) == 2 and first["metadata"]["continue"]
    call(client, "POST", cm_path(ns), config_map("page-9", ns)).ok()  # after the first page: not in this list
    seen = _names(first)
    token = first["metadata"]["continue"]
    for _ in range(5):
        page = call(client, "GET", cm_path(ns), limit=2, **{"continue": token}).ok()
        assert page["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]
        seen += _names(page)
        token = page["metadata"].get("continue")
        if not token:
            break
    assert seen == [f"page-{i}" for i in range(5)]


@pytest.mark.parametrize("selector, expected", [
    ("app=reviews", ["a", "b"]),
    ("app==reviews", ["a", "b"]),
    ("app!=reviews", ["c", "d"]),  # includes the object without the label
    ("app in (reviews,details)", ["a", "b", "c"]),
    ("app notin (reviews)", ["c", "d"]),
    ("app", ["a", "b", "c"]),
    ("!app", ["d"]),
    ("app=reviews,tier=db", ["b"]),
    ("tier=db,app in (reviews, details)", ["b"]),
])
def test_label_selectors(client, ns, selector, expected):
    labels = {"a": {"app": "reviews"}, "b": {"app": "reviews", "tier": "db"}, "c": {"app": "details"}, "d": {}}
    for name, lbls in labels.items():
        call(client, "POST", we_path(ns), workload_entry(name, ns, labels=lbls)).ok()
    assert _names(call(client, "GET", we_path(ns), labelSelector=selector).ok()) == expected


def test_field_selectors_on_name_and_namespace(client, ns):
    for name in ("one", "two", "three"):
        call(client, "POST", we_path(ns), workload_entry(name, ns)).ok()
    assert _names(call(client, "GET", we_path(ns), fieldSelector="metadata.name=two").ok()) == ["two"]
    assert _names(call(client, "GET", we_path(ns), fieldSelector="metadata.name!=two").ok()) == ["one", "three"]
    across = call(client, "GET", "/apis/networking.istio.io/v1/workloadentries",
                  fieldSelector=f"metadata.namespace={ns},metadata.name=three").ok()
    assert [(i["metadata"]["namespace"], i["metadata"]["name"]) for i in across["items"]] == [(ns, "three")]
    assert _names(call(client, "GET", cm_path(ns), fieldSelector="metadata.name=nothing").ok()) == []


def test_bad_selectors_are_400(client, ns):
    bad_label = call(client, "GET", we_path(ns), labelSelector="app in (a")
    assert bad_label.status == 400 and bad_label.reason == "BadRequest"
    unsupported = call(client, "GET", we_path(ns), fieldSelector="spec.address=10.0.0.1")
    assert unsupported.status == 400 and "spec.address" in unsupported.message


def test_create_twice_is_409_already_exists(client, ns):
    call(client, "POST", cm_path(ns), config_map("dup", ns)).ok()
    again = call(client, "POST", cm_path(ns), config_map("dup", ns))
    assert again.status == 409 and again.reason == "AlreadyExists"
    assert again.body["details"] == {"name": "dup", "kind": "configmaps"}


def test_put_with_a_stale_resource_version_is_409(client, ns):
    obj = call(client, "POST", cm_path(ns), config_map("stale", ns, x="1")).ok()
    call(client, "PUT", cm_path(ns, "stale"), {**obj, "data": {"x": "2"}}).ok()
    stale = call(client, "PUT", cm_path(ns, "stale"), {**obj, "data": {"x": "3"}})
    assert stale.status == 409 and stale.reason == "Conflict"
    assert "the object has been modified" in stale.message


def test_get_missing_is_404_naming_the_object(client, ns):
    missing = call(client, "GET", we_path(ns, "ghost"))
    assert missing.status == 404 and missing.reason == "NotFound"
    assert missing.message == 'workloadentries.networking.istio.io "ghost" not found'
    assert missing.body["details"] == {"name": "ghost", "group": "networking.istio.io", "kind": "workloadentries"}


def test_create_in_a_missing_namespace_is_404(client):
    resp = call(client, "POST", cm_path("no-such-namespace"), config_map("x", "no-such-namespace"))
    assert resp.status == 404 and resp.reason == "NotFound"
    assert resp.message == 'namespaces "no-such-namespace" not found'
