"""Owned objects are watched: a deleted or hand-edited one is restored within about a
second with one write (read from the simulator's request record), repeated fights
back off and show in status with the other field manager's name, and two hubs on
one cluster never touch each other's objects."""

from __future__ import annotations

import shutil
import subprocess
import time

import pytest

from federation.push.digest import HUB_LABEL
from federation.push.inventory import OWNED_KINDS
from tests.push.support import WAIT, desired, destination_rule, workload_entry
from tests.support import wait_for, writes

WE = ("networking.istio.io/v1", "WorkloadEntry")
DR = ("networking.istio.io/v1", "DestinationRule")
WE_PATH = "/apis/networking.istio.io/v1/namespaces/default/workloadentries"
REPAIR_BOUND = 1.5  # "about a second", with room for a loaded 2-core machine


@pytest.fixture
def kubectl(tmp_path):
    binary = shutil.which("kubectl")
    if binary is None:
        pytest.skip("kubectl is not on PATH")

    def run(sim, *args: str) -> None:
        config = sim.write_kubeconfig(tmp_path / f"{sim.name}.yaml")
        result = subprocess.run([binary, "--kubeconfig", str(config), "--cache-dir", str(tmp_path / "cache"),
                                 "--request-timeout", "10s", *args],
                                capture_output=True, text=True, timeout=30)
        assert result.returncode == 0, f"kubectl {' '.join(args)}: {result.stderr}"
    return run


def settle_watch(sim, pusher) -> None:
    """Wait until the pusher has seen a marker object written after everything
    before it (a WorkloadEntry of another hub): events of one kind arrive in
    order, so every earlier WorkloadEntry event has been judged by then."""
    hub = f"hub-marker-{len(sim.requests())}"  # each call's own: its conflict line is new
    marker = workload_entry(hub)
    marker["metadata"]["labels"][HUB_LABEL] = hub
    sim.create(marker)
    assert pusher.wait_status(lambda s: any(f"({hub})" in c for c in s.conflicts), WAIT), pusher.status()


def watched_and_synced(sim, make_pusher, *objects, **kwargs):
    pusher = make_pusher(sim, watch_owned=True, hub_id=kwargs.pop("hub_id", "hub-a"), **kwargs)
    pusher.replace_all(desired(*objects))
    assert pusher.wait_status(lambda s: s.synced, WAIT) is not None, pusher.status()
    # every written kind has its watch open, so what follows is seen by a watch
    wait_for(lambda: sim.active_watches() >= len(OWNED_KINDS), WAIT, "owned-object watches open")
    return pusher


def test_a_deleted_owned_object_is_restored_within_a_second_with_one_write(make_cluster, make_pusher):
    sim = make_cluster("c1")
    pusher = watched_and_synced(sim, make_pusher, workload_entry("a", "10.0.0.1"), workload_entry("b"))
    mark = len(sim.requests())

    sim.delete(*WE, "a", "default")  # in-process: not an HTTP request of the record
    started = time.monotonic()
    restored = wait_for(lambda: _get(sim, "a"), REPAIR_BOUND, "deleted entry restored", interval=0.02)
    took = time.monotonic() - started

    assert restored["spec"]["address"] == "10.0.0.1"
    assert restored["metadata"]["labels"][HUB_LABEL] == "hub-a"
    status = pusher.wait_status(lambda s: s.synced and s.repairs == 1, WAIT)
    assert status is not None, pusher.status()
    assert writes(sim, mark) == [("PATCH", f"{WE_PATH}/a?fieldManager=mesh-federation", 201)]
    assert any("WorkloadEntry default/a" in f and "deleted" in f for f in status.fights), status.fights
    assert took < REPAIR_BOUND


def test_a_kubectl_patch_of_an_owned_object_is_undone_within_a_second_with_one_write(
        make_cluster, make_pusher, kubectl):
    sim = make_cluster("c1")
    entry = workload_entry("a", "10.0.0.1")
    entry["spec"]["weight"] = 3
    pusher = watched_and_synced(sim, make_pusher, entry)
    mark = len(sim.requests())

    # the hash annotation stays: only the content tells the edit apart
    kubectl(sim, "patch", "workloadentries.networking.istio.io", "a", "-n", "default", "--type", "merge",
            "-p", '{"spec": {"address": "6.6.6.6", "weight": 99}}')
    patched_at = time.monotonic()
    wait_for(lambda: _get(sim, "a")["spec"] == entry["spec"], REPAIR_BOUND, "patched entry corrected",
             interval=0.02)
    took = time.monotonic() - patched_at

    status = pusher.wait_status(lambda s: s.synced and s.repairs == 1, WAIT)
    assert status is not None, pusher.status()
    ours = writes(sim, mark, "fieldManager=mesh-federation")
    assert ours == [("PATCH", f"{WE_PATH}/a?fieldManager=mesh-federation&force=true", 200)]
    assert status.fights and "changed by kubectl-patch" in status.fights[0], status.fights
    assert took < REPAIR_BOUND
    # the hub's own write, seen by its watch, causes no further write
    settle_watch(sim, pusher)
    assert writes(sim, mark, "fieldManager=mesh-federation") == ours


