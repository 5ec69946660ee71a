"""differences: what the hub would change, compared only on what it sets."""

from __future__ import annotations

from federation.push.diffing import CONFLICT, CREATE, DELETE, UPDATE, differences, project

WE = ("networking.istio.io/v1", "WorkloadEntry", "ns", "fed-a")


def entry(weight: int, **extra) -> dict:
    obj = {"apiVersion": WE[0], "kind": WE[1], "metadata": {"name": "fed-a", "namespace": "ns"},
           "spec": {"address": "10.0.0.1", "weight": weight}}
    obj["metadata"].update(extra.pop("meta", {}))
    obj.update(extra)
    return obj


def test_server_added_fields_are_no_difference():
    live = entry(3, meta={"uid": "u", "resourceVersion": "7", "managedFields": [{}]}, status={"x": 1})
    assert project(live, entry(3)) == entry(3)
    assert differences({WE: entry(3)}, {WE: live}, set()) == []


def test_each_action_is_named():
    other = ("v1", "Service", "ns", "stub")
    gone = ("networking.istio.io/v1", "WorkloadEntry", "ns", "old")
    live = {WE: entry(3), gone: {**entry(1), "metadata": {"name": "old", "namespace": "ns", "uid": "u"}}}
    desired = {WE: entry(5), other: {"apiVersion": "v1", "kind": "Service",
                                     "metadata": {"name": "stub", "namespace": "ns"}}}
    found = {d.ref: d for d in differences(desired, live, set())}
    assert {r: d.action for r, d in found.items()} == {WE: UPDATE, other: CREATE, gone: DELETE}
    assert found[WE].live["spec"]["weight"] == 3 and found[WE].desired["spec"]["weight"] == 5
    assert "uid" not in found[gone].live["metadata"]


def test_an_object_someone_else_owns_is_a_conflict_not_an_update():
    [diff] = differences({WE: entry(5)}, {}, {WE})
    assert diff.action == CONFLICT and diff.live is None


def test_secret_data_is_never_shown_but_its_change_is():
    ref = ("v1", "Secret", "istio-system", "cacerts")
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "cacerts", "namespace": "istio-system"},
              "data": {"ca-key.pem": "c2VjcmV0"}}
    changed = {**secret, "data": {"ca-key.pem": "b3RoZXI="}}
    [diff] = differences({ref: secret}, {ref: changed}, set())
    text = repr(diff)
    assert diff.action == UPDATE and "c2VjcmV0" not in text and "b3RoZXI=" not in text
    assert diff.live["data"] != diff.desired["data"]
