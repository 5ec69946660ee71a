"""Desired state per target: replacing a bucket yields only the differences."""

from federation.hub.reconciling import CLUSTER_BUCKET, DesiredState
from federation.push.packing import Packed, unpacked


def obj(name, weight=1, kind="WorkloadEntry"):
    return {"apiVersion": "networking.istio.io/v1", "kind": kind,
            "metadata": {"name": name, "namespace": "ns"}, "spec": {"weight": weight}}


REF_A = ("networking.istio.io/v1", "WorkloadEntry", "ns", "a")
REF_B = ("networking.istio.io/v1", "WorkloadEntry", "ns", "b")


def plain(changes):
    return {ref: None if value is None else unpacked(value) for ref, value in changes.items()}


def test_set_bucket_returns_added_changed_and_removed_only():
    state = DesiredState()
    assert plain(state.set_bucket("c1", "svc", [obj("a"), obj("b")])) == {REF_A: obj("a"), REF_B: obj("b")}
    assert state.set_bucket("c1", "svc", [obj("a"), obj("b")]) == {}
    assert plain(state.set_bucket("c1", "svc", [obj("a", 2)])) == {REF_A: obj("a", 2), REF_B: None}
    assert state.count("c1") == 1


def test_objects_are_held_packed_and_one_that_cannot_be_stays_as_it_came():
    state = DesiredState()
    bad = obj("b")
    bad["spec"]["weight"] = object()
    changes = state.set_bucket("c1", "svc", [obj("a"), bad])
    assert isinstance(changes[REF_A], Packed) and changes[REF_A].unpack() == obj("a")
    assert changes[REF_B] is bad  # the pusher reports it as invalid
    assert all(isinstance(value, Packed) for ref, value in state.all("c1").items() if ref == REF_A)


def test_buckets_are_per_target_and_all_merges_them():
    state = DesiredState()
    state.set_bucket("c1", "svc", [obj("a")])
    state.set_bucket("c1", CLUSTER_BUCKET, [obj("gw", kind="Gateway")])
    state.set_bucket("c2", "svc", [obj("b")])
    assert len(state.all("c1")) == 2 and list(state.all("c2")) == [REF_B]
    assert sorted(map(str, state.buckets("c1"))) == sorted([CLUSTER_BUCKET, "svc"])
    state.set_bucket("c1", "svc", [])
    assert "svc" not in state.buckets("c1")
    state.drop("c2")
    assert state.all("c2") == {} and state.targets() == ["c1"]


def test_an_unchanged_object_rendered_again_keeps_the_one_held():
    state = DesiredState()
    first = state.set_bucket("c1", "svc", [obj("a")])[REF_A]
    assert state.set_bucket("c1", "svc", [obj("a"), obj("b")]).keys() == {REF_B}
    assert state.all("c1")[REF_A] is first  # not a second copy of what the pusher holds


def test_targets_given_one_rendered_object_hold_one_packing_of_it():
    state = DesiredState()
    shared = obj("a")  # what render.sharing hands every target that sees the service alike
    first = state.set_bucket("c1", "svc", [shared])[REF_A]
    assert state.set_bucket("c2", "svc", [shared])[REF_A] is first
    assert state.all("c2")[REF_A] is state.all("c1")[REF_A]


def test_after_a_pass_an_object_is_packed_from_what_it_holds_now():
    state = DesiredState()
    state.set_bucket("c1", "svc", [obj("a")])  # the object is dropped once the pass ends
    state.end_pass()
    changed = obj("a", 2)  # may well reuse the dropped object's memory, and so its id
    assert plain(state.set_bucket("c1", "svc", [changed])) == {REF_A: obj("a", 2)}


def test_targets_rendered_in_different_passes_hold_one_copy_of_an_equal_object():
    state = DesiredState()
    first = state.set_bucket("c1", "svc", [obj("a"), obj("b")])[REF_A]
    state.end_pass()
    again = state.set_bucket("c2", "svc", [obj("a"), obj("b", 2)])  # rendered anew, equal content
    assert again[REF_A] is first and state.all("c2")[REF_A] is first
    assert state.distinct == 3  # a, b, b with weight 2
    state.set_bucket("c1", "svc", [obj("a", 3)])  # c1's a and b go; c2 still holds a
    assert state.distinct == 3 and state.all("c2")[REF_A] is first
    state.drop("c2")
    state.set_bucket("c1", "svc", [])
    assert state.distinct == 0  # nothing held, nothing pooled
