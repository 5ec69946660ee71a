"""Deletes: preconditions (409), what a delete answers, and Namespace deletion without a controller."""

from __future__ import annotations

from tests.conformance.support import (
    call, cm_path, config_map, unique, watch, we_path, workload_entry,
)

OPTIONS = {"kind": "DeleteOptions", "apiVersion": "v1"}


def test_delete_with_a_wrong_uid_is_409_and_keeps_the_object(client, ns):
    obj = call(client, "POST", cm_path(ns), config_map("pre", ns)).ok()
    uid = obj["metadata"]["uid"]
    wrong = call(client, "DELETE", cm_path(ns, "pre"), {**OPTIONS, "preconditions": {"uid": "not-the-uid"}})
    assert wrong.status == 409 and wrong.reason == "Conflict"
    assert wrong.message == (f'Operation cannot be fulfilled on ConfigMap "pre": the UID in the precondition '
                             f"(not-the-uid) does not match the UID in record ({uid}). "
                             "The object might have been deleted and then recreated")
    assert call(client, "GET", cm_path(ns, "pre")).status == 200


def test_delete_with_a_stale_resource_version_is_409(client, ns):
    obj = call(client, "POST", cm_path(ns), config_map("rv", ns, x="1")).ok()
    newer = call(client, "PATCH", cm_path(ns, "rv"), {"data": {"x": "2"}},
                 content_type="application/merge-patch+json").ok()
    old_rv, new_rv = obj["metadata"]["resourceVersion"], newer["metadata"]["resourceVersion"]
    stale = call(client, "DELETE", cm_path(ns, "rv"), {**OPTIONS, "preconditions": {"resourceVersion": old_rv}})
    assert stale.status == 409
    assert stale.message == (f'Operation cannot be fulfilled on ConfigMap "rv": the ResourceVersion in the '
                             f"precondition ({old_rv}) does not match the ResourceVersion in record ({new_rv}). "
                             "The object might have been modified")
    done = call(client, "DELETE", cm_path(ns, "rv"),
                {**OPTIONS, "preconditions": {"uid": obj["metadata"]["uid"], "resourceVersion": new_rv}})
    assert done.status == 200
    assert call(client, "GET", cm_path(ns, "rv")).status == 404


def test_delete_answers_a_success_status_naming_the_object(client, ns):
    cm = call(client, "POST", cm_path(ns), config_map("gone", ns)).ok()
    status = call(client, "DELETE", cm_path(ns, "gone")).ok()
    assert status["kind"] == "Status" and status["status"] == "Success"
    assert status["details"] == {"name": "gone", "kind": "configmaps", "uid": cm["metadata"]["uid"]}
    we = call(client, "POST", we_path(ns), workload_entry("gone", ns)).ok()
    deleted = call(client, "DELETE", we_path(ns, "gone")).ok()
    assert deleted["kind"] == "Status" and deleted["status"] == "Success"
    assert deleted["details"] == {"name": "gone", "group": "networking.istio.io", "kind": "workloadentries",
                                  "uid": we["metadata"]["uid"]}
    missing = call(client, "DELETE", we_path(ns, "gone"))
    assert missing.status == 404 and missing.reason == "NotFound"


def test_delete_collection_by_label(client, ns):
    for name, app in (("a", "x"), ("b", "x"), ("c", "y")):
        call(client, "POST", cm_path(ns), config_map(name, ns, labels={"app": app})).ok()
    call(client, "DELETE", cm_path(ns), labelSelector="app=x").ok()
    left = call(client, "GET", cm_path(ns)).ok()
    assert [i["metadata"]["name"] for i in left["items"]] == ["c"]


# --- namespaces ------------------------------------------------------------------------
def test_deleting_a_namespace_marks_it_terminating(client):
    """Without a namespace controller (none runs beside these servers) a deleted Namespace stays
    Terminating with its content; new content is refused (403), existing content stays readable."""
    name = unique("doomed")
    call(client, "POST", "/api/v1/namespaces", {"metadata": {"name": name}}).ok()
    call(client, "POST", cm_path(name), config_map("inside", name)).ok()
    start = call(client, "GET", "/api/v1/namespaces").ok()["metadata"]["resourceVersion"]
    deleted = call(client, "DELETE", f"/api/v1/namespaces/{name}")
    assert deleted.status == 200 and deleted.body["kind"] == "Namespace"
    assert deleted.body["metadata"]["deletionTimestamp"] and deleted.body["status"]["phase"] == "Terminating"
    assert deleted.body["spec"]["finalizers"] == ["kubernetes"]
    got = call(client, "GET", f"/api/v1/namespaces/{name}").ok()
    assert got["status"]["phase"] == "Terminating"
    events = watch(client, "/api/v1/namespaces", resourceVersion=start, fieldSelector=f"metadata.name={name}",
                   timeoutSeconds=10, until=lambda evs: bool(evs))
    assert events.typed() == [("MODIFIED", name)]
    assert events.events[0]["object"]["metadata"]["deletionTimestamp"]

    refused = call(client, "POST", cm_path(name), config_map("late", name))
    assert refused.status == 403 and refused.reason == "Forbidden"
    assert refused.message == (f'configmaps "late" is forbidden: unable to create new content in namespace '
                               f"{name} because it is being terminated")
    assert refused.body["details"]["causes"] == [{"reason": "NamespaceTerminating", "field": "metadata.namespace",
                                                  "message": f"namespace {name} is being terminated"}]
    applied = call(client, "PATCH", we_path(name, "late"), workload_entry("late", name),
                   content_type="application/apply-patch+yaml", fieldManager="hub")
    assert applied.status == 403 and applied.reason == "Forbidden"
    assert call(client, "GET", cm_path(name, "inside")).status == 200
    again = call(client, "DELETE", f"/api/v1/namespaces/{name}").ok()  # deleting again changes nothing
    assert again["metadata"]["resourceVersion"] == deleted.body["metadata"]["resourceVersion"]


def test_finalizing_a_terminating_namespace_removes_it(client):
    name = unique("final")
    call(client, "POST", "/api/v1/namespaces", {"metadata": {"name": name}}).ok()
    marked = call(client, "DELETE", f"/api/v1/namespaces/{name}").ok()
    start = marked["metadata"]["resourceVersion"]
    finalized = call(client, "PUT", f"/api/v1/namespaces/{name}/finalize",
                     {**marked, "spec": {"finalizers": []}})
    assert finalized.status == 200, finalized.body
    assert call(client, "GET", f"/api/v1/namespaces/{name}").status == 404
    events = watch(client, "/api/v1/namespaces", resourceVersion=start, fieldSelector=f"metadata.name={name}",
                   timeoutSeconds=10, until=lambda evs: bool(evs))
    assert events.typed() == [("DELETED", name)]


def test_namespace_defaults(client):
    name = unique("defaults")
    created = call(client, "POST", "/api/v1/namespaces", {"metadata": {"name": name}}).ok()
    try:
        assert created["metadata"]["labels"] == {"kubernetes.io/metadata.name": name}
        assert created["spec"] == {"finalizers": ["kubernetes"]} and created["status"] == {"phase": "Active"}
    finally:
        call(client, "DELETE", f"/api/v1/namespaces/{name}")
