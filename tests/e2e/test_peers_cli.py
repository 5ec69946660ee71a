"""``python -m peers``: its arguments, errors and JSON, without starting a fleet.

The commands that start real clusters run in ``make e2e`` (e2e/local.sh with
E2E_PEERS=real); here: topology, port and pod parsing, exit statuses and
messages when no fleet runs, and the JSON shape of a probe's dataclasses.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from peers import cli
from peers.xds import Endpoint, Locality

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 60


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "peers", *args], capture_output=True, text=True,
                          timeout=TIMEOUT, cwd=ROOT)


def test_a_topology_entry_names_cluster_network_region_and_zones():
    spec = cli.parse_member("cluster-1:net1:us-east:us-east-1a,us-east-1b")
    assert (spec.name, spec.network, spec.region, spec.zones) == (
        "cluster-1", "net1", "us-east", ("us-east-1a", "us-east-1b"))
    for bad in ("cluster-1:net1:us-east", "cluster-1::us-east:z", "c:n:r:,"):
        with pytest.raises(cli.UsageError, match="--topology"):
            cli.parse_member(bad)


def test_ports_and_pod_plans():
    assert cli.parse_port("http:5000") == ("http", 5000)
    assert cli.parse_port("grpc:9000:9090") == ("grpc", 9000, 9090)
    with pytest.raises(cli.UsageError, match="NAME:PORT"):
        cli.parse_port("http:five")
    assert cli.pod_plan(["a", "b"], 3, 2, None) == [("a", True), ("b", True), ("a", False)]
    assert cli.pod_plan(["a", "b"], 2, 0, "b") == [("b", False), ("b", False)]
    with pytest.raises(cli.UsageError, match="ready <= pods"):
        cli.pod_plan(["a"], 1, 2, None)
    with pytest.raises(cli.UsageError, match="zones are"):
        cli.pod_plan(["a"], 1, 1, "c")


def test_a_bad_topology_exits_2_before_starting_anything(tmp_path):
    proc = run("up", "--workdir", str(tmp_path), "--topology", "only-a-name")
    assert proc.returncode == 2
    assert "--topology 'only-a-name': expected NAME:NETWORK:REGION:ZONE" in proc.stderr
    assert list(tmp_path.iterdir()) == []


def test_commands_for_a_fleet_that_is_not_running_exit_1_saying_so(tmp_path):
    for args in (["deploy", "--cluster", "c", "--namespace", "n", "--name", "s", "--pods", "1", "--ready", "1"],
                 ["istiod", "start", "c"], ["xds", "endpoints", "--cluster", "c"], ["rss"]):
        proc = run(*args, "--workdir", str(tmp_path))
        assert proc.returncode == 1, (args, proc.stderr)
        assert f"{tmp_path / 'ready'} does not exist" in proc.stderr and "peers up" in proc.stderr
        assert "Traceback" not in proc.stderr


def test_a_fleet_control_refuses_unknown_operations_and_clusters():
    class NoFleet:
        members: dict = {}

    control = cli.FleetControl(NoFleet())
    with pytest.raises(cli.UsageError, match="unknown operation 'explode'"):
        control.call({"op": "explode"})
    with pytest.raises(cli.UsageError, match="no cluster 'c9'"):
        control.call({"op": "scale", "cluster": "c9"})


def test_probe_results_print_as_plain_json():
    ep = Endpoint("172.18.1.10", 15443, Locality("us-east", "us-east-1a"), 0, 2, 0, "HEALTHY",
                  {"envoy.transport_socket_match": {"tlsMode": "istio"}})
    data = json.loads(json.dumps(cli.plain([ep])))
    assert data == [{"address": "172.18.1.10", "port": 15443, "locality": "us-east/us-east-1a", "priority": 0,
                     "weight": 2, "locality_weight": 0, "health": "HEALTHY",
                     "metadata": {"envoy.transport_socket_match": {"tlsMode": "istio"}}, "tls_mode": "istio"}]
