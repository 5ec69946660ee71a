"""The object store of a simulated cluster, used in-process (no HTTP)."""

from __future__ import annotations

import uuid

import pytest

from federation.errors import AlreadyExists, Conflict, NotFound, ResourceExpired, ValidationError
from kubesim.store import JSON_PATCH, STRATEGIC, ObjectStore, _new_uid

WE = "networking.istio.io/v1"


def workload_entry(name: str, address: str = "10.0.0.1", **spec) -> dict:
    return {"apiVersion": WE, "kind": "WorkloadEntry", "metadata": {"name": name, "namespace": "default"},
            "spec": {"address": address, **spec}}


def config_map(name: str, labels: dict | None = None, namespace: str = "default", **data) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": namespace, "labels": labels or {}}, "data": data}


@pytest.fixture
def store(schemas) -> ObjectStore:
    return ObjectStore(schemas=schemas, history=20)


@pytest.fixture
def bare() -> ObjectStore:
    return ObjectStore(default_namespaces=False, history=20)


def test_create_sets_system_metadata_and_rejects_duplicates(bare):
    obj = bare.create(config_map("a", x="1"))
    meta = obj["metadata"]
    assert meta["uid"] and meta["creationTimestamp"] and meta["generation"] == 1
    assert meta["resourceVersion"] == "1" and bare.resource_version == 1
    with pytest.raises(AlreadyExists):
        bare.create(config_map("a"))
    assert bare.resource_version == 1


def test_resource_version_is_one_counter_across_kinds(bare):
    rvs = [int(bare.create(config_map(f"c{i}"))["metadata"]["resourceVersion"]) for i in range(3)]
    rvs.append(int(bare.create(workload_entry("w"))["metadata"]["resourceVersion"]))
    assert rvs == [1, 2, 3, 4]


def test_get_and_delete_of_missing_objects_are_not_found(bare):
    with pytest.raises(NotFound):
        bare.get("v1", "ConfigMap", "nope", "default")
    with pytest.raises(NotFound):
        bare.delete("v1", "ConfigMap", "nope", "default")
    with pytest.raises(NotFound):
        bare.create({"apiVersion": "v1", "kind": "Deployment", "metadata": {"name": "x"}})


def test_list_filters_by_namespace_labels_and_fields(bare):
    bare.create(config_map("a", {"app": "x", "tier": "web"}))
    bare.create(config_map("b", {"app": "y"}))
    bare.create(config_map("c", {"app": "x"}, namespace="other"))
    names = lambda objs: sorted(o["metadata"]["name"] for o in objs)  # noqa: E731
    assert names(bare.list("v1", "ConfigMap")) == ["a", "b", "c"]
    assert names(bare.list("v1", "ConfigMap", "default")) == ["a", "b"]
    assert names(bare.list("v1", "ConfigMap", label_selector="app=x")) == ["a", "c"]
    assert names(bare.list("v1", "ConfigMap", label_selector="app==x,tier")) == ["a"]
    assert names(bare.list("v1", "ConfigMap", label_selector="app!=x")) == ["b"]
    assert names(bare.list("v1", "ConfigMap", label_selector="app in (y, z)")) == ["b"]
    assert names(bare.list("v1", "ConfigMap", label_selector="app notin (y)")) == ["a", "c"]
    assert names(bare.list("v1", "ConfigMap", label_selector="!tier")) == ["b", "c"]
    assert names(bare.list("v1", "ConfigMap", label_selector={"app": "y"})) == ["b"]
    assert names(bare.list("v1", "ConfigMap", field_selector="metadata.name=c")) == ["c"]
    assert names(bare.list("v1", "ConfigMap", field_selector="metadata.namespace!=default")) == ["c"]
    with pytest.raises(ValidationError):
        bare.list("v1", "ConfigMap", label_selector="app in (x")


def test_count_matches_what_a_list_with_the_same_selector_returns(bare):
    bare.create(config_map("a", {"app": "x", "tier": "web"}))
    bare.create(config_map("b", {"app": "y"}))
    bare.create(config_map("c", namespace="other"))
    for selector in (None, "", "app=x", "app", "!app", "app in (x, y)", "tier,app!=y", "app=z"):
        assert bare.count("v1", "ConfigMap", label_selector=selector) == \
            len(bare.list("v1", "ConfigMap", label_selector=selector)), selector
    assert bare.count("v1", "ConfigMap", label_selector="!app") == 1
    with pytest.raises(ValidationError):
        bare.count("v1", "ConfigMap", label_selector="app in (x")


