"""The benchmark at a tiny scale: every phase runs, the JSON has every field with sane
values, and nothing is left running. No speed is asserted here."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from federation.bench.__main__ import main
from federation.bench.measuring import percentile
from federation.bench.settings import BenchConfig
from federation.bench.topology import KINDS, Topology

SMALL = ["--clusters", "3", "--networks", "2", "--services", "5", "--replicas-per-service", "2",
         "--endpoints", "3", "--changes", "6", "--rate", "10", "--idle-seconds", "1",
         "--converge-timeout", "60", "--change-timeout", "15"]


def test_percentile_is_nearest_rank():
    values = [float(v) for v in range(1, 101)]
    assert [percentile(values, q) for q in (50, 95, 99, 100)] == [50.0, 95.0, 99.0, 100.0]
    assert percentile([3.0], 99) == 3.0
    assert percentile([], 50) is None


def test_topology_spreads_services_and_counts_expected_objects():
    topology = Topology(BenchConfig(clusters=4, networks=2, services=8, replicas_per_service=3))
    assert [len(topology.services_in(c)) for c in topology.clusters] == [6, 6, 6, 6]
    assert {topology.network(c) for c in topology.placement["svc-0"]} == {"net-1", "net-2"}
    # cluster-1 runs 6 services (2 remote copies each) and lacks 2 (3 remote copies each)
    assert topology.expected("cluster-1") == {
        "WorkloadEntry": 6 * 2 + 2 * 3, "Service": 2, "DestinationRule": 8,
        "Gateway.networking.istio.io": 1}
    assert set(topology.expected("cluster-1")) == set(KINDS)


@pytest.mark.timeout(180)
def test_small_benchmark_writes_every_field_with_sane_values(tmp_path: Path, capsys):
    out = tmp_path / "bench.json"
    threads_before = {t.ident for t in threading.enumerate()}

    assert main([*SMALL, "--out", str(out), "--workdir", str(tmp_path / "work")]) == 0

    results = json.loads(out.read_text())
    assert "error" not in results
    assert set(results) >= {"config", "machine", "schema_validation", "convergence", "propagation",
                            "idle", "hub", "targets"}
    assert results["config"]["clusters"] == 3 and results["config"]["changes"] == 6

    conv = results["convergence"]
    topology = Topology(BenchConfig(clusters=3, networks=2, services=5, replicas_per_service=2))
    expected = sum(sum(topology.expected(c).values()) for c in topology.clusters)
    assert conv["converged"] is True and conv["mismatched_clusters"] == {}
    assert conv["expected_objects"] == expected
    assert 0 < conv["first_write_seconds"] <= conv["objects_seconds"] <= conv["convergence_seconds"]
    assert conv["writes"] >= expected and conv["write_requests"] >= expected
    assert conv["cluster_objects_seconds"]["max"] <= conv["objects_seconds"]

    prop = results["propagation"]
    assert prop["changes"] == 6 and prop["measured"] == 6 and prop["missed"] == 0
    ms = prop["propagation_ms"]
    assert 0 < ms["p50"] <= ms["p95"] <= ms["p99"] <= ms["max"]
    assert prop["per_cluster_arrival_ms"]["max"] <= ms["max"]
    writes = prop["writes"]
    # each flip changes one WorkloadEntry in each of the 2 other clusters: 2 writes, no more
    assert writes["affected_clusters_per_change"] == 2.0
    assert writes["hub_writes"] == 12 and writes["write_requests"] == 12 and writes["equal"] is True
    assert writes["by_kind"] == {"EndpointSlice.discovery.k8s.io": 6, "WorkloadEntry.networking.istio.io": 12}

    idle = results["idle"]
    assert idle["seconds"] == 1 and idle["writes"] == 0 and idle["write_requests"] == 0

    hub = results["hub"]
    assert hub["peak_rss_mb"] >= hub["rss_mb"] > 0 and hub["cpu_seconds"] > 0 and hub["threads"] > 0
    assert set(hub["phases"]) == {"converge", "changes", "idle"}
    assert set(results["targets"]) == {"convergence_seconds<=60", "propagation_p99_ms<=500",
                                       "writes_per_change==affected_clusters", "idle_writes==0",
                                       "hub_peak_rss_mb<=300"}
    assert all(isinstance(v, bool) for v in results["targets"].values())
    assert results["targets"]["writes_per_change==affected_clusters"] is True
    assert results["targets"]["idle_writes==0"] is True

    printed = capsys.readouterr().out
    assert "convergence:" in printed and "propagation:" in printed and f"results written to {out}" in printed

    # everything stopped: the hub process is gone, and no thread of the run is left
    assert not Path(f"/proc/{hub['pid']}").exists()
    left = [t.name for t in threading.enumerate() if t.ident not in threads_before and t.is_alive()]
    assert left == []


def test_bad_flags_are_refused_before_anything_starts(tmp_path: Path, capsys):
    assert main(["--clusters", "1", "--out", str(tmp_path / "x.json")]) == 2
    assert "at least 2 clusters" in capsys.readouterr().err
    assert not (tmp_path / "x.json").exists()
