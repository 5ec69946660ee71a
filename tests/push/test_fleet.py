"""PushFleet: one pusher per cluster; removal keeps objects, cleanup deletes only owned ones."""

from __future__ import annotations

import pytest

from federation import errors
from tests.push.support import WAIT, cacerts, desired, destination_rule, workload_entry

WE = ("networking.istio.io/v1", "WorkloadEntry")


def wait_all_synced(fleet, clusters):
    for cluster in clusters:
        assert fleet.pusher(cluster).wait_status(lambda s: s.synced, WAIT) is not None, \
            f"{cluster} not synced: {fleet.statuses()[cluster]}"


def test_fleet_pushes_to_each_cluster_and_reports_statuses(make_cluster, make_kube, fleet):
    sims = [make_cluster("c1"), make_cluster("c2")]
    for sim in sims:
        fleet.add(sim.name, make_kube(sim))
    fleet.replace_all("c1", desired(workload_entry("a")))
    fleet.replace_all("c2", desired(workload_entry("b")))
    fleet.update("c2", desired(workload_entry("c")))
    wait_all_synced(fleet, ["c1", "c2"])

    statuses = fleet.statuses()
    assert sorted(statuses) == ["c1", "c2"] == fleet.clusters()
    assert (statuses["c1"].objects, statuses["c2"].objects) == (1, 2)
    assert [o["metadata"]["name"] for o in sims[1].list(*WE, "default")] == ["b", "c"]


def test_adding_a_cluster_twice_is_refused_and_unknown_clusters_are_not_found(make_cluster, make_kube, fleet):
    sim = make_cluster("c1")
    fleet.add("c1", make_kube(sim))
    with pytest.raises(errors.AlreadyExists):
        fleet.add("c1", make_kube(sim))
    with pytest.raises(errors.NotFound):
        fleet.update("nope", {})


def test_removing_a_cluster_stops_its_worker_and_keeps_its_objects(make_cluster, make_kube, fleet):
    sim = make_cluster("c1")
    fleet.add("c1", make_kube(sim))
    fleet.replace_all("c1", desired(workload_entry("a")))
    wait_all_synced(fleet, ["c1"])

    assert fleet.remove("c1", timeout=5.0)
    assert fleet.clusters() == [] and fleet.statuses() == {}
    assert sim.get(*WE, "a", "default")["spec"]["address"] == "10.0.0.1"


def test_cleanup_deletes_every_owned_object_and_nothing_else(make_cluster, make_kube, fleet):
    sim = make_cluster("c1")
    users_rule = sim.create(destination_rule("users", "x.default.svc", owned=False))
    fleet.add("c1", make_kube(sim))
    fleet.replace_all("c1", desired(workload_entry("a"), workload_entry("b"),
                                    destination_rule("ours", "y.default.svc"), cacerts()))
    wait_all_synced(fleet, ["c1"])

    assert fleet.cleanup("c1") == 4
    assert fleet.clusters() == []
    assert sim.list(*WE, "default") == []
    assert sim.list("v1", "Secret", "istio-system") == []
    assert sim.list("networking.istio.io/v1", "DestinationRule", "default") == [users_rule]


def test_stop_all_stops_every_worker(make_cluster, make_kube, fleet):
    for name in ("c1", "c2", "c3"):
        fleet.add(name, make_kube(make_cluster(name)))
    assert fleet.stop_all(timeout=5.0)
    assert fleet.clusters() == []