def test_update_with_stale_resource_version_conflicts(bare):
    obj = bare.create(config_map("a", x="1"))
    obj["data"]["x"] = "2"
    updated = bare.update(obj)
    assert updated["data"] == {"x": "2"}
    obj["data"]["x"] = "3"  # still carries the old resourceVersion
    with pytest.raises(Conflict):
        bare.update(obj)
    assert bare.get("v1", "ConfigMap", "a", "default")["data"] == {"x": "2"}


def test_noop_update_keeps_resource_version(bare):
    obj = bare.create(config_map("a", x="1"))
    again = bare.update(obj)
    assert again["metadata"]["resourceVersion"] == obj["metadata"]["resourceVersion"]
    assert bare.resource_version == 1


def test_generation_bumps_on_spec_change_only(store):
    obj = store.create(workload_entry("w"))
    obj["metadata"]["labels"] = {"a": "b"}
    relabelled = store.update(obj)
    assert relabelled["metadata"]["generation"] == 1
    relabelled["spec"]["address"] = "10.0.0.2"
    assert store.update(relabelled)["metadata"]["generation"] == 2


def test_merge_json_and_strategic_patches(bare):
    bare.create(config_map("a", x="1", y="2"))
    assert bare.patch("v1", "ConfigMap", "a", {"data": {"y": None, "z": "3"}}, namespace="default")["data"] == \
        {"x": "1", "z": "3"}
    patched = bare.patch("v1", "ConfigMap", "a", [{"op": "replace", "path": "/data/x", "value": "9"}],
                         namespace="default", patch_type=JSON_PATCH)
    assert patched["data"] == {"x": "9", "z": "3"}
    bare.create({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s", "namespace": "default"},
                 "spec": {"ports": [{"name": "a", "port": 80}, {"name": "b", "port": 81}]}})
    svc = bare.patch("v1", "Service", "s", {"spec": {"ports": [{"port": 81, "name": "bb"}]}},
                     namespace="default", patch_type=STRATEGIC)
    assert [(p["name"], p["port"]) for p in svc["spec"]["ports"]] == [("a", 80), ("bb", 81)]
    with pytest.raises(ValidationError):
        bare.patch("v1", "ConfigMap", "a", [{"op": "test", "path": "/data/x", "value": "0"}], namespace="default",
                   patch_type=JSON_PATCH)


def test_invalid_custom_object_is_rejected_and_not_stored(store):
    rv = store.resource_version
    with pytest.raises(ValidationError) as info:
        store.create(workload_entry("bad", weight=-3))
    assert "spec.weight" in str(info.value)
    assert info.value.causes == ["spec.weight: -3 is less than the minimum of 0"]
    assert store.resource_version == rv
    with pytest.raises(NotFound):
        store.get(WE, "WorkloadEntry", "bad", "default")


# --- server-side apply ---------------------------------------------------------------
def test_apply_creates_then_noop_apply_keeps_resource_version(store):
    first = store.apply(workload_entry("w", labels={"app": "r"}), manager="fed", force=False)
    second = store.apply(workload_entry("w", labels={"app": "r"}), manager="fed", force=False)
    assert second["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]
    assert second == first


def test_apply_conflicts_with_another_manager_unless_forced(store):
    store.apply(workload_entry("w", "10.0.0.1"), manager="fed", force=False)
    with pytest.raises(Conflict) as info:
        store.apply(workload_entry("w", "10.0.0.2"), manager="intruder", force=False)
    assert 'conflict with "fed"' in str(info.value) and ".spec.address" in str(info.value)
    taken = store.apply(workload_entry("w", "10.0.0.2"), manager="intruder", force=True)
    assert taken["spec"]["address"] == "10.0.0.2"
    owners = {m["manager"]: m["fieldsV1"] for m in taken["metadata"]["managedFields"]}
    assert owners == {"intruder": {"f:spec": {"f:address": {}}}}


def test_same_value_from_two_managers_is_shared_not_a_conflict(store):
    store.apply(workload_entry("w", "10.0.0.1"), manager="a", force=False)
    shared = store.apply(workload_entry("w", "10.0.0.1"), manager="b", force=False)
    assert {m["manager"] for m in shared["metadata"]["managedFields"]} == {"a", "b"}


def test_fields_a_manager_stops_applying_are_removed(store):
    store.apply(workload_entry("w", network="n1", weight=3, labels={"app": "r", "v": "1"}), manager="fed")
    after = store.apply(workload_entry("w", labels={"app": "r"}), manager="fed")
    assert after["spec"] == {"address": "10.0.0.1", "labels": {"app": "r"}}


def test_fields_still_owned_by_someone_else_are_kept(store):
    store.apply(workload_entry("w", network="n1"), manager="a")
    store.apply(workload_entry("w", network="n1"), manager="b")
    after = store.apply(workload_entry("w"), manager="a")
    assert after["spec"]["network"] == "n1"


def test_update_takes_ownership_from_an_applier(store):
    applied = store.apply(workload_entry("w", "10.0.0.1"), manager="fed")
    applied["spec"]["address"] = "10.0.0.9"
    store.update(applied, manager="editor")
    with pytest.raises(Conflict):
        store.apply(workload_entry("w", "10.0.0.1"), manager="fed", force=False)


def test_apply_with_stale_resource_version_conflicts(store):
    store.apply(workload_entry("w"), manager="fed")
    stale = workload_entry("w", "10.0.0.3")
    stale["metadata"]["resourceVersion"] = "1"
    with pytest.raises(Conflict):
        store.apply(stale, manager="fed")


# --- deletes, namespaces, history ---------------------------------------------------------
def test_namespace_delete_removes_its_objects(bare):
    bare.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}})
    bare.create(config_map("a", namespace="team"))
    bare.create(config_map("b", namespace="default"))
    bare.delete("v1", "Namespace", "team")
    assert [o["metadata"]["name"] for o in bare.list("v1", "ConfigMap")] == ["b"]


