"""The reason in words a cluster's status gives, and ``status --watch``."""

from __future__ import annotations

import threading

from federation import cli
from federation.api.control import ClusterStatus
from federation.check.reasons import error_reason, explain
from federation.check.watching import watch
from federation.serving import prepare_workdir
from tests.pipeline.conftest import env, hub  # noqa: F401  (fixtures)
from tests.support import wait_for

FORBIDDEN = ("cluster 'c3': PATCH /apis/networking.istio.io/v1/namespaces/shop/workloadentries/"
             "federation-both-c1?fieldManager=mesh-federation: 403 workloadentries is forbidden")


def test_rbac_denial_names_the_verb_and_resource():
    status = ClusterStatus(name="c3", state="synced", error=FORBIDDEN)
    assert explain(status) == "RBAC denies patch workloadentries.networking.istio.io in shop"
    listing = ClusterStatus(name="c3", state="syncing",
                            error="cluster 'c3': GET /api/v1/nodes: 403 nodes is forbidden")
    assert explain(listing) == "RBAC denies list nodes"
    assert error_reason(FORBIDDEN) == "rbac-denied"


def test_missing_crd_conflicts_owner_lost_and_first_sync():
    crd = ClusterStatus(name="c", state="synced", error=(
        "cluster 'c': PATCH /apis/networking.istio.io/v1/destinationrules: 404 the server could not "
        "find the requested resource"))
    assert explain(crd).startswith("CRD missing: the cluster does not serve destinationrules.networking.istio.io")
    conflict = ClusterStatus(name="c", state="synced", synced=True,
                             conflicts=("DestinationRule shop/federation-both owned by kubectl",))
    assert explain(conflict) == "1 conflict(s): DestinationRule shop/federation-both owned by kubectl"
    lost = ClusterStatus(name="c", state="owner lost", error="owner lost: replica r1 is gone; r2 has not taken over yet")
    assert explain(lost) == "owner lost: replica r1 is gone"
    assert explain(ClusterStatus(name="c", state="syncing")) == "first sync in progress"
    assert explain(ClusterStatus(name="c", state="synced", synced=True)) == ""


def test_an_unreachable_cluster_says_so_and_why(hub):  # noqa: F811
    hub.sim("cluster-2").go_offline()
    try:
        status = wait_for(lambda: next((c for c in hub.service.control.status().clusters
                                        if c.name == "cluster-2" and c.state in ("unreachable", "stale")), None),
                          what="cluster-2 unreachable")
        reason = explain(status)
        # The watcher's cause reaches the status: what failed, and where.
        assert reason.startswith("unreachable: connection refused (or no route) at https://127."), reason
        assert reason.endswith("keeping its last-known endpoints (stale)"), reason
    finally:
        hub.sim("cluster-2").go_online()


def test_status_prints_the_reason_and_watch_prints_each_change(hub, capsys):  # noqa: F811
    wd = prepare_workdir(hub.workdir / "hub", hosts=["127.0.0.1"])
    flags = ["--hub", hub.service.api.address, "--ca", str(wd.ca), "--token-file", str(wd.token)]
    assert cli.main(["status", *flags]) == 0
    out = capsys.readouterr().out
    assert "REASON" in out.splitlines()[1]
    assert cli.main(["status", "-o", "json", *flags]) == 0
    assert '"reason": ""' in capsys.readouterr().out

    printed: list[str] = []
    stop = threading.Event()

    def fetch() -> str:
        rows = hub.service.control.status().clusters
        return "\n".join(f"{c.name} {c.state} {explain(c)}" for c in rows)

    def write(text: str) -> None:
        printed.append(text)
        if len(printed) == 1:
            hub.sim("cluster-3").go_offline()  # a change the watch must show
        elif len(printed) == 2:
            stop.set()

    watcher = threading.Thread(target=watch, args=(fetch, write), kwargs={"interval": 0.1, "stop": stop})
    watcher.start()
    try:
        assert stop.wait(30), f"the watch printed only {printed}"
    finally:
        stop.set()
        watcher.join(10)
        hub.sim("cluster-3").go_online()
    assert "cluster-3 synced" in printed[0]
    assert "cluster-3 unreachable" in printed[1] or "cluster-3 stale" in printed[1]
