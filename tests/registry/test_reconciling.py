"""What one reconcile pass renders: a target asked for whole gets every service; the
others only what the delta touched. A cluster that joins costs the mesh the services
it brings, not a render of every service into every target."""

from __future__ import annotations

from types import SimpleNamespace

from opentelemetry import trace

from federation.hub.reconciling import Reconciler
from federation.model import ChangeSet, ClusterChange, ClusterService, ClusterState, Locality, ServiceChange, Snapshot
from federation.model.cluster import ClusterInfo
from federation.model.ids import PortSpec, ServiceKey
from federation.model.policies import PolicySet
from federation.model.snapshot import Delta
from federation.registry import COMPLETE, FULL, RenderRequest


class Handed:
    """The pusher's side of the hand-over: what each pass gave it."""

    def __init__(self):
        self.updates: list[dict] = []
        self.full: list[dict] = []

    def update(self, changes, observed_at=None):
        self.updates.append(dict(changes))

    def replace_all(self, desired, observed_at=None):
        self.full.append(dict(desired))


class Recording(Reconciler):
    def __init__(self):
        super().__init__("cluster.local", PolicySet, trace.get_tracer("test"))
        self.scopes: dict[str, tuple] = {}

    def render(self, snapshot, target, scope=None, policies=None, shared=None):
        self.scopes[target] = scope.services
        return super().render(snapshot, target, scope, policies, shared)


def service(cluster: str, name: str) -> ServiceChange:
    key = ServiceKey("default", name)
    return ServiceChange(cluster, key, ClusterService(cluster, key, ports=(PortSpec("http", 80, "HTTP"),),
                                                      selector=(("app", name),),
                                                      endpoints=((Locality("r", "z"), 2),)))


def cluster(name: str, network: str) -> ClusterChange:
    return ClusterChange(name, ClusterInfo(name, network=network, gateways=(f"172.18.{name[-1]}.10",),
                                           namespaces=frozenset({"default"})))


def member(name: str):
    return SimpleNamespace(pusher=Handed(), rendered=False, state=ClusterState.SYNCED, full_pushed=False)


def test_a_joining_cluster_is_rendered_whole_and_the_others_get_only_what_it_brings():
    reconciler = Recording()
    members = {"c1": member("c1"), "c2": member("c2")}
    snapshot, delta = Snapshot().apply(ChangeSet((
        cluster("c1", "n1"), cluster("c2", "n2"),
        *(service("c1", f"s{i}") for i in range(5)), *(service("c2", f"s{i}") for i in range(5)))))
    reconciler.reconcile(snapshot, delta, 0.0, FULL, members, complete=True)
    assert {t: len(s) for t, s in reconciler.scopes.items()} == {"c1": 5, "c2": 5}

    members["c3"] = member("c3")  # joins with one service of its own and one of the others'
    snapshot, delta = snapshot.apply(ChangeSet((cluster("c3", "n3"), service("c3", "s0"), service("c3", "new"))))
    reconciler.scopes.clear()
    reconciler.reconcile(snapshot, delta, 0.0, RenderRequest(whole=frozenset({"c3"})), members, complete=True)

    keys = lambda target: sorted(k.name for k in reconciler.scopes[target])  # noqa: E731
    assert keys("c3") == ["new", "s0", "s1", "s2", "s3", "s4"]
    assert keys("c1") == keys("c2") == ["new", "s0"]  # what c3 brings, not every service again
    # what the others got: c3's endpoints of s0 and the new service, nothing of s1..s4
    for name in ("c1", "c2"):
        [changes] = members[name].pusher.updates
        assert sorted((ref[1], ref[3]) for ref in changes) == [
            ("DestinationRule", "federation-new"), ("Service", "new"),
            ("WorkloadEntry", "fed-new-c3"), ("WorkloadEntry", "fed-s0-c3")]
    assert members["c3"].pusher.full and members["c3"].full_pushed


def test_a_target_the_snapshot_does_not_know_yet_is_rendered_whole_once_it_does():
    reconciler = Recording()
    members = {"c1": member("c1"), "c2": member("c2")}  # c2's pusher started before its watcher listed
    snapshot, delta = Snapshot().apply(ChangeSet((cluster("c1", "n1"), *(service("c1", f"s{i}") for i in range(3)))))
    reconciler.reconcile(snapshot, delta, 0.0, RenderRequest(whole=frozenset({"c1", "c2"})), members, complete=False)
    assert reconciler.scopes["c2"] == () and not members["c2"].rendered  # nothing to give it yet

    snapshot, delta = snapshot.apply(ChangeSet((cluster("c2", "n2"), service("c2", "s0"))))
    reconciler.scopes.clear()
    reconciler.reconcile(snapshot, delta, 0.0, RenderRequest(), members, complete=False)
    keys = lambda target: sorted(k.name for k in reconciler.scopes[target])  # noqa: E731
    assert keys("c2") == ["s0", "s1", "s2"] and members["c2"].rendered  # every service, unasked
    assert keys("c1") == ["s0"]
    given = {(ref[1], ref[3]) for ref in members["c2"].pusher.updates[-1]}
    assert {("WorkloadEntry", "fed-s1-c1"), ("WorkloadEntry", "fed-s2-c1"), ("Service", "s1")} <= given


def test_complete_renders_nothing_and_hands_each_pusher_its_complete_set():
    reconciler = Recording()
    members = {"c1": member("c1"), "c2": member("c2")}
    snapshot, delta = Snapshot().apply(ChangeSet((
        cluster("c1", "n1"), cluster("c2", "n2"), *(service("c1", f"s{i}") for i in range(3)), service("c2", "x"))))
    reconciler.reconcile(snapshot, delta, 0.0, FULL, members, complete=False)
    assert not any(m.pusher.full or m.full_pushed for m in members.values())  # pruning waits
    reconciler.scopes.clear()
    reconciler.reconcile(snapshot, Delta(), 0.0, COMPLETE, members, complete=True)
    assert reconciler.scopes == {"c1": (), "c2": ()}
    for m in members.values():
        [handed] = m.pusher.updates
        assert m.full_pushed and m.pusher.full == [handed]  # the set rendered before, whole


def test_requests_for_whole_targets_merge_and_say_which():
    merged = RenderRequest(whole=frozenset({"a"})) | RenderRequest(forget=frozenset({"b"})) \
        | RenderRequest(whole=frozenset({"c"}))
    assert merged == RenderRequest(forget=frozenset({"b"}), whole=frozenset({"a", "c"}))
    assert merged and merged.renders_whole("a") and not merged.renders_whole("b")
    assert FULL.renders_whole("anything") and not RenderRequest()
    assert COMPLETE and (merged | COMPLETE).complete and not COMPLETE.renders_whole("a")
