"""ClusterPusher against simulated clusters over real HTTPS, through KubeClient."""

from __future__ import annotations

import threading
import time

import kubernetes

from federation.model.ids import MANAGED_BY, MANAGED_BY_LABEL, ref_of
from federation.push import HASH_ANNOTATION
from federation.push.digest import DEFAULT_HUB_ID, HUB_LABEL, owned_digest
from tests.push.support import WAIT, cacerts, desired, destination_rule, workload_entry
from tests.support import writes

WE = ("networking.istio.io/v1", "WorkloadEntry")
DR = ("networking.istio.io/v1", "DestinationRule")


def synced(status) -> bool:
    return status.synced


def wait_synced(pusher):
    status = pusher.wait_status(synced, WAIT)
    assert status is not None, f"not synced in time: {pusher.status()}"
    return status


def test_applies_new_objects_readable_with_the_kubernetes_client(make_cluster, make_pusher):
    sim = make_cluster("c1")
    pusher = make_pusher(sim)
    wanted = [workload_entry("reviews-c2", "10.1.0.1"), destination_rule("reviews", "reviews.default.svc"),
              cacerts()]
    pusher.replace_all(desired(*wanted))

    status = wait_synced(pusher)
    assert (status.objects, status.applies, status.pending, status.errors) == (3, 3, 0, ())

    api = kubernetes.config.new_client_from_config_dict(sim.kubeconfig_dict())
    try:
        custom = kubernetes.client.CustomObjectsApi(api)
        entry = custom.get_namespaced_custom_object(
            "networking.istio.io", "v1", "default", "workloadentries", "reviews-c2")
        secret = kubernetes.client.CoreV1Api(api).read_namespaced_secret("cacerts", "istio-system")
    finally:
        api.close()
    assert entry["spec"]["address"] == "10.1.0.1"
    assert entry["metadata"]["labels"][MANAGED_BY_LABEL] == MANAGED_BY
    assert entry["metadata"]["labels"][HUB_LABEL] == DEFAULT_HUB_ID
    assert entry["metadata"]["annotations"][HASH_ANNOTATION] == owned_digest(ref_of(wanted[0]), wanted[0])
    assert secret.data == wanted[2]["data"]
    assert [f.manager for f in secret.metadata.managed_fields] == ["mesh-federation"]


def test_given_objects_are_not_modified(make_cluster, make_pusher):
    sim = make_cluster("c1")
    pusher = make_pusher(sim)
    obj = workload_entry("a")
    obj["metadata"]["labels"] = {}
    pusher.replace_all(desired(obj))
    wait_synced(pusher)
    assert obj["metadata"] == {"name": "a", "namespace": "default", "labels": {}}
    assert sim.get(*WE, "a", "default")["metadata"]["labels"] == {MANAGED_BY_LABEL: MANAGED_BY,
                                                                  HUB_LABEL: DEFAULT_HUB_ID}


def test_unchanged_desired_set_writes_nothing(make_cluster, make_pusher):
    sim = make_cluster("c1")
    pusher = make_pusher(sim)
    wanted = desired(workload_entry("a"), workload_entry("b", "10.0.0.2"), cacerts())
    pusher.replace_all(wanted)
    wait_synced(pusher)
    before = len(writes(sim))
    assert before == 3

    pusher.replace_all(wanted)
    wait_synced(pusher)
    pusher.update({ref: dict(obj) for ref, obj in wanted.items()})
    status = wait_synced(pusher)

    assert writes(sim)[before:] == []
    assert status.applies == 3


def test_changed_object_is_written_exactly_once(make_cluster, make_pusher):
    sim = make_cluster("c1")
    pusher = make_pusher(sim)
    pusher.replace_all(desired(workload_entry("a"), workload_entry("b")))
    wait_synced(pusher)
    before = len(writes(sim))

    pusher.update(desired(workload_entry("a", "10.9.9.9")))
    wait_synced(pusher)

    assert writes(sim)[before:] == [
        ("PATCH", "/apis/networking.istio.io/v1/namespaces/default/workloadentries/a"
                  "?fieldManager=mesh-federation&force=true", 200)]
    assert sim.get(*WE, "a", "default")["spec"]["address"] == "10.9.9.9"


def test_removed_object_is_deleted(make_cluster, make_pusher):
    sim = make_cluster("c1")
    pusher = make_pusher(sim)
    a, b, c = workload_entry("a"), workload_entry("b"), workload_entry("c")
    pusher.replace_all(desired(a, b, c))
    wait_synced(pusher)

    pusher.update({ref_of(a): None})  # removed by a change
    pusher.replace_all(desired(c))  # b: absent from a new full set
    status = wait_synced(pusher)

    assert [o["metadata"]["name"] for o in sim.list(*WE, "default")] == ["c"]
    assert (status.deletes, status.objects) == (2, 1)


def test_restarted_pusher_with_the_same_desired_set_writes_nothing(make_cluster, make_pusher):
    sim = make_cluster("c1")
    wanted = desired(workload_entry("a"), destination_rule("r", "r.default.svc"), cacerts())
    first = make_pusher(sim)
    first.replace_all(wanted)
    wait_synced(first)
    assert first.stop(timeout=5.0)
    before = len(writes(sim))

    second = make_pusher(sim)
    second.replace_all(wanted)
    status = wait_synced(second)

    assert writes(sim)[before:] == []
    assert (status.applies, status.objects) == (0, 3)


