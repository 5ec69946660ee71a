"""What a ClusterPusher asks of the API server, read from the simulator's request log:
a pass touches only what changed, fresh objects are created without a look, and
names someone else uses are still never taken over."""

from __future__ import annotations

from federation.push.inventory import OWNED_KINDS

from federation.model.ids import MANAGED_BY, MANAGED_BY_LABEL, ref_of
from tests.push.support import WAIT, cacerts, desired, destination_rule, workload_entry

WE = ("networking.istio.io/v1", "WorkloadEntry")
DR = ("networking.istio.io/v1", "DestinationRule")
WE_PATH = "/apis/networking.istio.io/v1/namespaces/default/workloadentries"
DR_PATH = "/apis/networking.istio.io/v1/namespaces/default/destinationrules"
APPLY = "?fieldManager=mesh-federation"
FORCED = APPLY + "&force=true"
INVENTORY_LISTS = len(OWNED_KINDS)  # one per written kind


def wait_synced(pusher):
    status = pusher.wait_status(lambda s: s.synced, WAIT)
    assert status is not None, f"not synced in time: {pusher.status()}"
    return status


def calls(sim) -> list[tuple[str, str]]:
    return [(r.method, r.path) for r in sim.requests()]


def test_a_pass_after_one_change_touches_only_that_object(make_cluster, make_pusher):
    sim = make_cluster("c1")
    pusher = make_pusher(sim, resync_interval=None)
    objects = [workload_entry(f"we-{i}", f"10.0.0.{i}") for i in range(40)]
    pusher.replace_all(desired(*objects, destination_rule("r", "r.default.svc")))
    wait_synced(pusher)
    sim.clear_requests()

    pusher.update(desired(workload_entry("we-17", "10.9.9.9")))
    status = wait_synced(pusher)

    assert calls(sim) == [("PATCH", f"{WE_PATH}/we-17{FORCED}")]
    assert (status.objects, status.pending, status.applies) == (41, 0, 42)


def test_fresh_objects_are_created_without_reading_them_first(make_cluster, make_pusher):
    sim = make_cluster("c1")
    pusher = make_pusher(sim, resync_interval=None)
    pusher.replace_all(desired(workload_entry("a"), workload_entry("b")))
    wait_synced(pusher)
    first = calls(sim)
    pusher.update(desired(workload_entry("c"), destination_rule("r", "r.default.svc")))
    wait_synced(pusher)
    later = calls(sim)[len(first):]

    assert [method for method, _ in first].count("GET") == INVENTORY_LISTS
    assert all("?" not in path or "labelSelector" in path for method, path in first if method == "GET")
    assert sorted(p for m, p in first if m != "GET") == [f"{WE_PATH}/a{APPLY}", f"{WE_PATH}/b{APPLY}"]
    assert sorted(later) == [("PATCH", f"{DR_PATH}/r{APPLY}"), ("PATCH", f"{WE_PATH}/c{APPLY}")]


def test_a_foreign_object_listed_at_inventory_is_read_left_alone_and_reported(make_cluster, make_pusher):
    sim = make_cluster("c1")
    users = sim.create(destination_rule("reviews", "users.default.svc", owned=False))
    pusher = make_pusher(sim, resync_interval=None)
    pusher.replace_all(desired(destination_rule("reviews", "ours.default.svc"), workload_entry("a")))
    status = pusher.wait_status(lambda s: s.conflicts and s.objects == 1, WAIT)

    assert status is not None and not status.synced
    assert status.conflicts == (
        "DestinationRule default/reviews (networking.istio.io/v1) exists and is not managed by mesh-federation",)
    touching = [(m, p) for m, p in calls(sim) if "/reviews" in p]
    assert touching == [("GET", f"{DR_PATH}/reviews")]
    assert sim.get(*DR, "reviews", "default") == users


def test_an_object_someone_made_after_the_inventory_is_not_taken_over(make_cluster, make_pusher):
    sim = make_cluster("c1")
    pusher = make_pusher(sim, resync_interval=None)
    pusher.replace_all(desired(workload_entry("a")))
    wait_synced(pusher)
    users = sim.create(destination_rule("reviews", "users.default.svc", owned=False))
    sim.clear_requests()

    pusher.update(desired(destination_rule("reviews", "ours.default.svc")))
    status = pusher.wait_status(lambda s: s.conflicts, WAIT)

    assert status is not None and not status.synced
    assert "DestinationRule default/reviews" in status.conflicts[0]
    assert calls(sim) == [("PATCH", f"{DR_PATH}/reviews{APPLY}"), ("GET", f"{DR_PATH}/reviews")]
    assert [r.code for r in sim.requests()] == [409, 200]
    assert sim.get(*DR, "reviews", "default") == users


