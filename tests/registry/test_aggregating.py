"""The registry thread coalesces change sets and publishes snapshots."""


from federation.model import ChangeSet, ClusterService, Locality, ServiceChange, ServiceKey
from federation.registry import Registry, RenderRequest
from tests.support import wait_for

KEY = ServiceKey("default", "reviews")


def change(ready, observed=0.0):
    svc = ClusterService("a", KEY, endpoints=((Locality("r"), ready),))
    return ChangeSet((ServiceChange("a", KEY, svc),), observed_at=observed)


def test_burst_of_changes_is_published_once_with_the_last_state():
    published = []
    reg = Registry(lambda s, d, o, f: published.append((s, d, o)), quiet=0.05, max_delay=1.0)
    for i in range(1, 11):  # queued before the thread runs: one burst
        reg.submit(change(i, observed=100.0 + i))
    reg.start()
    try:
        wait_for(lambda: published, what="a publish")
        other = ServiceKey("default", "other")
        reg.submit(ChangeSet((ServiceChange("a", other, ClusterService("a", other)),)))
        wait_for(lambda: len(published) >= 2, what="a second publish")  # the registry has moved past the burst
        assert published[1][1].services == {other}
        snapshot, delta, observed = published[0]
        assert snapshot.services[KEY]["a"].ready == 10
        assert delta.services == {KEY}
        assert observed == 101.0  # earliest observation of the batch
    finally:
        reg.stop()
    assert not reg._worker.alive


def test_requests_merge_into_the_next_publish():
    published = []
    reg = Registry(lambda s, d, o, r: published.append(r), quiet=0.01, max_delay=0.1)
    reg.request(RenderRequest(forget=frozenset({"gone"})))  # queued before the thread runs: merged
    reg.request(RenderRequest(full=True))
    reg.start()
    try:
        wait_for(lambda: published, what="a publish")
        assert published == [RenderRequest(full=True, forget=frozenset({"gone"}))]
    finally:
        reg.stop()


def test_retain_drops_what_a_cluster_no_longer_has_after_what_came_before():
    published = []
    other = ServiceKey("default", "other")
    reg = Registry(lambda s, d, o, r: published.append(s), quiet=0.01, max_delay=0.1)
    reg.start()
    try:
        reg.submit(change(1))
        reg.submit(ChangeSet((ServiceChange("a", other, ClusterService("a", other)),)))
        reg.retain("a", {other})  # judged after both changes above
        wait_for(lambda: published and KEY not in published[-1].services, what="reviews dropped")
        assert set(published[-1].services) == {other}
    finally:
        reg.stop()


def test_publish_failure_does_not_stop_the_registry():
    calls = []

    def publish(s, d, o, f):
        calls.append(s.version)
        if len(calls) == 1:
            raise RuntimeError("boom")

    reg = Registry(publish, quiet=0.01, max_delay=0.1)
    reg.start()
    try:
        reg.submit(change(1))
        wait_for(lambda: len(calls) == 1, what="the failing publish")
        reg.submit(change(2))
        wait_for(lambda: len(calls) == 2, what="a publish after the failure")
    finally:
        reg.stop()
