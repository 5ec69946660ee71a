"""Export and import scope on simulated clusters: cluster labels through the API and
the command line, per-Service export settings and import selectors."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from federation import cli, errors
from federation.catalog import ClusterRecord, dump_cluster_record, load_cluster_record
from tests.pipeline.conftest import DR, MANAGED, NS, SVC, TOPOLOGY, WE
from tests.support import wait_for

SELECTOR = "federation.mesh/import-selector"
LABELS = {"cluster-1": {"env": "prod", "tier": "gold"}, "cluster-2": {"env": "prod"}, "cluster-3": {"env": "dev"}}


def run(env, capsys, *args) -> tuple[int, str, str]:
    wd = env.workdir / "hub"
    code = cli.main([*args, "--hub", env.service.api.address, "--ca", str(wd / "tls" / "ca.crt"),
                     "--token-file", str(wd / "admin-token")])
    out, err = capsys.readouterr()
    return code, out, err


def labels_in_snapshot(env, cluster: str) -> dict:
    info = env.service.hub.snapshot.clusters.get(cluster)
    return dict(info.labels) if info else {}


@pytest.fixture
def labelled(env, capsys):
    """The hub with cluster-1 and cluster-2 registered through the API, cluster-3 through
    ``federation cluster add --label``."""
    env.start_hub()
    for name in ("cluster-1", "cluster-2"):
        env.service.control.add_cluster(name, env.fleet.kubeconfig_path(name).read_text(), labels=LABELS[name])
    code, out, err = run(env, capsys, "cluster", "add", "cluster-3", "--kubeconfig",
                         str(env.fleet.kubeconfig_path("cluster-3")), "--label", "env=dev")
    assert code == 0, err
    wait_for(env.synced, what="every cluster synced")
    return env


def test_cluster_labels_round_trip_through_the_api_and_cluster_list(labelled, capsys):
    code, out, err = run(labelled, capsys, "cluster", "list", "-o", "json")
    assert code == 0, err
    assert {row["name"]: row["labels"] for row in json.loads(out)} == LABELS
    _, table, _ = run(labelled, capsys, "cluster", "list")
    header, *rows = table.splitlines()
    assert "LABELS" in header.split()
    assert [row.split()[0] for row in rows if "env=prod,tier=gold" in row] == ["cluster-1"]
    for name in TOPOLOGY:  # and they reach the snapshot, where render reads them
        wait_for(lambda n=name: labels_in_snapshot(labelled, n) == LABELS[n], what=f"{name}'s labels in the snapshot")


def test_a_bad_label_is_refused_naming_it_and_registers_nothing(env, capsys):
    env.start_hub()
    code, _, err = run(env, capsys, "cluster", "add", "cluster-1", "--kubeconfig",
                       str(env.fleet.kubeconfig_path("cluster-1")), "--label", "env=pr od")
    assert code == 1 and "--label.env: 'pr od' is not a valid label value" in err
    with pytest.raises(errors.ValidationError, match="labels: 'bad key' is not a valid label key"):
        env.service.control.add_cluster("cluster-1", env.fleet.kubeconfig_path("cluster-1").read_text(),
                                        labels={"bad key": "x"})
    assert env.service.control.list_clusters() == []


def test_labels_change_in_place_and_re_adding_says_how(labelled, capsys):
    code, _, err = run(labelled, capsys, "cluster", "add", "cluster-3", "--kubeconfig",
                       str(labelled.fleet.kubeconfig_path("cluster-3")), "--label", "env=prod")
    assert code == 1 and "already registered (change its labels with `federation cluster label cluster-3" in err
    member = labelled.service.hub._members.get("cluster-3")
    code, out, err = run(labelled, capsys, "cluster", "label", "cluster-3", "env=prod", "zone=a", "missing-")
    assert code == 0, err
    assert out.strip() == "cluster cluster-3 labelled: env=prod,zone=a"
    wait_for(lambda: labels_in_snapshot(labelled, "cluster-3") == {"env": "prod", "zone": "a"},
             what="the new labels in the snapshot")
    code, out, err = run(labelled, capsys, "cluster", "label", "cluster-3", "zone-")
    assert (code, out.strip()) == (0, "cluster cluster-3 labelled: env=prod"), err
    wait_for(lambda: labels_in_snapshot(labelled, "cluster-3") == {"env": "prod"}, what="zone removed")
    assert labelled.service.hub._members.get("cluster-3") is member  # not restarted
    code, _, err = run(labelled, capsys, "cluster", "label", "nowhere", "env=prod")
    assert code == 1 and "cluster 'nowhere' is not registered" in err


def test_cluster_records_keep_labels_and_older_records_have_none():
    kek = bytes(32)
    record = ClusterRecord(name="c1", kubeconfig="apiVersion: v1", labels=(("env", "prod"),))
    assert load_cluster_record(dump_cluster_record(record, kek), kek) == record
    older = json.loads(dump_cluster_record(replace(record, labels=()), kek))
    del older["labels"]  # stored before labels existed
    assert load_cluster_record(json.dumps(older).encode(), kek).labels == ()


def annotate(env, cluster: str, name: str, selector: str | None) -> None:
    """Set (or, with None, remove) a Service's import selector in its source cluster."""
    sim = env.sim(cluster)
    svc = sim.get(*SVC, name, NS)
    annotations = dict(svc["metadata"].get("annotations") or {})
    annotations.pop(SELECTOR, None)
    if selector is not None:
        annotations[SELECTOR] = selector
    svc["metadata"]["annotations"] = annotations
    sim.apply(svc)


