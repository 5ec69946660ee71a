"""Watches as the reflector uses them: resume from a resourceVersion, 410, bookmarks, timeouts, selectors."""

from __future__ import annotations

import threading

from tests.conformance.support import call, cm_path, config_map, rv_of, watch, we_path, workload_entry


def _settled_rv(client, path: str) -> str:
    return call(client, "GET", path).ok()["metadata"]["resourceVersion"]


def test_watch_from_a_resource_version_gets_every_later_event_in_order(client, ns):
    call(client, "POST", cm_path(ns), config_map("before", ns)).ok()
    start = _settled_rv(client, cm_path(ns))
    a = call(client, "POST", cm_path(ns), config_map("a", ns, x="1")).ok()
    call(client, "PATCH", cm_path(ns, "a"), {"data": {"x": "2"}}, content_type="application/merge-patch+json").ok()
    call(client, "DELETE", cm_path(ns, "a")).ok()
    call(client, "POST", cm_path(ns), config_map("b", ns)).ok()
    result = watch(client, cm_path(ns), resourceVersion=start, timeoutSeconds=10,
                   until=lambda events: len(events) >= 4)
    assert result.status == 200
    assert result.typed() == [("ADDED", "a"), ("MODIFIED", "a"), ("DELETED", "a"), ("ADDED", "b")]
    rvs = [rv_of(e["object"]) for e in result.events]
    assert rvs == sorted(rvs) and len(set(rvs)) == 4 and rvs[0] > int(start) and rvs[0] == rv_of(a)
    assert result.events[1]["object"]["data"] == {"x": "2"}
    assert result.events[2]["object"]["kind"] == "ConfigMap"


def test_watch_without_a_resource_version_starts_with_the_current_objects(client, ns):
    for name in ("x", "y"):
        call(client, "POST", cm_path(ns), config_map(name, ns)).ok()
    result = watch(client, cm_path(ns), timeoutSeconds=10, until=lambda events: len(events) >= 2)
    assert sorted(result.typed()) == [("ADDED", "x"), ("ADDED", "y")]


def test_watch_from_a_resource_version_older_than_the_history_gets_410_expired(api, client, ns):
    """The real server keeps recent events in its watch cache even past an etcd compaction, so
    the old resourceVersion here is "1": older than the cache of a kind whose CRD came later."""
    old = _settled_rv(client, we_path(ns))
    for i in range(3):
        call(client, "POST", we_path(ns), workload_entry(f"c{i}", ns)).ok()
    api.expire_history()
    # The stream opens and carries one ERROR event.
    result = watch(client, we_path(ns), resourceVersion="1", timeoutSeconds=10,
                   until=lambda events: bool(events))
    assert result.status == 200, result.events
    assert [e["type"] for e in result.events] == ["ERROR"]
    status = result.events[0]["object"]
    assert status["kind"] == "Status" and status["code"] == 410 and status["reason"] in ("Expired", "Gone")
    assert status["message"].startswith("too old resource version: 1 (")
    # A relist then gives a resourceVersion that can be watched from again.
    fresh = _settled_rv(client, we_path(ns))
    assert int(fresh) > int(old)
    call(client, "POST", we_path(ns), workload_entry("after", ns)).ok()
    resumed = watch(client, we_path(ns), resourceVersion=fresh, timeoutSeconds=10, until=lambda events: bool(events))
    assert resumed.typed() == [("ADDED", "after")]


def test_periodic_bookmarks_carry_the_latest_resource_version(api, client, ns):
    """Both servers send a bookmark about a minute into a watch (so this test takes that long)."""
    start = _settled_rv(client, we_path(ns))
    writer, written, stop = api.client(), [], threading.Event()

    def write() -> None:  # a few events while the watch is open, as a live cluster has
        for i in range(3):
            if stop.wait(1.0):
                return
            written.append(call(writer, "POST", we_path(ns), workload_entry(f"b{i}", ns)).ok())

    thread = threading.Thread(target=write, name="conformance-writer")
    thread.start()
    try:
        result = watch(client, we_path(ns), resourceVersion=start, timeoutSeconds=90, allowWatchBookmarks=True,
                       deadline=80, until=lambda events: any(e["type"] == "BOOKMARK" for e in events))
    finally:
        stop.set()
        thread.join(10)
        writer.close()
    assert [e["type"] for e in result.events] == ["ADDED", "ADDED", "ADDED", "BOOKMARK"], result.events
    obj = result.events[-1]["object"]
    assert obj["kind"] == "WorkloadEntry" and obj["apiVersion"] == "networking.istio.io/v1"
    assert set(obj["metadata"]) <= {"resourceVersion", "creationTimestamp"}
    assert int(obj["metadata"]["resourceVersion"]) >= max(rv_of(o) for o in written)
    assert 50 <= result.elapsed <= 75, result.elapsed


def test_no_bookmarks_unless_asked(client, ns):
    start = _settled_rv(client, we_path(ns))
    result = watch(client, we_path(ns), resourceVersion=start, timeoutSeconds=3, deadline=15)
    assert result.ended and result.events == []


def test_timeout_seconds_ends_the_stream(client, ns):
    start = _settled_rv(client, cm_path(ns))
    result = watch(client, cm_path(ns), resourceVersion=start, timeoutSeconds=2, deadline=15)
    assert result.ended, "the server did not end the stream"
    assert 1.5 <= result.elapsed < 8, result.elapsed


def test_label_selector_watch_turns_relabelling_into_added_and_deleted(client, ns):
    call(client, "POST", we_path(ns), workload_entry("w", ns, labels={"app": "other"})).ok()
    start = _settled_rv(client, we_path(ns))
    merge = "application/merge-patch+json"
    call(client, "PATCH", we_path(ns, "w"), {"metadata": {"labels": {"app": "reviews"}}}, content_type=merge).ok()
    call(client, "PATCH", we_path(ns, "w"), {"spec": {"weight": 2}}, content_type=merge).ok()
    gone = call(client, "PATCH", we_path(ns, "w"), {"metadata": {"labels": {"app": "gone"}}},
                content_type=merge).ok()
    result = watch(client, we_path(ns), resourceVersion=start, labelSelector="app=reviews", timeoutSeconds=10,
                   until=lambda events: len(events) >= 3)
    assert result.typed() == [("ADDED", "w"), ("MODIFIED", "w"), ("DELETED", "w")]
    # DELETED carries the last state that matched, at the resourceVersion of the change.
    last = result.events[2]["object"]
    assert last["metadata"]["labels"] == {"app": "reviews"} and last["spec"]["weight"] == 2
    assert last["metadata"]["resourceVersion"] == gone["metadata"]["resourceVersion"]


def test_field_selector_watch_on_one_name(client, ns):
    start = _settled_rv(client, cm_path(ns))
    for name in ("skip", "pick", "skip2"):
        call(client, "POST", cm_path(ns), config_map(name, ns)).ok()
    result = watch(client, cm_path(ns), resourceVersion=start, fieldSelector="metadata.name=pick",
                   timeoutSeconds=3, deadline=15)
    assert result.ended and result.typed() == [("ADDED", "pick")]
