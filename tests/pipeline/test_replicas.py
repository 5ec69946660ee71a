"""Several hub replicas on one store: each cluster is pushed by exactly one, and a
leaving replica's clusters move to the others without rewriting what is there."""

from __future__ import annotations

from federation.serving import HubService
from federation.sharding import owner
from tests.pipeline.conftest import wait_for


def test_owner_is_stable_and_moves_only_the_leaving_replicas_clusters():
    clusters = [f"cluster-{i}" for i in range(50)]
    three = {c: owner(c, ["a", "b", "c"]) for c in clusters}
    two = {c: owner(c, ["a", "b"]) for c in clusters}
    assert set(three.values()) == {"a", "b", "c"}
    moved = [c for c in clusters if three[c] != two[c]]
    assert moved and all(three[c] == "c" for c in moved)
    assert owner("x", []) is None


def test_two_replicas_share_the_clusters_and_one_takes_over_when_the_other_leaves(hub):
    first = hub.service
    second = HubService(first.settings, store=hub.store)
    second.start()
    try:
        wait_for(lambda: first.hub.membership.replicas == second.hub.membership.replicas
                 and len(first.hub.membership.replicas) == 2, message="both replicas see each other")

        def pushers():
            return {name: [h.replica_id for h in (first.hub, second.hub)
                           if h.members().get(name) and h.members()[name].pusher is not None]
                    for name in ("cluster-1", "cluster-2", "cluster-3")}

        wait_for(lambda: all(len(v) == 1 for v in pushers().values()), message="one pusher per cluster")
        wait_for(lambda: all(c.synced for c in second.control.status().clusters),
                 message="status seen as synced from the second replica")
        versions = {sim.name: sim.store.resource_version for sim in hub.fleet}
        first.stop()
        hub.service = None
        wait_for(lambda: all(second.hub.members()[n].pusher is not None
                             for n in ("cluster-1", "cluster-2", "cluster-3")),
                 message="second replica owns every cluster")
        wait_for(lambda: all(c.synced for c in second.control.status().clusters), message="synced after takeover")
        # the new owner found everything in place: nothing rewritten
        assert {sim.name: sim.store.resource_version for sim in hub.fleet} == versions
    finally:
        second.stop()
