"""The registry thread coalesces change sets and publishes snapshots."""

import threading
import time

from federation.model import ChangeSet, ClusterService, Locality, ServiceChange, ServiceKey
from federation.registry import Registry

KEY = ServiceKey("default", "reviews")


def change(ready, observed=0.0):
    svc = ClusterService("a", KEY, endpoints=((Locality("r"), ready),))
    return ChangeSet((ServiceChange("a", KEY, svc),), observed_at=observed)


def wait_for(cond, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.01)
    return False


def test_burst_of_changes_is_published_once_with_the_last_state():
    published = []
    reg = Registry(lambda s, d, o, f: published.append((s, d, o)), quiet=0.05, max_delay=1.0)
    for i in range(1, 11):  # queued before the thread runs: one burst
        reg.submit(change(i, observed=100.0 + i))
    reg.start()
    try:
        assert wait_for(lambda: published)
        other = ServiceKey("default", "other")
        reg.submit(ChangeSet((ServiceChange("a", other, ClusterService("a", other)),)))
        assert wait_for(lambda: len(published) >= 2)  # the registry has moved past the burst
        assert published[1][1].services == {other}
        snapshot, delta, observed = published[0]
        assert snapshot.services[KEY]["a"].ready == 10
        assert delta.services == {KEY}
        assert observed == 101.0  # earliest observation of the batch
    finally:
        reg.stop()
    assert not reg._thread.is_alive()


def test_request_runs_action_on_registry_thread_and_forces_full_render():
    published = []
    threads = []
    reg = Registry(lambda s, d, o, f: published.append(f), quiet=0.01, max_delay=0.1)
    reg.start()
    try:
        reg.request(lambda snap: threads.append(threading.current_thread().name), full=True)
        assert wait_for(lambda: published)
        assert published == [True] and threads == ["registry"]
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
        assert wait_for(lambda: len(calls) == 1)
        reg.submit(change(2))
        assert wait_for(lambda: len(calls) == 2)
    finally:
        reg.stop()
