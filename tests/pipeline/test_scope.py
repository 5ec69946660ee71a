"""Export and import scope on simulated clusters: cluster labels through the API and
the command line, per-Service export settings and import selectors."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from federation import cli, errors
from federation.catalog import ClusterRecord, dump_cluster_record, load_cluster_record
from tests.pipeline.conftest import TOPOLOGY
from tests.support import wait_for

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
