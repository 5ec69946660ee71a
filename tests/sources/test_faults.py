"""Watch resumption, relists, retries, unreachable clusters and stopping, over real HTTPS."""

from __future__ import annotations

import threading

from federation.model import ServiceChange
from federation.model.ids import ServiceKey
from federation.sources.cluster_watching import ClusterWatcher
from tests.sources.support import CORE, endpoint, endpoint_slice, namespace, node, service
from tests.support import wait_for

WEB = ServiceKey("shop", "web")


def seed(sim, ready: int = 1) -> None:
    sim.apply(namespace("istio-system", {"topology.istio.io/network": f"net-{sim.name}"}))
    sim.apply(namespace("shop"))
    sim.apply(node("n1", "r1", "z1"))
    sim.apply(service("shop", "web"))
    scale(sim, ready)


def scale(sim, ready: int, name: str = "web") -> None:
    sim.apply(endpoint_slice("shop", f"{name}-1", name,
                             [endpoint(f"10.1.0.{i + 1}", "n1") for i in range(ready)]))


def ready_of(sink, key: ServiceKey = WEB) -> int:
    service = sink.services().get(key)
    return service.ready if service else -1


def counters(watcher: ClusterWatcher) -> dict:
    return {kind: (r.lists, r.expirations) for kind, r in watcher.reflectors.items()}


def test_cut_watch_resumes_without_relist_and_without_missing_events(make_sim, watch):
    sim = make_sim()
    seed(sim)
    watcher, sink = watch(sim)
    sink.wait_state("synced")
    wait_for(lambda: sim.active_watches() == len(watcher.reflectors), what="every watch open")
    before = counters(watcher)
    slices = watcher.reflectors["EndpointSlice"]
    watches_before = slices.watches
    for graceful in (False, True):  # connection reset, then a normal end of stream
        assert sim.cut_watches(graceful=graceful) >= 1
        for ready in (2, 3, 4):  # changes right after the cut, while the watch reopens
            scale(sim, ready + (2 if graceful else 0))
        expected = 4 + (2 if graceful else 0)
        wait_for(lambda: ready_of(sink) == expected, what=f"{expected} ready endpoints")
    assert counters(watcher) == before, "no relist and no 410"
    assert slices.watches >= watches_before + 2
    # every step was seen, in order
    assert [c.service.ready for c in sink.service_changes(key=WEB)] == [1, 2, 3, 4, 5, 6]


def test_410_on_rewatch_relists_and_reconciles_deletions(make_sim, watch):
    sim = make_sim()
    seed(sim)
    sim.apply(service("shop", "gone"))
    watcher, sink = watch(sim)
    sink.wait_state("synced")
    wait_for(lambda: sim.active_watches() == len(watcher.reflectors), what="every watch open")
    services = watcher.reflectors["Service"]
    lists_before = services.lists
    mark = sink.mark()
    # Hold new requests while the watches are cut, delete, and expire the history:
    # the rewatch from the old resourceVersion gets a 410.
    sim.set_latency(0.5)
    sim.cut_watches()
    sim.delete(CORE, "Service", "gone", "shop")
    sim.compact()
    sim.set_latency(0)
    changes = wait_for(lambda: sink.service_changes(mark), what="the reconciled deletion")
    assert changes == [ServiceChange("c1", ServiceKey("shop", "gone"), None)]
    assert services.expirations >= 1
    assert services.lists == lists_before + 1
    assert ServiceKey("shop", "gone") not in sink.services()
    # and the watch works again afterwards
    sim.apply(service("shop", "after"))
    wait_for(lambda: ServiceKey("shop", "after") in sink.services(), what="a service after the relist")


def test_server_errors_are_retried(make_sim, watch):
    sim = make_sim()
    seed(sim)
    sim.fail_next(4, 500)  # the first lists fail
    watcher, sink = watch(sim)
    sink.wait_state("synced")
    assert ready_of(sink) == 1
    sim.fail_next(3, 503)
    sim.cut_watches()  # the reopened watches meet the errors
    scale(sim, 5)
    wait_for(lambda: ready_of(sink) == 5, what="the change after the errors")
    wait_for(lambda: watcher.state == "synced" and not sink.info().stale, what="a healthy watcher")


def test_unreachable_cluster_goes_stale_others_keep_emitting_then_reconciles(make_sim, watch):
    sim_a, sim_b = make_sim("a"), make_sim("b")
    seed(sim_a, ready=2)
    sim_a.apply(service("shop", "old"))
    seed(sim_b, ready=1)
    watcher_a, sink_a = watch(sim_a)
    _, sink_b = watch(sim_b)
    sink_a.wait_state("synced")
    sink_b.wait_state("synced")

    sim_a.go_offline()
    sink_a.wait_state("stale")
    info = sink_a.info()
    assert info.stale and info.network == "net-a"
    assert ready_of(sink_a) == 2, "last-known services are kept"
    assert not [c for c in sink_a.service_changes() if c.service is None]

    # The other cluster is unaffected while "a" is down.
    scale(sim_b, 3)
    wait_for(lambda: ready_of(sink_b) == 3, what="cluster b's change while a is down")
    assert "stale" not in sink_b.states

    # Changes made while unreachable are reconciled when it comes back.
    sim_a.delete(CORE, "Service", "old", "shop")
    scale(sim_a, 4)
    mark = sink_a.mark()
    sim_a.go_online()
    wait_for(lambda: sink_a.states[-1] == "synced" and not sink_a.info().stale, timeout=15,
             what="cluster a back and fresh")
    assert ready_of(sink_a) == 4
    assert ServiceChange("a", ServiceKey("shop", "old"), None) in sink_a.service_changes(mark)
    assert watcher_a.state == "synced"


def test_unreachable_before_first_sync_emits_nothing(make_sim, watch):
    sim = make_sim()
    seed(sim)
    sim.go_offline()
    _, sink = watch(sim)
    sink.wait_state("unreachable")
    assert sink.since() == []
    sim.go_online()
    sink.wait_state("synced", timeout=15)
    assert ready_of(sink) == 1


def test_bookmarks_advance_the_resume_point(make_sim, watch):
    sim = make_sim(bookmark_interval=0.2)
    seed(sim)
    watcher, sink = watch(sim)
    sink.wait_state("synced")
    services = watcher.reflectors["Service"]
    start = int(services.resource_version)
    created = sim.apply(node("n9", "r1", "z9"))  # another kind: no Service event
    target = int(created["metadata"]["resourceVersion"])
    assert target > start
    wait_for(lambda: int(services.resource_version) >= target, what="a bookmark past the node's version")


def test_stop_ends_every_thread_promptly(make_sim, watch):
    sim = make_sim()
    seed(sim)
    watcher, sink = watch(sim)
    sink.wait_state("synced")
    wait_for(lambda: sim.active_watches() == len(watcher.reflectors), what="every watch open")
    assert watcher.stop(timeout=5.0)
    assert not [t for t in threading.enumerate() if t.name.startswith("reflect-a")]
    assert not [r for r in watcher.reflectors.values() if r.alive]


def test_stop_while_backing_off_from_an_unreachable_cluster(make_sim, watch):
    sim = make_sim()
    sim.go_offline()
    watcher, sink = watch(sim)
    sink.wait_state("unreachable")
    assert watcher.stop(timeout=5.0)
    assert not [r for r in watcher.reflectors.values() if r.alive]