def test_compact_expires_watch_history(bare):
    rtype = bare.rtype("v1", "ConfigMap")
    bare.create(config_map("a"))
    bare.create(config_map("b"))
    initial, start = bare.watch_start(rtype, 1)
    assert initial == [] and start == 1
    bare.compact()
    with pytest.raises(ResourceExpired):
        bare.watch_start(rtype, 1)
    assert bare.watch_start(rtype, bare.resource_version)[1] == bare.resource_version


def test_bounded_history_expires_old_resource_versions(bare):
    rtype = bare.rtype("v1", "ConfigMap")
    for i in range(200):  # history is 20 events per kind
        bare.create(config_map(f"c{i}"))
    with pytest.raises(ResourceExpired):
        bare.wait_events(rtype, 5, 0)
    events, current = bare.wait_events(rtype, current_rv := bare.resource_version - 3, 0)
    assert [e.rv for e in events] == [current_rv + 1, current_rv + 2, current_rv + 3] and current == current_rv + 3


def test_pagination_and_expired_continue_token(bare):
    rtype = bare.rtype("v1", "ConfigMap")
    for i in range(5):
        bare.create(config_map(f"c{i}"))
    page, _, token = bare.list_entries(rtype, limit=2)
    assert [e.obj["metadata"]["name"] for e in page] == ["c0", "c1"] and token
    rest, _, more = bare.list_entries(rtype, limit=10, continue_token=token)
    assert [e.obj["metadata"]["name"] for e in rest] == ["c2", "c3", "c4"] and not more
    bare.create(config_map("late"))
    bare.compact()
    with pytest.raises(ResourceExpired):
        bare.list_entries(rtype, limit=2, continue_token=token)


def test_uids_are_version_4_uuids_and_never_repeat():
    uids = [_new_uid() for _ in range(20000)]
    assert len(set(uids)) == len(uids)
    for text in uids[:500]:
        parsed = uuid.UUID(text)
        assert (parsed.version, parsed.variant, str(parsed)) == (4, uuid.RFC_4122, text)


def test_observers_see_each_commit_of_their_kind_as_it_is_made_and_no_more_once_gone(bare):
    config_maps = bare.rtype("v1", "ConfigMap")
    seen: list[tuple[str, int, str]] = []
    stored_at: list[tuple[int, int]] = []  # (the event's rv, the store's when observed)

    def observer(event):  # what it raises is logged by the store, so it only records
        seen.append((event.type, event.rv, event.entry.obj["metadata"]["name"]))
        stored_at.append((event.rv, bare.resource_version))  # the lock is reentrant

    bare.observe(config_maps, observer)
    bare.create(config_map("a", x="1"))
    bare.create({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "default"}})
    bare.update(config_map("a", x="2"))
    bare.update(config_map("a", x="2"))  # no change: no commit, nothing observed
    bare.delete("v1", "ConfigMap", "a", "default")
    assert seen == [("ADDED", 1, "a"), ("MODIFIED", 3, "a"), ("DELETED", 4, "a")]
    assert all(rv == current for rv, current in stored_at)  # already committed when observed
    bare.unobserve(config_maps, observer)
    bare.create(config_map("b"))
    assert len(seen) == 3


def test_a_failing_observer_does_not_fail_the_write(bare, caplog):
    config_maps = bare.rtype("v1", "ConfigMap")

    def broken(event):
        raise RuntimeError("observer bug")

    bare.observe(config_maps, broken)
    created = bare.create(config_map("a"))
    assert bare.get("v1", "ConfigMap", "a", "default")["metadata"]["uid"] == created["metadata"]["uid"]
    assert "store observer raised" in caplog.text
