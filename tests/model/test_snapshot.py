"""Snapshots: immutable, versioned, built from the previous one plus a change set."""

from federation.model import (
    ChangeSet, ClusterChange, ClusterInfo, ClusterService, Locality, ServiceChange,
    ServiceKey, Snapshot, UserRulesChange, VMChange, VMWorkload,
)
from federation.model.codec import (
    cluster_info_from_dict, cluster_info_to_dict, service_from_dict, service_to_dict,
    vm_from_dict, vm_to_dict,
)
from federation.model.ids import PortSpec

KEY = ServiceKey("default", "reviews")


def svc(cluster, ready, zone="z1"):
    return ClusterService(cluster, KEY, ports=(PortSpec("http", 9080, "HTTP"),),
                          selector=(("app", "reviews"),),
                          endpoints=((Locality("r1", zone), ready),))


def test_apply_builds_a_new_version_and_leaves_the_old_one_unchanged():
    s1, _ = Snapshot().apply(ChangeSet((ClusterChange("a", ClusterInfo("a", "net1")),
                                        ServiceChange("a", KEY, svc("a", 2)))))
    s2, delta = s1.apply(ChangeSet((ServiceChange("a", KEY, svc("a", 5)),)))
    assert (s1.version, s2.version) == (1, 2)
    assert s1.services[KEY]["a"].ready == 2
    assert s2.services[KEY]["a"].ready == 5
    assert delta.services == {KEY} and not delta.clusters


def test_applying_nothing_new_returns_the_same_snapshot():
    s1, _ = Snapshot().apply(ChangeSet((ServiceChange("a", KEY, svc("a", 2)),)))
    s2, delta = s1.apply(ChangeSet((ServiceChange("a", KEY, svc("a", 2)),)))
    assert s2 is s1 and not delta


def test_snapshot_mappings_are_read_only():
    s1, _ = Snapshot().apply(ChangeSet((ServiceChange("a", KEY, svc("a", 2)),)))
    try:
        s1.services[KEY] = {}  # type: ignore[index]
    except TypeError:
        pass
    else:
        raise AssertionError("snapshot services must be immutable")


def test_removing_a_cluster_drops_its_services_and_reports_them():
    s1, _ = Snapshot().apply(ChangeSet((
        ClusterChange("a", ClusterInfo("a")), ClusterChange("b", ClusterInfo("b")),
        ServiceChange("a", KEY, svc("a", 1)), ServiceChange("b", KEY, svc("b", 1)))))
    s2, delta = s1.apply(ChangeSet((ClusterChange("a", None),)))
    assert set(s2.services[KEY]) == {"b"} and "a" not in s2.clusters
    assert delta.clusters == {"a"} and delta.services == {KEY}


def test_last_cluster_of_a_service_leaving_removes_the_service():
    s1, _ = Snapshot().apply(ChangeSet((ServiceChange("a", KEY, svc("a", 1)),)))
    s2, _ = s1.apply(ChangeSet((ServiceChange("a", KEY, None),)))
    assert KEY not in s2.services


def test_vm_moves_between_groups_and_leaves():
    other = ServiceKey("default", "ratings")
    vm = VMWorkload("vm-1", KEY, "10.0.0.5")
    s1, d1 = Snapshot().apply(ChangeSet((VMChange("vm-1", vm),)))
    assert d1.services == {KEY}
    s2, d2 = s1.apply(ChangeSet((VMChange("vm-1", VMWorkload("vm-1", other, "10.0.0.5")),)))
    assert KEY not in s2.vms and set(s2.vms[other]) == {"vm-1"} and d2.services == {KEY, other}
    s3, _ = s2.apply(ChangeSet((VMChange("vm-1", None),)))
    assert not s3.vms


def test_user_rules_change_marks_the_host_service_changed():
    s1, _ = Snapshot().apply(ChangeSet((ServiceChange("a", KEY, svc("a", 1)),)))
    s2, delta = s1.apply(ChangeSet((UserRulesChange("b", frozenset({KEY.host()})),)))
    assert s2.user_rules["b"] == {KEY.host()} and delta.services == {KEY}


def test_codec_round_trips():
    s = svc("a", 3)
    assert service_from_dict(service_to_dict(s)) == s
    info = ClusterInfo("a", "net1", "r1", ("1.2.3.4",))
    assert cluster_info_from_dict(cluster_info_to_dict(info)) == info
    vm = VMWorkload("vm-1", KEY, "10.0.0.5", "net2", Locality("r", "z"), (("app", "x"),), "sa",
                    (PortSpec("http", 80, "HTTP"),))
    assert vm_from_dict(vm_to_dict(vm)) == vm


def test_locality_string_forms():
    assert str(Locality("r1", "z1")) == "r1/z1"
    assert str(Locality("r1")) == "r1"
    assert Locality.parse("r1/z1") == Locality("r1", "z1")


def test_a_wildcard_user_rule_marks_every_service_it_covers_changed():
    from federation.model import UserRulesChange
    from federation.model.ids import host_matches
    shop = [ServiceKey("shop", "a"), ServiceKey("shop", "b")]
    other = ServiceKey("other", "c")
    changes = [ClusterChange("c1", ClusterInfo("c1"))] + [
        ServiceChange("c1", key, ClusterService("c1", key)) for key in [*shop, other]]
    snap, _ = Snapshot().apply(ChangeSet(tuple(changes)))
    _, delta = snap.apply(ChangeSet((UserRulesChange("c2", frozenset({"*.shop.svc.cluster.local"})),)))
    assert delta.services == frozenset(shop)
    assert host_matches("*", "x.y.svc.cluster.local") and not host_matches("*.shop.svc.cluster.local", "shop")
