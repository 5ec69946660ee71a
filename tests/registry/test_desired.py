"""Desired state per target: replacing a bucket yields only the differences."""

from federation.hub.reconciling import CLUSTER_BUCKET, DesiredState


def obj(name, weight=1, kind="WorkloadEntry"):
    return {"apiVersion": "networking.istio.io/v1", "kind": kind,
            "metadata": {"name": name, "namespace": "ns"}, "spec": {"weight": weight}}


REF_A = ("networking.istio.io/v1", "WorkloadEntry", "ns", "a")
REF_B = ("networking.istio.io/v1", "WorkloadEntry", "ns", "b")


def test_set_bucket_returns_added_changed_and_removed_only():
    state = DesiredState()
    assert state.set_bucket("c1", "svc", [obj("a"), obj("b")]) == {REF_A: obj("a"), REF_B: obj("b")}
    assert state.set_bucket("c1", "svc", [obj("a"), obj("b")]) == {}
    assert state.set_bucket("c1", "svc", [obj("a", 2)]) == {REF_A: obj("a", 2), REF_B: None}
    assert state.count("c1") == 1


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