def test_no_pruning_before_the_first_full_desired_set(make_cluster, make_pusher):
    sim = make_cluster("c1")
    sim.create(workload_entry("left-over"))  # owned, from an earlier run
    pusher = make_pusher(sim)

    pusher.update(desired(workload_entry("new")))
    status = pusher.wait_status(lambda s: s.objects == 1 and s.inventoried, WAIT)
    assert status is not None and not status.synced and not status.prune_ready
    assert sorted(o["metadata"]["name"] for o in sim.list(*WE, "default")) == ["left-over", "new"]

    pusher.replace_all(desired(workload_entry("new")))
    status = wait_synced(pusher)
    assert [o["metadata"]["name"] for o in sim.list(*WE, "default")] == ["new"]
    assert status.prune_ready and status.deletes == 1


def test_user_owned_object_with_the_same_name_is_left_alone_and_reported(make_cluster, make_pusher):
    sim = make_cluster("c1")
    users_rule = sim.create(destination_rule("reviews", "reviews.default.svc", owned=False))
    users_secret = sim.create(cacerts(owned=False, marker="user"))
    pusher = make_pusher(sim)

    pusher.replace_all(desired(destination_rule("reviews", "other.default.svc"), cacerts(),
                               workload_entry("a")))
    status = pusher.wait_status(lambda s: len(s.conflicts) == 2 and s.objects == 1, WAIT)

    assert status is not None and not status.synced
    assert any("DestinationRule default/reviews" in c for c in status.conflicts)
    assert any("Secret istio-system/cacerts" in c for c in status.conflicts)
    assert sim.get(*DR, "reviews", "default") == users_rule
    assert sim.get("v1", "Secret", "cacerts", "istio-system") == users_secret


def test_objects_without_the_managed_by_label_are_never_deleted(make_cluster, make_pusher, fleet, make_kube):
    sim = make_cluster("c1")
    users = [sim.create(workload_entry("user-we", owned=False)),
             sim.create(destination_rule("user-dr", "x.default.svc", owned=False)),
             sim.create(cacerts(owned=False, marker="user"))]
    other_tool = workload_entry("other-tool")
    other_tool["metadata"]["labels"] = {MANAGED_BY_LABEL: "helm"}
    users.append(sim.create(other_tool))
    pusher = make_pusher(sim)
    pusher.replace_all(desired(workload_entry("ours")))
    wait_synced(pusher)
    pusher.replace_all({})
    status = wait_synced(pusher)
    assert status.deletes == 1
    assert pusher.stop(timeout=5.0)

    assert fleet.cleanup("c1", make_kube(sim)) == 0
    for obj in users:
        meta = obj["metadata"]
        assert sim.get(obj["apiVersion"], obj["kind"], meta["name"], meta["namespace"]) == obj


def test_server_errors_are_retried_until_success(make_cluster, make_pusher):
    sim = make_cluster("c1")
    sim.fail_next(4, 500)
    pusher = make_pusher(sim)
    pusher.replace_all(desired(workload_entry("a")))

    status = wait_synced(pusher)
    assert status.failures == 4 and status.errors == ()
    assert sim.get(*WE, "a", "default")["spec"]["address"] == "10.0.0.1"


def test_rejected_object_is_reported_and_not_retried_until_it_changes(make_cluster, make_pusher):
    sim = make_cluster("c1")
    pusher = make_pusher(sim)
    bad = workload_entry("bad")
    bad["metadata"]["labels"]["not a valid key!"] = "x"
    pusher.replace_all(desired(bad, workload_entry("good")))
    status = pusher.wait_status(lambda s: s.errors and s.objects == 1, WAIT)
    assert status is not None and not status.synced
    assert "422" in status.errors[0] and "bad" in status.errors[0]

    for address in ("10.0.0.2", "10.0.0.3"):  # further passes do not retry it
        applies = status.applies
        pusher.update(desired(workload_entry("good", address)))
        status = pusher.wait_status(lambda s: s.objects == 1 and s.applies == applies + 1, WAIT)
        assert status is not None
    assert len(writes(sim, path_part="/workloadentries/bad")) == 1

    pusher.update(desired(workload_entry("bad")))
    status = wait_synced(pusher)
    assert status.errors == () and status.objects == 2


def test_unreachable_cluster_reports_an_error_and_recovers(make_cluster, make_pusher):
    sim = make_cluster("c1")
    sim.go_offline()
    pusher = make_pusher(sim)
    pusher.replace_all(desired(workload_entry("a")))

    status = pusher.wait_status(lambda s: s.errors and s.failures >= 2, WAIT)
    assert status is not None and not status.synced
    assert "unreachable" in status.errors[0]

    sim.go_online()
    status = wait_synced(pusher)
    assert status.errors == () and status.objects == 1
    assert sim.get(*WE, "a", "default")["spec"]["address"] == "10.0.0.1"