def test_repeated_fights_back_off_and_are_reported(make_cluster, make_pusher):
    sim = make_cluster("c1")
    entry = workload_entry("a", "10.0.0.1")
    pusher = watched_and_synced(sim, make_pusher, entry)

    def fight() -> float:
        sim.apply({"apiVersion": WE[0], "kind": WE[1], "metadata": {"name": "a", "namespace": "default"},
                   "spec": {"address": "6.6.6.6"}}, manager="rogue-controller", force=True)
        started = time.monotonic()
        wait_for(lambda: _get(sim, "a")["spec"]["address"] == "10.0.0.1", WAIT, "repaired", interval=0.02)
        return time.monotonic() - started

    first, second, third = fight(), fight(), fight()
    assert first < REPAIR_BOUND
    assert third > second >= 0.9  # 1 s, then 2 s of back-off
    status = pusher.wait_status(lambda s: s.repairs == 3, WAIT)
    assert status is not None and "changed by rogue-controller; repaired 3 time(s)" in status.fights[0]


def test_an_unchanged_object_is_never_rewritten_by_its_watch(make_cluster, make_pusher):
    sim = make_cluster("c1")
    pusher = watched_and_synced(sim, make_pusher, workload_entry("a"), destination_rule("r", "r.default.svc"))
    mark = len(sim.requests())
    sim.cut_watches()  # resumed watches replay nothing new: no write
    wait_for(lambda: sim.active_watches() >= len(OWNED_KINDS), WAIT, "watches resumed")
    settle_watch(sim, pusher)
    assert writes(sim, mark) == []


def test_the_watch_events_of_the_hubs_own_writes_are_never_judged_nor_cost_a_pass(make_cluster, make_pusher):
    sim = make_cluster("c1")
    pusher = watched_and_synced(sim, make_pusher, *[workload_entry(f"we-{i}") for i in range(30)])
    settle_watch(sim, pusher)
    judged, passes, unread = pusher.judged_changes, pusher.passes, pusher.unread_echoes
    pusher.update(desired(*[workload_entry(f"we-{i}", "10.9.9.9") for i in range(30)]))
    assert pusher.wait_status(lambda s: s.pending == 0 and s.applies == 60, WAIT), pusher.status()
    settle_watch(sim, pusher)  # every echo of the 30 writes has come by then
    assert pusher.judged_changes - judged == 1  # the marker alone
    # Every echo is taken unparsed, also those that come before their write's answer:
    # the watch waits for the answers of the writes in flight.
    assert pusher.unread_echoes - unread == 30
    # One pass writes the 30, one judges the marker; an echo that comes before its
    # write's answer (it often does) is dropped without waking the worker.
    assert pusher.passes - passes == 2


def test_two_hubs_on_one_cluster_never_touch_each_others_objects(make_cluster, make_pusher):
    sim = make_cluster("c1")
    a = watched_and_synced(sim, make_pusher, workload_entry("shared", "10.0.0.1"), workload_entry("only-a"),
                           hub_id="hub-a")
    b = make_pusher(sim, watch_owned=True, hub_id="hub-b")
    b.replace_all(desired(workload_entry("shared", "10.0.0.2"), workload_entry("only-b")))

    status_b = b.wait_status(lambda s: s.conflicts and s.objects == 1 and not s.pending, WAIT)
    assert status_b is not None, b.status()
    status_a = a.wait_status(lambda s: any("hub-b" in c for c in s.conflicts), WAIT)
    assert status_a is not None, a.status()

    assert _get(sim, "shared")["spec"]["address"] == "10.0.0.1"
    assert _get(sim, "shared")["metadata"]["labels"][HUB_LABEL] == "hub-a"
    assert _get(sim, "only-a")["metadata"]["labels"][HUB_LABEL] == "hub-a"
    assert _get(sim, "only-b")["metadata"]["labels"][HUB_LABEL] == "hub-b"
    assert any("WorkloadEntry default/shared" in c and "another hub (hub-a)" in c
               for c in status_b.conflicts), status_b.conflicts
    assert "1 object(s) of another hub (hub-b) in this cluster; left alone" in status_a.conflicts

    # a full resync of each prunes only its own orphans
    a.replace_all(desired(workload_entry("shared", "10.0.0.1")))
    b.replace_all(desired())
    assert a.wait_status(lambda s: s.objects == 1 and not s.pending, WAIT)
    assert b.wait_status(lambda s: s.objects == 0 and not s.pending, WAIT)
    names = {o["metadata"]["name"]: o["metadata"]["labels"][HUB_LABEL] for o in sim.list(*WE, "default")}
    assert names == {"shared": "hub-a"}


def test_legacy_objects_are_adopted_only_when_no_other_hub_is_present(make_cluster, make_pusher):
    sim = make_cluster("c1")
    sim.create(workload_entry("old", "10.0.0.9"))  # managed-by label, no hub identity
    lone = make_pusher(sim, hub_id="hub-a")
    lone.replace_all(desired(workload_entry("old", "10.0.0.1")))
    assert lone.wait_status(lambda s: s.synced, WAIT) is not None, lone.status()
    assert _get(sim, "old")["metadata"]["labels"][HUB_LABEL] == "hub-a"

    other = make_cluster("c2")
    other.create(workload_entry("old", "10.0.0.9"))
    other.create({**workload_entry("theirs"), "metadata": {
        **workload_entry("theirs")["metadata"],
        "labels": {**workload_entry("theirs")["metadata"]["labels"], HUB_LABEL: "hub-z"}}})
    pusher = make_pusher(other, hub_id="hub-a")
    pusher.replace_all(desired())
    status = pusher.wait_status(lambda s: s.inventoried and s.prune_ready and not s.pending, WAIT)
    assert status is not None, pusher.status()
    assert {o["metadata"]["name"] for o in other.list(*WE, "default")} == {"old", "theirs"}
    assert HUB_LABEL not in _get(other, "old")["metadata"]["labels"]


def _get(sim, name: str) -> dict | None:
    found = [o for o in sim.list(*WE, "default") if o["metadata"]["name"] == name]
    return found[0] if found else None