def test_a_name_someone_took_inside_a_pipelined_batch_is_left_alone_and_the_rest_written(
        make_cluster, make_pusher):
    sim = make_cluster("c1")
    pusher = make_pusher(sim, resync_interval=None, pipeline=8)
    pusher.replace_all(desired(workload_entry("a")))
    wait_synced(pusher)
    users = sim.create(destination_rule("reviews", "users.default.svc", owned=False))
    sim.clear_requests()

    fresh = [workload_entry(f"we-{i}") for i in range(4)]
    pusher.update(desired(*fresh[:2], destination_rule("reviews", "ours.default.svc"), *fresh[2:]))
    status = pusher.wait_status(lambda s: s.conflicts and s.objects == 5, WAIT)

    assert status is not None and not status.synced and status.pending == 0
    assert "DestinationRule default/reviews" in status.conflicts[0]
    assert sorted(calls(sim)) == sorted([("PATCH", f"{DR_PATH}/reviews{APPLY}"), ("GET", f"{DR_PATH}/reviews"),
                                         *(("PATCH", f"{WE_PATH}/we-{i}{APPLY}") for i in range(4))])
    assert sorted(r.code for r in sim.requests()) == [200, 201, 201, 201, 201, 409]  # the look: 200
    assert sim.get(*DR, "reviews", "default") == users
    assert all(sim.get(*WE, f"we-{i}", "default") for i in range(4))


def test_an_owned_object_made_elsewhere_after_the_inventory_is_taken_back(make_cluster, make_pusher):
    sim = make_cluster("c1")
    pusher = make_pusher(sim, resync_interval=None)
    pusher.replace_all(desired(workload_entry("a")))
    wait_synced(pusher)
    sim.create(workload_entry("b", "10.5.5.5"))  # labelled as ours, written by another manager

    pusher.update(desired(workload_entry("b", "10.6.6.6")))
    status = wait_synced(pusher)

    assert status.conflicts == () and status.objects == 2
    live = sim.get(*WE, "b", "default")
    assert live["spec"]["address"] == "10.6.6.6"
    assert live["metadata"]["labels"][MANAGED_BY_LABEL] == MANAGED_BY


def test_a_secret_is_always_read_before_it_is_first_written(make_cluster, make_pusher):
    sim = make_cluster("c1")
    pusher = make_pusher(sim, resync_interval=None)
    pusher.replace_all(desired(cacerts()))
    wait_synced(pusher)
    secret_path = "/api/v1/namespaces/istio-system/secrets"

    listing, *rest = [(m, p) for m, p in calls(sim) if p.startswith(secret_path)]
    assert listing[0] == "GET" and listing[1].startswith(f"{secret_path}?labelSelector=")
    assert rest == [("GET", f"{secret_path}/cacerts"), ("PATCH", f"{secret_path}/cacerts{APPLY}")]


def test_a_change_that_failed_transiently_is_written_on_the_retry(make_cluster, make_pusher):
    sim = make_cluster("c1")
    pusher = make_pusher(sim, resync_interval=None)
    pusher.replace_all(desired(*(workload_entry(f"we-{i}") for i in range(10))))
    wait_synced(pusher)
    sim.clear_requests()
    sim.fail_next(2, 503)

    pusher.update(desired(workload_entry("we-3", "10.3.3.3"), workload_entry("new")))
    pusher.update({ref_of(workload_entry("we-4")): None})
    status = wait_synced(pusher)

    assert (status.objects, status.deletes, status.failures) == (10, 1, 2)
    assert sim.get(*WE, "we-3", "default")["spec"]["address"] == "10.3.3.3"
    assert sim.get(*WE, "new", "default")["metadata"]["name"] == "new"
    assert sorted(r.path.split("?")[0].rsplit("/", 1)[1] for r in sim.requests() if r.code < 300) == [
        "new", "we-3", "we-4"]


def test_a_pass_of_many_fresh_objects_pipelines_them_in_batches(make_cluster, make_pusher):
    sim = make_cluster("c1")
    pusher = make_pusher(sim, resync_interval=None, pipeline=8)
    batches = []
    apply_many = pusher._kube.apply_many
    pusher._kube.apply_many = lambda applies, manager: batches.append(len(applies)) or apply_many(applies, manager)
    pusher.replace_all(desired(*(workload_entry(f"we-{i}") for i in range(20))))
    status = wait_synced(pusher)

    assert status.objects == 20 and status.applies == 20
    assert sorted(batches, reverse=True) == [8, 8, 4]  # the inventory's pass: 20 writes, 3 round trips
    assert [r.code for r in sim.requests() if r.method == "PATCH"] == [201] * 20
