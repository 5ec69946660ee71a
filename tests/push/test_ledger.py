"""Ledger: per-object judging of outstanding work and status counts (pure)."""

from __future__ import annotations

from federation.kube.client import SECRET, WORKLOAD_ENTRY
from federation.model.ids import ref_of
from federation.push.digest import owned_digest
from federation.push.inventory import Inventory, LiveObject
from federation.push.ledger import Ledger
from tests.push.support import cacerts, desired, destination_rule, workload_entry


def live(obj: dict, rtype=WORKLOAD_ENTRY) -> LiveObject:
    return LiveObject(rtype, "uid-" + obj["metadata"]["name"], owned_digest(ref_of(obj), obj))


def synced_ledger(*objects: dict) -> Ledger:
    """A ledger whose cluster holds exactly ``objects``, all as desired."""
    ledger = Ledger()
    ledger.replace_desired(desired(*objects))
    ledger.take_inventory(Inventory(owned={ref_of(obj): live(obj) for obj in objects}))
    ledger.settle()
    return ledger


def test_a_full_set_and_an_inventory_judge_every_object():
    same, changed, new = workload_entry("same"), workload_entry("changed"), workload_entry("new")
    orphan = workload_entry("orphan")
    ledger = Ledger()
    ledger.replace_desired(desired(same, workload_entry("changed", "10.9.9.9"), new))
    ledger.take_inventory(Inventory(owned={ref_of(o): live(o) for o in (same, changed, orphan)}))
    ledger.settle()

    assert list(ledger.to_apply) == [ref_of(changed), ref_of(new)]
    assert list(ledger.to_delete) == [ref_of(orphan)]
    assert ledger.matching == {ref_of(same)}
    assert ledger.outstanding == 3


def test_a_change_is_judged_alone_and_settling_again_costs_nothing():
    objects = [workload_entry(f"we-{i}") for i in range(50)]
    ledger = synced_ledger(*objects)
    assert (ledger.outstanding, len(ledger.matching)) == (0, 50)

    moved = workload_entry("we-7", "10.7.7.7")
    ledger.change_desired(ref_of(moved), moved)
    ledger.change_desired(ref_of(objects[9]), None)
    ledger.settle()
    assert list(ledger.to_apply) == [ref_of(moved)]
    assert list(ledger.to_delete) == [ref_of(objects[9])]
    assert len(ledger.matching) == 48

    ledger.record_applied(ref_of(moved), live(moved))
    ledger.record_deleted(ref_of(objects[9]))
    assert ledger.outstanding == 0 and len(ledger.matching) == 49


def test_nothing_is_pruned_before_the_first_full_set_except_explicit_removals():
    kept, gone = workload_entry("kept"), workload_entry("gone")
    ledger = Ledger()
    ledger.take_inventory(Inventory(owned={ref_of(kept): live(kept), ref_of(gone): live(gone)}))
    ledger.change_desired(ref_of(gone), None)
    ledger.settle()
    assert list(ledger.to_delete) == [ref_of(gone)] and not ledger.prune_ready

    ledger.replace_desired({})
    ledger.settle()
    assert set(ledger.to_delete) == {ref_of(kept), ref_of(gone)}


def test_rejections_and_conflicts_hold_until_the_content_changes():
    bad, taken = workload_entry("bad"), destination_rule("taken", "x.default.svc")
    ledger = Ledger()
    ledger.replace_desired(desired(bad, taken))
    ledger.take_inventory(Inventory())
    ledger.settle()
    ledger.record_rejected(ref_of(bad), owned_digest(ref_of(bad), bad), "422 invalid")
    ledger.record_conflict(ref_of(taken), owned_digest(ref_of(taken), taken))
    assert ledger.outstanding == 0
    assert ledger.problems(5) == ("422 invalid",)
    assert ledger.conflicts() == (
        "DestinationRule default/taken (networking.istio.io/v1) exists and is not managed by mesh-federation",)

    ledger.change_desired(ref_of(bad), bad)  # the same content: still rejected
    ledger.settle()
    assert ledger.outstanding == 0

    ledger.change_desired(ref_of(bad), workload_entry("bad", "10.0.0.9"))
    ledger.change_desired(ref_of(taken), None)
    ledger.settle()
    assert list(ledger.to_apply) == [ref_of(bad)]
    assert ledger.conflicts() == ()


def test_only_names_listed_as_foreign_or_of_unlisted_kinds_need_a_look():
    mine, theirs, fresh = workload_entry("mine"), workload_entry("theirs"), workload_entry("fresh")
    ledger = Ledger()
    ledger.take_inventory(Inventory(owned={ref_of(mine): live(mine)}, foreign={ref_of(theirs)}))

    assert not ledger.must_look(ref_of(mine), WORKLOAD_ENTRY)
    assert ledger.must_look(ref_of(theirs), WORKLOAD_ENTRY)
    assert not ledger.must_look(ref_of(fresh), WORKLOAD_ENTRY)
    assert ledger.must_look(ref_of(cacerts()), SECRET)  # Secrets are never listed whole

    ledger.record_absent(ref_of(theirs))
    assert not ledger.must_look(ref_of(theirs), WORKLOAD_ENTRY)


def test_invalid_desired_objects_are_problems_never_work():
    misfiled = workload_entry("a")
    ledger = Ledger()
    ledger.replace_desired({("networking.istio.io/v1", "WorkloadEntry", "default", "b"): misfiled})
    ledger.take_inventory(Inventory())
    ledger.settle()
    assert ledger.outstanding == 0 and ledger.has_problems
    assert "identifies as" in ledger.problems(5)[0]


def test_desired_objects_are_held_packed_whichever_form_they_come_in():
    from federation.push.packing import Packed, pack
    entry = workload_entry("a")
    ledger = Ledger()
    ledger.change_desired(ref_of(entry), entry)
    ledger.change_desired(ref_of(workload_entry("b")), pack(workload_entry("b")))
    wanted = ledger.desired[ref_of(entry)]
    assert isinstance(wanted.packed, Packed)
    assert wanted.digest == owned_digest(ref_of(entry), entry)
    assert ledger.desired[ref_of(workload_entry("b"))].digest == \
        owned_digest(ref_of(workload_entry("b")), workload_entry("b"))
    body = wanted.body()
    assert body == entry and body is not entry
    body["spec"]["address"] = "10.0.0.99"  # the caller's copy: the held object is unchanged
    assert wanted.body() == entry


def test_clusters_handed_one_packed_object_share_its_record_and_each_hub_has_its_own():
    from federation.push.packing import pack
    entry = workload_entry("shared")
    ref, packed = ref_of(entry), pack(entry)
    first, second, other_hub = Ledger(), Ledger(), Ledger(hub_id="hub-b")
    for ledger in (first, second, other_hub):
        ledger.change_desired(ref, packed)
    assert first.desired[ref] is second.desired[ref]  # one digest, one record for every target
    assert other_hub.desired[ref].digest == owned_digest(ref, entry, "hub-b") != first.desired[ref].digest
    changed = workload_entry("shared", "10.0.0.99")
    second.change_desired(ref, pack(changed))
    assert second.desired[ref].digest == owned_digest(ref, changed) != first.desired[ref].digest


def test_a_desired_object_that_is_not_json_is_a_problem():
    entry = workload_entry("a")
    entry["spec"]["weight"] = object()
    ledger = Ledger()
    ledger.replace_desired(desired(entry))
    ledger.take_inventory(Inventory())
    ledger.settle()
    assert ledger.outstanding == 0 and "not JSON-serialisable" in ledger.problems(5)[0]
