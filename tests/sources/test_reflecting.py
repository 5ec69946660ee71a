"""The Reflector on its own, against a simulated cluster over HTTPS."""

from __future__ import annotations

import threading
from urllib.parse import parse_qs, urlsplit

import pytest

from federation import errors
from federation.kube.client import SERVICE, KubeClient, ResourceType
from federation.sources.reflecting import Kept, Reflector, ReflectorEvent, leading_version, slim_identity
from tests.sources.support import CORE, fast_settings, namespace, service
from tests.support import wait_for


class Recorder:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.events: list[ReflectorEvent] = []
        self.synced = 0
        self.failures: list[tuple[Exception, int]] = []

    def on_event(self, event: ReflectorEvent) -> None:
        with self.lock:
            self.events.append(event)

    def on_synced(self) -> None:
        with self.lock:
            self.synced += 1

    def on_failure(self, exc: Exception, consecutive: int) -> None:
        with self.lock:
            self.failures.append((exc, consecutive))

    def seen(self, mark: int = 0) -> list[tuple[str, str, bool]]:
        with self.lock:
            return [(e.type, e.obj["metadata"]["name"], e.relisted) for e in self.events[mark:]]


@pytest.fixture
def reflect():
    started: list[tuple[Reflector, KubeClient]] = []

    def start(sim, rtype: ResourceType, token: str | None = None, **kwargs) -> tuple[Reflector, Recorder]:
        recorder = Recorder()
        kube = KubeClient(sim.name, sim.kubeconfig_dict(token), timeout=5.0)
        kwargs.setdefault("settings", fast_settings())
        reflector = Reflector(kube, rtype, recorder.on_event, recorder.on_synced, threading.Event(),
                              on_failure=recorder.on_failure, **kwargs)
        started.append((reflector, kube))
        reflector.start()
        return reflector, recorder

    yield start
    for reflector, kube in started:
        reflector.stop()
        assert reflector.join(5.0), "reflector thread did not stop"
        kube.close()


def test_list_then_watch_keeps_a_cache_of_raw_objects(make_sim, reflect):
    sim = make_sim()
    sim.apply(namespace("shop"))
    sim.apply(service("shop", "a"))
    reflector, rec = reflect(sim, SERVICE)
    wait_for(lambda: rec.synced == 1, what="the first list")
    assert rec.seen() == [("ADDED", "a", True)]
    assert set(reflector.cache) == {"shop/a"}
    assert reflector.cache["shop/a"]["spec"]["selector"] == {"app": "a"}

    mark = len(rec.events)
    sim.apply(service("shop", "b"))
    sim.apply(service("shop", "a", labels={"v": "2"}))
    sim.delete(CORE, "Service", "b", "shop")
    wait_for(lambda: len(rec.seen(mark)) == 3, what="three watch events")
    assert rec.seen(mark) == [("ADDED", "b", False), ("MODIFIED", "a", False), ("DELETED", "b", False)]
    assert set(reflector.cache) == {"shop/a"}
    assert reflector.cache["shop/a"]["metadata"]["labels"] == {"v": "2"}
    assert reflector.lists == 1


def test_relist_after_410_emits_synthetic_deletes_and_only_real_changes(make_sim, reflect):
    sim = make_sim()
    sim.apply(namespace("shop"))
    for name in ("keep", "change", "drop"):
        sim.apply(service("shop", name))
    reflector, rec = reflect(sim, SERVICE)
    wait_for(lambda: rec.synced == 1 and sim.active_watches() == 1, what="list and watch")
    mark = len(rec.events)
    sim.set_latency(0.5)
    sim.cut_watches()
    sim.delete(CORE, "Service", "drop", "shop")
    sim.apply(service("shop", "change", labels={"v": "2"}))
    sim.apply(service("shop", "new"))
    sim.compact()
    sim.set_latency(0)
    wait_for(lambda: rec.synced == 2, what="the relist")
    assert reflector.expirations >= 1
    assert sorted(rec.seen(mark)) == [("ADDED", "new", True), ("DELETED", "drop", True),
                                      ("MODIFIED", "change", True)]
    assert set(reflector.cache) == {"shop/keep", "shop/change", "shop/new"}


