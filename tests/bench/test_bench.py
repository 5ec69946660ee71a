"""The benchmark at a tiny scale: every phase runs, the JSON has every field with sane
values, and nothing is left running. No speed is asserted here."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from bench.__main__ import main
from bench.grid import SIZES, configs, memory_slope
from bench.measuring import percentile
from bench.running import targets
from bench.settings import BenchConfig
from bench.topology import KINDS, Topology

SMALL = ["--clusters", "3", "--networks", "2", "--services", "5", "--replicas-per-service", "2",
         "--endpoints", "3", "--changes", "8", "--rate", "10", "--idle-seconds", "1",
         "--converge-timeout", "60", "--change-timeout", "15", "--floor-requests", "40"]


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


def test_writes_a_change_calls_for_follow_the_rendering_rules():
    topology = Topology(BenchConfig(clusters=4, networks=2, services=4, replicas_per_service=2))
    where = topology.placement["svc-0"]  # cluster-1 and cluster-2
    both = set(where)
    # a weight: the source's entry in each of the 3 other clusters
    assert topology.writes_for("svc-0", "cluster-1", both, both) == 3
    # cluster-1 going: its entry in 3 clusters, and cluster-2 (in the placement) loses its
    # only remote one: the rule goes too
    assert topology.writes_for("svc-0", "cluster-1", both, {"cluster-2"}) == 3 + 1
    # the last one going: its 3 entries, then the rule in 3 and the stub in the 2 without it
    assert topology.writes_for("svc-0", "cluster-2", {"cluster-2"}, set()) == 3 + 3 + 2


def test_grid_is_a_rate_sweep_then_a_size_sweep_at_the_base_rate():
    base = BenchConfig()
    assert configs(base, "none") == [base]
    [rates] = configs(base, "rates")
    assert (rates.rate, [r for r, _ in rates.more_rates]) == (5.0, [20.0, 50.0])
    full = configs(base, "full")
    assert full[0] == rates and [(c.clusters, c.services) for c in full[1:]] == list(SIZES)
    assert all(c.rate == 5.0 and not c.more_rates and c.networks <= c.clusters for c in full[1:])


def test_memory_slope_is_fitted_over_sizes():
    runs = [{"convergence": {"expected_objects": n}, "hub": {"rss_after_convergence_mb": mb, "peak_rss_mb": mb + 10}}
            for n, mb in ((1024, 100.0), (2048, 101.0), (4096, 103.0))]
    memory = memory_slope(runs)
    assert memory["kb_per_object_after_convergence"] == pytest.approx(1.0)
    assert memory["kb_per_object_peak"] == pytest.approx(1.0)
    assert "kb_per_object_peak" not in memory_slope(runs[:1])


def test_memory_slope_of_one_fleet_leaves_out_the_runs_with_other_cluster_counts():
    def run(clusters, objects, mb):
        return {"config": {"clusters": clusters}, "convergence": {"expected_objects": objects},
                "hub": {"rss_after_convergence_mb": mb, "peak_rss_mb": mb}}

    # 20 clusters: 2 KB per object; the 40-cluster run's threads would bend the fit over all
    runs = [run(20, 2048, 100.0), run(20, 1024, 98.0), run(20, 4096, 104.0), run(40, 4096, 160.0)]
    memory = memory_slope(runs)
    assert memory["one_fleet"] == {"clusters": 20, "kb_per_object_after_convergence": pytest.approx(2.0),
                                   "kb_per_object_peak": pytest.approx(2.0)}
    assert memory["kb_per_object_after_convergence"] > 10
    assert "one_fleet" not in memory_slope(runs[:1] + runs[3:])  # one size of that fleet: no slope


def test_rate_targets_apply_to_the_phases_at_that_rate():
    def phase(rate, p99, av99, wmax, missed=0):
        return {"rate": rate, "missed": missed, "propagation_ms": {"p99": p99},
                "availability_ms": {"p99": av99}, "weight_ms": {"max": wmax},
                "writes": {"equal": True, "at_most_expected": True}}

    results = {"config": {"clusters": 20, "services": 200}, "convergence": {"convergence_seconds": 14.0},
               "idle": {"writes": 0, "write_requests": 0}, "hub": {"peak_rss_mb": 200.0},
               "rates": [phase(5.0, 140, 90, 150), phase(20.0, 310, 200, 320), phase(50.0, 900, 990, 2100)]}
    got = targets(results)
    assert got["p99_ms@5/s<=150"] and not got["p99_ms@20/s<=300"]
    assert got["availability_p99_ms@50/s<=1000"] and not got["weight_max_ms@50/s<=2000"]
    assert got["convergence_20x200_seconds<=15"] and "p99_ms@50/s<=150" not in got
    results["rates"][0]["missed"] = 1
    assert targets(results)["p99_ms@5/s<=150"] is False  # a missed change misses the target


@pytest.mark.timeout(180)
def test_small_benchmark_writes_every_field_with_sane_values(tmp_path: Path, capsys):
    out = tmp_path / "bench.json"
    threads_before = {t.ident for t in threading.enumerate()}

    plot = tmp_path / "bench.png"
    assert main([*SMALL, "--out", str(out), "--workdir", str(tmp_path / "work"), "--plot", str(plot)]) == 0

    results = json.loads(out.read_text())
    assert "error" not in results
    assert set(results) >= {"config", "machine", "schema_validation", "convergence", "propagation",
                            "idle", "hub", "targets"}
    assert results["config"]["clusters"] == 3 and results["config"]["changes"] == 8

    conv = results["convergence"]
    topology = Topology(BenchConfig(clusters=3, networks=2, services=5, replicas_per_service=2))
    expected = sum(sum(topology.expected(c).values()) for c in topology.clusters)
    assert conv["converged"] is True and conv["mismatched_clusters"] == {}
    assert conv["expected_objects"] == expected
    assert 0 < conv["first_write_seconds"] <= conv["objects_seconds"] <= conv["convergence_seconds"]
    assert conv["writes"] >= expected and conv["write_requests"] >= expected
    assert conv["cluster_objects_seconds"]["max"] <= conv["objects_seconds"]

    prop = results["propagation"]
    assert results["rates"] == [prop] and prop["rate"] == 10
    assert prop["changes"] == 8 and prop["measured"] == 8 and prop["missed"] == 0
    # every 4th change takes a (service, cluster) to zero ready endpoints: 2 of 8
    assert prop["changes_by_kind"] == {"availability": 2, "weight": 6}
    for name in ("propagation_ms", "availability_ms", "weight_ms"):
        ms = prop[name]
        assert 0 < ms["p50"] <= ms["p95"] <= ms["p99"] <= ms["max"], name
    assert prop["per_cluster_arrival_ms"]["max"] <= prop["propagation_ms"]["max"]
    writes = prop["writes"]
    # a weight flip changes one WorkloadEntry in each of the 2 other clusters; an entry
    # going also takes the rule where it was the only remote one (2 of 5 services here)
    assert writes["hub_writes"] == round(writes["expected_per_change"] * 8)
    assert writes["hub_writes"] == writes["write_requests"] and writes["equal"] is True
    assert writes["by_kind"]["WorkloadEntry.networking.istio.io"] == 16
    assert writes["by_kind"]["EndpointSlice.discovery.k8s.io"] == 8
    assert prop["hub_cpu_ms_per_write"] > 0

    floor = results["floor"]
    assert floor["requests"] >= 40 and 0 < floor["client_cpu_ms_per_write"] <= floor["wall_ms_per_write"]
    # the floor is the cheaper of the two minimal clients
    assert floor["client_cpu_ms_per_write"] == min(floor["http_client_cpu_ms_per_write"],
                                                   floor["wire_cpu_ms_per_write"])
    assert floor["paced_wire_cpu_ms_per_write"] > 0
    cpw = results["cpu_per_write"]
    assert cpw["floor_ms"] == floor["client_cpu_ms_per_write"]
    assert cpw["ratio"] == round(cpw["hub_ms"] / cpw["floor_ms"], 2)

    idle = results["idle"]
    assert idle["seconds"] == 1 and idle["writes"] == 0 and idle["write_requests"] == 0

    hub = results["hub"]
    assert hub["peak_rss_mb"] >= hub["rss_mb"] > 0 and hub["cpu_seconds"] > 0 and hub["threads"] > 0
    assert set(hub["phases"]) == {"converge", "changes", "idle"}
    assert hub["rss_after_convergence_mb"] > 0
    # no rate-bound target at 10/s; the 20 × 200 convergence target only at that size
    assert set(results["targets"]) == {"convergence_seconds<=60", "writes_per_change==objects_changed",
                                       "writes_per_change<=objects_changed", "idle_writes==0",
                                       "hub_peak_rss_mb<=300", "cpu_per_write/floor<=2"}
    assert all(isinstance(v, bool) for v in results["targets"].values())
    assert results["targets"]["writes_per_change==objects_changed"] is True
    assert results["targets"]["idle_writes==0"] is True

    printed = capsys.readouterr().out
    assert "convergence:" in printed and "propagation at 10/s:" in printed and f"results written to {out}" in printed
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # everything stopped: the hub process is gone, and no thread of the run is left
    assert not Path(f"/proc/{hub['pid']}").exists()
    left = [t.name for t in threading.enumerate() if t.ident not in threads_before and t.is_alive()]
    assert left == []


def test_bad_flags_are_refused_before_anything_starts(tmp_path: Path, capsys):
    assert main(["--clusters", "1", "--out", str(tmp_path / "x.json")]) == 2
    assert "at least 2 clusters" in capsys.readouterr().err
    assert not (tmp_path / "x.json").exists()
