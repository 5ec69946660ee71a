"""The hub owns what it writes and tells the truth about it: its identity on every
object, two hubs on one cluster side by side, removal of a cluster that does not
answer, and fencing with a real etcd (a replica that cannot prove its lease
writes nothing more; status stays honest while etcd is down)."""

from __future__ import annotations

import uuid

from federation.push.digest import HUB_LABEL
from federation.serving import HubService, prepare_workdir
from federation.settings import HubSettings
from federation.store import open_store
from federation.store.memory import MemoryStore
from tests.etcd_server import EtcdServer
from tests.pipeline.conftest import MANAGED, WE
from tests.support import wait_for, writes


def test_every_object_carries_the_installations_hub_identity(hub):
    hub_id = hub.service.hub.hub_id
    assert hub_id and hub.service.control.status().hub_id == hub_id
    for sim in hub.fleet:
        objects = hub.owned(sim.name, WE)
        assert objects and all(o["metadata"]["labels"][HUB_LABEL] == hub_id for o in objects)
    # set once per installation: a restart on the same store keeps it
    hub.stop_hub()
    hub.start_hub()
    assert hub.service.hub.hub_id == hub_id


def test_two_hubs_registering_one_cluster_leave_each_others_objects_alone(hub):
    first = hub.service
    wd = prepare_workdir(hub.workdir / "second", hosts=["127.0.0.1"])
    settings = HubSettings(store_url="memory://", listen="127.0.0.1:0", tls_cert=str(wd.cert),
                           tls_key=str(wd.key), admin_token_file=str(wd.token), kek_file=str(wd.kek),
                           debounce_quiet=0.05, debounce_max=0.5, initial_sync_timeout=2.0)
    second = HubService(settings, store=MemoryStore(prefix="/other/"))
    second.start()
    try:
        before = {sim.name: sorted((o["metadata"]["name"], o["metadata"]["resourceVersion"])
                                   for o in hub.owned(sim.name, WE)) for sim in hub.fleet}
        # the second hub knows cluster-1 and cluster-3 under other names
        for theirs, ours in (("east", "cluster-1"), ("west", "cluster-3")):
            second.control.add_cluster(theirs, hub.fleet.kubeconfig_path(ours).read_text())
        wait_for(lambda: any(c.conflicts for c in second.control.status().clusters),
                 what="the second hub reports the first hub's objects")
        wait_for(lambda: any("another hub" in text for c in first.control.status().clusters
                             if c.name in ("cluster-1", "cluster-3") for text in c.conflicts),
                 what="the first hub reports the second hub's objects")
        second_id = second.hub.hub_id
        theirs = [o for o in hub.owned("cluster-3", WE) if o["metadata"]["labels"][HUB_LABEL] == second_id]
        assert theirs, "the second hub wrote its own entries beside the first hub's"
        mine = {sim.name: sorted((o["metadata"]["name"], o["metadata"]["resourceVersion"])
                                 for o in hub.owned(sim.name, WE)
                                 if o["metadata"]["labels"][HUB_LABEL] == first.hub.hub_id)
                for sim in hub.fleet}
        assert mine == before  # not one of the first hub's entries rewritten or deleted
        # the second hub removes its clusters: only its own objects go
        for name in ("east", "west"):
            assert second.control.remove_cluster(name).state == "removed"
        assert not [o for o in hub.owned("cluster-3", WE) if o["metadata"]["labels"][HUB_LABEL] == second_id]
        assert {sim.name: sorted((o["metadata"]["name"], o["metadata"]["resourceVersion"])
                                 for o in hub.owned(sim.name, WE)) for sim in hub.fleet} == before
    finally:
        second.stop()
        second.store.close()


def test_removing_a_cluster_that_does_not_answer_stays_removing_until_it_does(hub):
    control = hub.service.control
    sim = hub.sim("cluster-3")
    assert hub.owned("cluster-3", WE)
    sim.go_offline()
    result = control.remove_cluster("cluster-3")
    assert result.state == "removing" and result.error and result.left_behind, result
    row = [c for c in control.status().clusters if c.name == "cluster-3"]
    assert row and row[0].state == "removing" and "retrying" in row[0].error, row
    sim.go_online()
    wait_for(lambda: not hub.sim("cluster-3").list(*WE, label_selector=MANAGED),
             timeout=20.0, what="cleanup completed once the cluster answers")
    wait_for(lambda: all(c.name != "cluster-3" for c in control.status().clusters),
             what="status forgets the cluster once it is removed")


def test_a_forced_removal_names_what_it_leaves_behind(hub):
    control = hub.service.control
    hub.sim("cluster-2").go_offline()
    try:
        result = control.remove_cluster("cluster-2", force=True)
    finally:
        hub.sim("cluster-2").go_online()
    assert result.state == "forced"
    assert any("WorkloadEntry" in item for item in result.left_behind), result.left_behind
    assert all(c.name != "cluster-2" for c in control.status().clusters)
    assert hub.owned("cluster-2", WE), "forced: the objects were left in place"


def test_a_replica_that_cannot_prove_its_lease_writes_nothing_and_status_says_why(env):
    with EtcdServer("fencing") as etcd:
        env.store.close()
        env.store = open_store(f"etcd://{etcd.endpoint}", prefix=f"/fencing-{uuid.uuid4().hex[:8]}/",
                               timeout=1.0)
        env.start_hub(lease_ttl=3)
        env.register_all()
        wait_for(env.synced, timeout=30.0, what="every cluster synced")
        hub = env.service.hub
        targets = [env.sim("cluster-2"), env.sim("cluster-3")]

        etcd.kill()
        wait_for(lambda: not hub.membership.holds_lease(), timeout=10.0, what="lease no longer proven")
        marks = [len(sim.requests()) for sim in targets]
        env.set_ready("cluster-1", "both", 1)  # would change the entries in cluster-2 and cluster-3
        status = wait_for(lambda: _fenced(env), timeout=10.0, what="pushers refuse to write")
        assert status.store_health.startswith("unavailable"), status.store_health
        assert all(not c.synced for c in status.clusters if c.name != "cluster-1")
        assert [writes(sim, mark) for sim, mark in zip(targets, marks)] == [[], []]

        etcd.restart()
        wait_for(lambda: env.service.control.status().store_health == "ok", timeout=20.0,
                 what="store healthy again")
        wait_for(lambda: _weight(env, "cluster-3") == 1, timeout=30.0,
                 what="writes resume once the lease is proven again")
        env.stop_hub()
        env.store.close()
        env.store = MemoryStore()


def _fenced(env):
    status = env.service.control.status()
    fenced = [c for c in status.clusters if "fenced" in c.error]
    return status if len(fenced) >= 2 else None


def _weight(env, cluster):
    entries = [we for we in env.owned(cluster, WE, f"{MANAGED},federation.mesh/service-name=both")
               if we["metadata"]["labels"].get("federation.mesh/source-cluster") == "cluster-1"]
    return entries[0]["spec"].get("weight") if entries else None