def test_a_slim_cache_keeps_versions_and_a_relist_delete_carries_the_identity_rebuilt(make_sim, reflect):
    sim = make_sim()
    sim.apply(namespace("shop"))
    for name in ("keep", "drop"):
        sim.apply(service("shop", name, labels={"team": name}))
    reflector, rec = reflect(sim, SERVICE, slim=slim_identity)
    wait_for(lambda: rec.synced == 1 and sim.active_watches() == 1, what="list and watch")
    dropped = sim.get(CORE, "Service", "drop", "shop")["metadata"]
    assert reflector.cache["shop/drop"] == Kept(dropped["resourceVersion"], {"team": "drop"})
    mark = len(rec.events)
    sim.set_latency(0.5)
    sim.cut_watches()
    sim.delete(CORE, "Service", "drop", "shop")
    sim.compact()
    sim.set_latency(0)
    wait_for(lambda: rec.synced == 2, what="the relist")
    assert rec.seen(mark) == [("DELETED", "drop", True)]  # "keep" is unchanged: its version says so
    assert rec.events[mark].obj == {"metadata": {"name": "drop", "namespace": "shop", "resourceVersion":
                                                 dropped["resourceVersion"], "labels": {"team": "drop"}}}
    assert set(reflector.cache) == {"shop/keep"}


def test_an_event_known_by_its_version_is_cached_unparsed_and_never_delivered(make_sim, reflect):
    sim = make_sim()
    sim.apply(namespace("shop"))
    for name in ("mine", "theirs"):
        sim.apply(service("shop", name))
    asked: list[str] = []

    def known(version: str):
        asked.append(version)  # "mine" as it is now: the version its last write answered
        if sim.get(CORE, "Service", "mine", "shop")["metadata"]["resourceVersion"] == version:
            return "shop/mine", Kept(version, {"ours": "yes"})
        return None

    reflector, rec = reflect(sim, SERVICE, slim=slim_identity, known=known)
    wait_for(lambda: rec.synced == 1 and sim.active_watches() == 1, what="list and watch")
    mark = len(rec.events)
    sim.apply(service("shop", "mine", labels={"v": "2"}))
    sim.apply(service("shop", "theirs", labels={"v": "2"}))
    wait_for(lambda: len(rec.events) > mark, what="the other object's event")
    mine = sim.get(CORE, "Service", "mine", "shop")["metadata"]["resourceVersion"]
    theirs = sim.get(CORE, "Service", "theirs", "shop")["metadata"]["resourceVersion"]
    assert rec.seen(mark) == [("MODIFIED", "theirs", False)]
    assert reflector.skipped == 1 and asked == [mine, theirs]
    assert reflector.cache["shop/mine"] == Kept(mine, {"ours": "yes"})
    assert reflector.resource_version == theirs


