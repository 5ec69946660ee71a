"""Server-side apply as the pusher uses it: ownership in managedFields, conflicts (409), force, no-op applies."""

from __future__ import annotations

from federation.kube.client import WORKLOAD_ENTRY, KubeClient
from tests.conformance.support import APPLY, MERGE, call, rv_of, we_path, workload_entry


def _apply(client, ns: str, obj: dict, manager: str, force: bool = False):
    query = {"fieldManager": manager}
    if force:
        query["force"] = "true"
    return call(client, "PATCH", we_path(ns, obj["metadata"]["name"]), obj, content_type=APPLY, **query)


def _owned(obj: dict) -> dict[str, dict]:
    return {(m["manager"], m["operation"]): m for m in obj["metadata"].get("managedFields", [])}


def test_apply_creates_and_records_the_appliers_fields(client, ns):
    resp = _apply(client, ns, workload_entry("we", ns, "10.0.0.1", labels={"app": "r"}, weight=3), "hub")
    assert resp.status == 201
    obj = resp.body
    assert obj["spec"] == {"address": "10.0.0.1", "weight": 3}
    entries = obj["metadata"]["managedFields"]
    assert [(m["manager"], m["operation"], m["fieldsType"], m["apiVersion"]) for m in entries] == [
        ("hub", "Apply", "FieldsV1", "networking.istio.io/v1")]
    fields = entries[0]["fieldsV1"]
    assert set(fields["f:spec"]) == {"f:address", "f:weight"}
    assert "f:app" in fields["f:metadata"]["f:labels"]
    assert entries[0]["time"].endswith("Z")


def test_reapplying_the_same_configuration_is_a_no_op(client, ns):
    first = _apply(client, ns, workload_entry("same", ns, weight=1), "hub").ok()
    again = _apply(client, ns, workload_entry("same", ns, weight=1), "hub")
    assert again.status == 200 and rv_of(again.body) == rv_of(first)
    assert again.body["metadata"]["managedFields"] == first["metadata"]["managedFields"]


def test_apply_of_anothers_field_conflicts_unless_forced(client, ns):
    _apply(client, ns, workload_entry("c", ns, "10.0.0.1", weight=1), "hub").ok()
    conflict = _apply(client, ns, workload_entry("c", ns, "10.9.9.9"), "intruder")
    assert conflict.status == 409 and conflict.reason == "Conflict"
    assert conflict.message == 'Apply failed with 1 conflict: conflict with "hub": .spec.address'
    assert conflict.body["details"]["causes"] == [
        {"reason": "FieldManagerConflict", "message": 'conflict with "hub"', "field": ".spec.address"}]
    assert call(client, "GET", we_path(ns, "c")).ok()["spec"]["address"] == "10.0.0.1"

    forced = _apply(client, ns, workload_entry("c", ns, "10.9.9.9"), "intruder", force=True).ok()
    assert forced["spec"] == {"address": "10.9.9.9", "weight": 1}
    owners = _owned(forced)
    assert set(owners[("intruder", "Apply")]["fieldsV1"]["f:spec"]) == {"f:address"}
    assert set(owners[("hub", "Apply")]["fieldsV1"]["f:spec"]) == {"f:weight"}


def test_conflicts_name_every_contested_field(client, ns):
    _apply(client, ns, workload_entry("m", ns, "10.0.0.1", weight=1, network="n1"), "hub").ok()
    conflict = _apply(client, ns, workload_entry("m", ns, "10.0.0.2", weight=2, network="n1"), "other")
    assert conflict.status == 409
    assert conflict.message == ('Apply failed with 2 conflicts: conflicts with "hub":\n'
                                "- .spec.address\n- .spec.weight")
    assert sorted(c["field"] for c in conflict.body["details"]["causes"]) == [".spec.address", ".spec.weight"]


def test_same_value_from_two_appliers_is_shared_not_a_conflict(client, ns):
    _apply(client, ns, workload_entry("s", ns, "10.0.0.1"), "hub").ok()
    shared = _apply(client, ns, workload_entry("s", ns, "10.0.0.1"), "other")
    assert shared.status == 200
    owners = _owned(shared.body)
    assert "f:address" in owners[("hub", "Apply")]["fieldsV1"]["f:spec"]
    assert "f:address" in owners[("other", "Apply")]["fieldsV1"]["f:spec"]


def test_fields_dropped_from_an_apply_are_removed(client, ns):
    _apply(client, ns, workload_entry("d", ns, "10.0.0.1", weight=4, labels={"a": "1", "b": "2"}), "hub").ok()
    later = _apply(client, ns, workload_entry("d", ns, "10.0.0.1", labels={"a": "1"}), "hub").ok()
    assert later["spec"] == {"address": "10.0.0.1"}
    assert later["metadata"]["labels"] == {"a": "1"}


def test_an_update_takes_ownership_and_then_the_applier_conflicts(client, ns):
    _apply(client, ns, workload_entry("u", ns, "10.0.0.1", weight=1), "hub").ok()
    edited = call(client, "PATCH", we_path(ns, "u"), {"spec": {"weight": 7}}, content_type=MERGE,
                  fieldManager="editor").ok()
    owners = _owned(edited)
    assert set(owners[("editor", "Update")]["fieldsV1"]["f:spec"]) == {"f:weight"}
    assert set(owners[("hub", "Apply")]["fieldsV1"]["f:spec"]) == {"f:address"}
    conflict = _apply(client, ns, workload_entry("u", ns, "10.0.0.1", weight=1), "hub")
    assert conflict.status == 409 and 'conflict with "editor"' in conflict.message
    assert [c["field"] for c in conflict.body["details"]["causes"]] == [".spec.weight"]
    restored = _apply(client, ns, workload_entry("u", ns, "10.0.0.1", weight=1), "hub", force=True).ok()
    assert restored["spec"]["weight"] == 1 and ("editor", "Update") not in _owned(restored)


def test_apply_needs_a_field_manager(client, ns):
    resp = call(client, "PATCH", we_path(ns, "nomanager"), workload_entry("nomanager", ns), content_type=APPLY)
    assert resp.status == 422 and resp.reason == "Invalid"
    assert resp.message == ('PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: '
                            "is required for apply patch")
    assert [c["field"] for c in resp.body["details"]["causes"]] == ["fieldManager"]


def test_the_hubs_client_applies_and_reads_back(api, ns):
    """``federation.kube.client.KubeClient``, exactly as the pusher calls it."""
    kube = KubeClient("conformance", api.kubeconfig.read_text())
    try:
        body = workload_entry("hubwe", ns, "10.1.2.3", labels={"app.kubernetes.io/managed-by": "mesh-federation"},
                              weight=2)
        applied = kube.apply(WORKLOAD_ENTRY, body, "mesh-federation", force=True)
        assert applied["spec"] == {"address": "10.1.2.3", "weight": 2}
        listed = kube.list(WORKLOAD_ENTRY, namespace=ns,
                           label_selector="app.kubernetes.io/managed-by=mesh-federation")
        assert [i["metadata"]["name"] for i in listed["items"]] == ["hubwe"]
        assert kube.get(WORKLOAD_ENTRY, ns, "hubwe")["metadata"]["uid"] == applied["metadata"]["uid"]
        assert kube.delete(WORKLOAD_ENTRY, ns, "hubwe") is True
        assert kube.get(WORKLOAD_ENTRY, ns, "hubwe") is None
        assert kube.delete(WORKLOAD_ENTRY, ns, "hubwe") is False
    finally:
        kube.close()