def test_a_broken_cluster_does_not_hold_up_another(make_cluster, make_pusher):
    broken, healthy = make_cluster("broken"), make_cluster("healthy")
    broken.set_latency(1.5)  # every call to it outlasts a shortened client timeout
    broken.set_failure_rate(1.0, 503)
    slow = make_pusher(broken)
    fine = make_pusher(healthy)

    slow.replace_all(desired(workload_entry("a")))
    fine.replace_all(desired(workload_entry("a")))
    status = wait_synced(fine)

    assert status.objects == 1
    assert not slow.status().synced


def test_on_applied_reports_the_observation_time_of_a_batch(make_cluster, make_pusher):
    sim = make_cluster("c1")
    calls: list[tuple[str, float, float]] = []
    done = threading.Event()

    def on_applied(cluster, observed_at, now):
        calls.append((cluster, observed_at, now))
        done.set()

    pusher = make_pusher(sim, on_applied=on_applied)
    observed = time.monotonic() - 0.5  # the watchers' clock, as the pusher's
    pusher.update(desired(workload_entry("a")), observed_at=observed + 0.2)
    pusher.replace_all(desired(workload_entry("a")), observed_at=observed)
    assert done.wait(WAIT)
    cluster, observed_at, now = calls[0]
    assert cluster == "c1" and observed_at == observed and now >= observed_at


def test_on_status_is_called_with_status_changes(make_cluster, make_pusher):
    sim = make_cluster("c1")
    seen = []
    pusher = make_pusher(sim, on_status=seen.append)
    pusher.replace_all(desired(workload_entry("a")))
    wait_synced(pusher)
    assert seen[-1].synced and seen[-1].cluster == "c1"
    assert not seen[0].synced


def test_stop_ends_the_worker_while_the_cluster_hangs(make_cluster, make_pusher):
    sim = make_cluster("c1")
    sim.set_latency(1.0)  # the worker is inside its first call when asked to stop
    pusher = make_pusher(sim)
    pusher.replace_all(desired(workload_entry("a")))

    assert pusher.stop(timeout=5.0)
    assert not pusher.status().synced
    assert not [t for t in threading.enumerate() if t.name == "push-c1"]


def test_an_explicit_removal_before_the_full_set_deletes_only_that_object(make_cluster, make_pusher):
    sim = make_cluster("c1")
    sim.create(workload_entry("gone"))
    sim.create(workload_entry("kept"))
    pusher = make_pusher(sim)

    pusher.update({ref_of(workload_entry("gone")): None})
    status = pusher.wait_status(lambda s: s.deletes == 1, WAIT)

    assert status is not None and not status.prune_ready
    assert [o["metadata"]["name"] for o in sim.list(*WE, "default")] == ["kept"]


def test_resync_repairs_drift_and_retries_conflicts(make_cluster, make_pusher):
    sim = make_cluster("c1")
    sim.create(destination_rule("r", "users.default.svc", owned=False))
    pusher = make_pusher(sim, resync_interval=0.3)
    pusher.replace_all(desired(workload_entry("a"), destination_rule("r", "ours.default.svc")))
    assert pusher.wait_status(lambda s: s.objects == 1 and s.conflicts, WAIT) is not None

    sim.delete(*WE, "a", "default")  # drift: someone deleted an owned object
    sim.delete(*DR, "r", "default")  # the user gave up their rule
    status = wait_synced(pusher)  # periodic resync, no change handed over

    assert status.conflicts == () and status.objects == 2
    assert sim.get(*DR, "r", "default")["spec"]["host"] == "ours.default.svc"
    assert sim.get(*WE, "a", "default")["metadata"]["labels"][MANAGED_BY_LABEL] == MANAGED_BY


def test_an_explicit_resync_retries_a_conflict(make_cluster, make_pusher):
    sim = make_cluster("c1")
    sim.create(cacerts(owned=False, marker="user"))
    pusher = make_pusher(sim, resync_interval=None)
    pusher.replace_all(desired(cacerts()))
    assert pusher.wait_status(lambda s: s.conflicts, WAIT) is not None

    sim.delete("v1", "Secret", "cacerts", "istio-system")
    pusher.resync()
    wait_synced(pusher)
    assert sim.get("v1", "Secret", "cacerts", "istio-system")["data"] == cacerts()["data"]


def test_unsupported_or_mismatched_objects_are_reported_not_written(make_cluster, make_pusher):
    sim = make_cluster("c1")
    pusher = make_pusher(sim)
    config_map = {"apiVersion": "v1", "kind": "ConfigMap",
                  "metadata": {"name": "x", "namespace": "default"}, "data": {}}
    misfiled = workload_entry("a")
    pusher.replace_all({ref_of(config_map): config_map,
                        ("networking.istio.io/v1", "WorkloadEntry", "default", "b"): misfiled})
    status = pusher.wait_status(lambda s: len(s.errors) == 2, WAIT)

    assert status is not None and not status.synced
    assert any("unsupported kind v1/ConfigMap" in e for e in status.errors)
    assert any("identifies as" in e for e in status.errors)
    assert writes(sim) == []
