"""``federation diff``: the hub's desired objects against what is live in a member."""

from __future__ import annotations

import subprocess
import sys

from tests.pipeline.conftest import MANAGED, NS, WE
from tests.support import wait_for


def cli(hub, *args):
    wd = hub.workdir / "hub"
    return subprocess.run([sys.executable, "-m", "federation.cli", *args, "--hub", hub.service.api.address,
                           "--ca", str(wd / "tls" / "ca.crt"), "--token-file", str(wd / "admin-token")],
                          capture_output=True, text=True, timeout=60)


def test_a_synced_cluster_has_no_differences_and_diff_exits_zero(hub):
    wait_for(lambda: hub.owned("cluster-3", WE, f"{MANAGED},federation.mesh/service-name=both"))
    wait_for(lambda: hub.service.control.diff("cluster-3") == [], what="no differences once pushed")
    proc = cli(hub, "diff", "--cluster", "cluster-3")
    assert (proc.returncode, proc.stdout) == (0, ""), proc.stderr


def test_an_object_the_hub_cannot_write_shows_as_a_conflict_and_diff_exits_one(env):
    # someone else's WorkloadEntry holds the name of the hub's entry for cluster-1's "solo"
    name = "fed-solo-cluster-1"
    env.sim("cluster-2").apply({"apiVersion": WE[0], "kind": WE[1], "metadata": {"name": name, "namespace": NS},
                                "spec": {"address": "192.0.2.9"}}, manager="kubectl")
    env.start_hub()
    env.register_all()
    # members start a moment after their registration is stored
    wait_for(lambda: "cluster-2" in env.service.hub.clusters(), what="cluster-2 running on the hub")
    wait_for(lambda: any(d.name == name and d.action == "conflict"
                         for d in env.service.control.diff("cluster-2")), what="the conflict in diff")
    proc = cli(env, "diff", "--cluster", "cluster-2")
    assert proc.returncode == 1, proc.stderr
    assert f"WorkloadEntry {NS}/{name}: exists and is not this hub's" in proc.stdout
    assert env.sim("cluster-2").get(*WE, name, NS)["spec"]["address"] == "192.0.2.9"  # left alone


def test_diff_of_an_unknown_cluster_is_not_found(hub):
    proc = cli(hub, "diff", "--cluster", "nowhere")
    # 0: no differences, 1: differences (kubectl diff's convention); errors are 2
    assert proc.returncode == 2 and "nowhere" in proc.stderr
