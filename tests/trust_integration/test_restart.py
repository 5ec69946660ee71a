"""No cacerts gap: a hub restarted on the same store never prunes or rewrites a
member's existing ``cacerts``, even when it may prune as soon as a member synced.

Any write to the Secret changes its resourceVersion, and a delete followed by a
create changes its uid: both staying the same through the restart, the first
full push and later keeper passes shows the Secret was never touched.
"""

from __future__ import annotations

import uuid

from federation.hub.app import Hub
from federation.store import open_store
from federation.trust import TrustAuthority
from federation.trust.keeping import TrustKeeper
from federation.trust.sealing import load_kek

from .support import hub_settings
from tests.support import wait_for

CLUSTERS = ("cluster-1", "cluster-2", "cluster-3")


def _identity(readers, name):
    return readers[name].cacerts_identity()


def _store(etcd_server) -> dict:
    return dict(store_url=f"etcd://{etcd_server.endpoint}",
                store_prefix=f"/trust-gap-{uuid.uuid4().hex[:8]}/")


def _cacerts_written_by_a_first_hub(hubs, fleet, readers, store: dict) -> dict:
    """A hub registers the clusters and creates the root, its cacerts land, it stops;
    returns each cluster's cacerts (uid, resourceVersion)."""
    first = hubs(**store)
    first.register(fleet, *CLUSTERS)
    first.client.init_root()
    readers.wait_cacerts(CLUSTERS, step=0)
    wait_for(lambda: all(c.synced for c in first.service.control.status().clusters),
             what="the first hub synced")
    before = {name: _identity(readers, name) for name in CLUSTERS}
    first.stop()
    return before


def test_a_restarted_hub_never_prunes_or_rewrites_existing_cacerts(hubs, fleet, readers, etcd_server):
    store = _store(etcd_server)
    before = _cacerts_written_by_a_first_hub(hubs, fleet, readers, store)

    # Pruning allowed as soon as a member synced: the shortest window there is.
    second = hubs(**store, initial_sync_timeout=0.0)
    wait_for(lambda: len(second.service.control.status().clusters) == len(CLUSTERS)
             and all(c.synced for c in second.service.control.status().clusters),
             what="the restarted hub synced (its first full push done, pruning allowed)")
    keeper = second.service.trust_keeper
    for _ in range(3):  # and the keeper's own passes afterwards
        keeper.run_once()
    for name in CLUSTERS:
        assert keeper.cluster_objects(name), f"{name}: the keeper holds its cacerts"
    assert {name: _identity(readers, name) for name in CLUSTERS} == before


def test_a_hub_whose_keeper_never_ran_still_pushes_each_clusters_existing_cacerts(
        hubs, fleet, readers, etcd_server, wd):
    """The window at its widest: the restarted hub renders, syncs and may prune
    before its trust keeper ever ran (nor primed). The first full desired set of
    each cluster still holds its cacerts, so nothing is pruned or rewritten."""
    settings = _store(etcd_server)
    before = _cacerts_written_by_a_first_hub(hubs, fleet, readers, settings)
    store_url, prefix = settings["store_url"], settings["store_prefix"]

    store = open_store(store_url, prefix=prefix)
    kek = load_kek(wd.kek)
    hub = Hub(hub_settings(wd, store_url=store_url, store_prefix=prefix, initial_sync_timeout=0.0),
              store, kek)
    keeper = TrustKeeper(hub, TrustAuthority(store, kek))  # never started, never primed
    hub.add_cluster_objects(keeper)
    hub.start()
    try:
        wait_for(lambda: len(hub.members()) == len(CLUSTERS) and all(
            m.pusher is not None and m.full_pushed and m.pusher.status().synced
            for m in hub.members().values()),
            what="every cluster's first full push done and synced")
        assert {name: _identity(readers, name) for name in CLUSTERS} == before
    finally:
        hub.stop()
        hub.telemetry.shutdown()
        store.close()