def holds(env, cluster: str, name: str) -> set[str]:
    """The kinds of the hub's objects for service ``name`` in ``cluster``."""
    selector = f"{MANAGED},federation.mesh/service-name={name}"
    return {kind[1] for kind in (WE, SVC, DR) if env.owned(cluster, kind, selector)}


def test_changing_a_services_import_selector_prunes_where_it_stops_and_writes_where_it_starts(labelled):
    everything = {"WorkloadEntry", "Service", "DestinationRule"}
    wait_for(lambda: holds(labelled, "cluster-3", "solo") == everything, what="solo everywhere at first")
    annotate(labelled, "cluster-1", "solo", "env=prod")
    wait_for(lambda: holds(labelled, "cluster-3", "solo") == set(), what="solo pruned from cluster-3 (dev)")
    assert holds(labelled, "cluster-2", "solo") == everything
    annotate(labelled, "cluster-1", "solo", "env in (dev)")
    wait_for(lambda: holds(labelled, "cluster-3", "solo") == everything, what="solo written into cluster-3")
    wait_for(lambda: holds(labelled, "cluster-2", "solo") == set(), what="solo pruned from cluster-2")
    # a cluster's label change moves what it imports, without touching the Service
    code = cli.main(["cluster", "label", "cluster-2", "env=dev", "--hub", labelled.service.api.address,
                     "--ca", str(labelled.workdir / "hub" / "tls" / "ca.crt"),
                     "--token-file", str(labelled.workdir / "hub" / "admin-token")])
    assert code == 0
    wait_for(lambda: holds(labelled, "cluster-2", "solo") == everything, what="solo back in relabelled cluster-2")
    annotate(labelled, "cluster-1", "solo", None)  # no selector: every cluster again
    wait_for(lambda: holds(labelled, "cluster-2", "solo") == holds(labelled, "cluster-3", "solo") == everything,
             what="solo everywhere again")


def test_services_show_where_each_service_is_exported_from_and_imported_to(labelled, capsys):
    annotate(labelled, "cluster-1", "solo", "env=prod")
    wait_for(lambda: holds(labelled, "cluster-3", "solo") == set(), what="solo pruned from cluster-3")

    def rows():
        code, out, err = run(labelled, capsys, "services", "-o", "json")
        assert code == 0, err
        return {row["name"]: row for row in json.loads(out)}

    solo = wait_for(lambda: rows()["solo"] if rows()["solo"]["imported_to"] == ["cluster-2"] else None,
                    what="solo imported by cluster-2 alone")
    assert solo["exported_from"] == ["cluster-1"]
    assert solo["import_selectors"] == ["cluster-1: env=prod"]
    both = rows()["both"]
    assert (both["exported_from"], both["imported_to"], both["import_selectors"]) == (
        ["cluster-1", "cluster-2"], ["cluster-1", "cluster-2", "cluster-3"], [])
    _, table, _ = run(labelled, capsys, "services")
    header, *lines = table.splitlines()
    assert header.split()[:6] == ["SERVICE", "CLUSTER", "NETWORK", "READY", "EXPORTS", "IMPORTS"]
    solo_rows = [line.split()[:6] for line in lines if line.startswith(f"{NS}/solo ")]
    assert solo_rows == [[f"{NS}/solo", "cluster-1", "net1", "1", "yes", "no"],
                         [f"{NS}/solo", "cluster-2", "-", "-", "no", "yes"]]
    _, wide, _ = run(labelled, capsys, "services", "-o", "wide")
    assert "IMPORT SELECTOR" in wide.splitlines()[0] and "env=prod" in wide