@pytest.mark.parametrize("line, version", [
    # a typed object: metadata right after kind and apiVersion
    (b'{"type":"MODIFIED","object":{"kind":"Service","apiVersion":"v1","metadata":{"name":"a",'
     b'"namespace":"b","uid":"u","resourceVersion":"812","labels":{"x":"y"}},"spec":{}}}', "812"),
    # a custom resource, keys sorted: annotations (one holding JSON) and managedFields come first
    (b'{"type":"ADDED","object":{"apiVersion":"networking.istio.io/v1","kind":"WorkloadEntry","metadata":'
     b'{"annotations":{"last":"{\\"metadata\\":{\\"resourceVersion\\":\\"1\\"}}"},"managedFields":'
     b'[{"fieldsV1":{"f:spec":{"f:resourceVersion":{}}}}],"name":"a","resourceVersion":"77"},'
     b'"spec":{"resourceVersion":"5"}}}', "77"),
    (b'{"type":"DELETED","object":{"metadata":{"resourceVersion":"9"}}}', None),
    (b'{"type":"BOOKMARK","object":{"metadata":{"resourceVersion":"9"}}}', None),
    (b'{"type":"ERROR","object":{"code":410}}', None),
    (b'{"type":"MODIFIED","object":{"metadata":{"name":"a"}}}', None),
    (b'{"type":"MODIFIED","object":{"metadata":{"resourceVersion":""}}}', None),
    (b'{"type":"MODIFIED","object":{"metadata":{"resourceVersion":"\xff"}}}', None),
])
def test_the_leading_version_of_an_event_line_is_its_objects_own(line, version):
    assert leading_version(line) == version


def test_label_selector_reports_objects_leaving_it_as_deleted(make_sim, reflect):
    sim = make_sim()
    sim.apply(namespace("shop"))
    sim.apply(service("shop", "a", labels={"pick": "yes"}))
    sim.apply(service("shop", "b"))
    reflector, rec = reflect(sim, SERVICE, label_selector="pick=yes")
    wait_for(lambda: rec.synced == 1, what="the first list")
    assert set(reflector.cache) == {"shop/a"}
    mark = len(rec.events)
    sim.apply(service("shop", "a", labels={"pick": "no"}))
    wait_for(lambda: rec.seen(mark), what="the object leaving the selector")
    assert rec.seen(mark) == [("DELETED", "a", False)]
    assert reflector.cache == {}


def test_a_kind_the_server_lacks_counts_as_empty_when_allowed(make_sim, reflect):
    sim = make_sim()
    widgets = ResourceType("example.com", "v1", "widgets", "Widget")
    reflector, rec = reflect(sim, widgets, missing_ok=True)
    wait_for(lambda: rec.synced == 1, what="the empty list")
    assert reflector.missing and reflector.cache == {} and rec.failures == []


def test_errors_that_are_not_transient_are_reported_and_retried_slower(make_sim, reflect):
    sim = make_sim()
    reflector, rec = reflect(sim, SERVICE, token="wrong-token")
    wait_for(lambda: len(rec.failures) >= 2, what="two failed attempts")
    assert all(isinstance(exc, errors.AuthError) for exc, _ in rec.failures)
    assert [n for _, n in rec.failures[:2]] == [1, 2]
    assert rec.synced == 0 and reflector.alive


def test_transient_failures_back_off_and_recover(make_sim, reflect):
    sim = make_sim()
    sim.apply(namespace("shop"))
    sim.apply(service("shop", "a"))
    sim.fail_next(3, 500)
    reflector, rec = reflect(sim, SERVICE)
    wait_for(lambda: rec.synced == 1, what="the list after the errors")
    assert [n for _, n in rec.failures] == [1, 2, 3]
    assert all(isinstance(exc, errors.Transient) for exc, _ in rec.failures)
    assert set(reflector.cache) == {"shop/a"}


def test_watches_ask_for_between_one_and_two_watch_timeouts(make_sim, reflect):
    """Watches opened together must not all end, and reconnect, together."""
    sim = make_sim()
    recorders = [reflect(sim, SERVICE, label_selector=f"n={i}")[1] for i in range(6)]
    wait_for(lambda: sum(1 for r in sim.requests() if "watch=1" in r.path) >= 6, what="six watches")
    asked = [int(parse_qs(urlsplit(r.path).query)["timeoutSeconds"][0])
             for r in sim.requests() if "watch=1" in r.path]
    timeout = fast_settings().watch_timeout
    assert all(timeout <= s <= 2 * timeout for s in asked), asked
    assert len(set(asked)) > 1, f"every watch asked for {asked[0]}s"
    assert all(r.failures == [] for r in recorders)
