"""Several hub replicas on one store: each cluster is pushed by exactly one, and a
leaving replica's clusters move to the others without rewriting what is there."""

from __future__ import annotations

import json
import uuid
from dataclasses import replace

import pytest

from federation import errors
from federation.cli import _settings_from, build_parser
from federation.serving import HubService
from federation.hub.sharding import owner
from federation.store import open_store
from federation.store.keys import Keys
from federation.store.memory import MemoryStore
from tests.etcd_server import EtcdServer
from tests.pipeline.conftest import MANAGED, WE, sharing_replica_id
from tests.support import wait_for, writes


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
                 and len(first.hub.membership.replicas) == 2, what="both replicas see each other")

        def pushers():
            return {name: [h.replica_id for h in (first.hub, second.hub)
                           if h.members().get(name) and h.members()[name].pusher is not None]
                    for name in ("cluster-1", "cluster-2", "cluster-3")}

        wait_for(lambda: all(len(v) == 1 for v in pushers().values()), what="one pusher per cluster")
        wait_for(lambda: all(c.synced for c in second.control.status().clusters),
                 what="status seen as synced from the second replica")
        versions = {sim.name: sim.store.resource_version for sim in hub.fleet}
        first.stop()
        hub.service = None
        wait_for(lambda: all(second.hub.members()[n].pusher is not None
                             for n in ("cluster-1", "cluster-2", "cluster-3")),
                 what="second replica owns every cluster")
        wait_for(lambda: all(c.synced for c in second.control.status().clusters), what="synced after takeover")
        # the new owner found everything in place: nothing rewritten
        assert {sim.name: sim.store.resource_version for sim in hub.fleet} == versions
    finally:
        second.stop()


def test_a_replica_whose_lease_is_gone_writes_nothing_more_and_the_other_takes_over(env):
    with EtcdServer("replicas") as etcd:
        env.store.close()
        env.store = open_store(f"etcd://{etcd.endpoint}", prefix=f"/replicas-{uuid.uuid4().hex[:8]}/",
                               timeout=2.0)
        zombie = env.start_hub(lease_ttl=2, replica_id="zombie")
        env.register_all()
        wait_for(env.synced, timeout=30.0, what="every cluster synced")
        survivor = HubService(replace(zombie.settings, replica_id=sharing_replica_id("zombie")), store=env.store)
        survivor.start()
        try:
            wait_for(lambda: len(survivor.hub.membership.replicas) == 2
                     and len(zombie.hub.membership.replicas) == 2, what="both replicas see each other")
            wait_for(lambda: all(c.synced for c in survivor.control.status().clusters),
                     timeout=30.0, what="synced with two replicas")
            zombie_pushers = {n: m.pusher for n, m in zombie.hub.members().items() if m.pusher is not None}
            assert zombie_pushers, "the first replica pushes into some clusters"

            # The zombie keeps running but stops renewing its lease (as a stalled
            # or partitioned process would); it keeps believing it owns its clusters.
            zombie.hub.membership._stop.set()
            wait_for(lambda: not zombie.hub.membership.holds_lease(), timeout=10.0,
                     what="the zombie can no longer prove its lease")
            applied = {n: p.status().applies + p.status().deletes for n, p in zombie_pushers.items()}
            wait_for(lambda: all(survivor.hub.members()[n].pusher is not None for n in zombie_pushers),
                     timeout=15.0, what="the survivor took over the zombie's clusters")
            def survivor_writes():
                return {n: m.pusher.status().applies + m.pusher.status().deletes
                        for n, m in survivor.hub.members().items()}

            wait_for(lambda: all(c.synced for c in survivor.control.status().clusters),
                     timeout=30.0, what="the survivor synced after the takeover")
            marks = {sim.name: len(sim.requests()) for sim in env.fleet}
            before = survivor_writes()
            env.set_ready("cluster-1", "both", 1)
            wait_for(lambda: all(c.synced for c in survivor.control.status().clusters)
                     and _weight(env, "cluster-3") == 1, timeout=30.0, what="the survivor pushed the change")
            wait_for(lambda: all(p.status().fenced for n, p in zombie_pushers.items() if n != "cluster-1"),
                     timeout=10.0, what="the zombie's pushers refused to write")
            assert {n: p.status().applies + p.status().deletes for n, p in zombie_pushers.items()} == applied
            # every write the clusters answered is one the survivor made
            after = survivor_writes()
            for sim in env.fleet:
                written = writes(sim, marks[sim.name])
                assert len(written) == after[sim.name] - before[sim.name], (sim.name, written)
        finally:
            survivor.stop()
            env.stop_hub()
            env.store.close()
            env.store = MemoryStore()


def _weight(env, cluster):
    entries = [we for we in env.owned(cluster, WE, f"{MANAGED},federation.mesh/service-name=both")
               if we["metadata"]["labels"].get("federation.mesh/source-cluster") == "cluster-1"]
    return entries[0]["spec"].get("weight") if entries else None


def test_status_says_owner_lost_while_a_gone_replicas_status_is_all_there_is(hub):
    first = hub.service
    second = HubService(replace(first.settings, replica_id=sharing_replica_id(first.hub.replica_id)),
                        store=hub.store)
    second.start()
    try:
        wait_for(lambda: len(first.hub.membership.replicas) == 2, what="both replicas see each other")
        wait_for(lambda: any(m.pusher is not None for m in second.hub.members().values()),
                 what="the second replica pushes into some cluster")
        name = next(n for n, m in second.hub.members().items() if m.pusher is not None)
        wait_for(lambda: first.hub.shared_status(name) and first.hub.shared_status(name)["replica"]
                 == second.hub.replica_id, what="the owner shared its status")
        # What a replica that died before the current owner wrote anything leaves behind.
        stale = {**first.hub.shared_status(name), "replica": "gone-replica", "synced": True}
        hub.store.put(Keys.STATUS + name, json.dumps(stale).encode())

        row = next(c for c in first.control.status().clusters if c.name == name)
        assert (row.state, row.synced, row.owner) == ("owner lost", False, second.hub.replica_id)
        assert "owner lost: replica gone-replica is gone" in row.error
    finally:
        second.stop()


def test_replica_flags_reach_the_settings_and_a_too_short_lease_is_refused():
    settings = _settings_from(build_parser().parse_args(["serve", "--replica-id", "hub-0", "--lease-ttl", "4"]))
    settings.validate()
    assert (settings.replica_id, settings.lease_ttl) == ("hub-0", 4)
    short = _settings_from(build_parser().parse_args(["serve", "--lease-ttl", "1"]))
    with pytest.raises(errors.ConfigError, match="--lease-ttl must be at least 2"):
        short.validate()
