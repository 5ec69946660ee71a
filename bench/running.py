"""Running the benchmark's phases against a fresh fleet and hub, and judging the results."""

from __future__ import annotations

import concurrent.futures
import os
import resource
import shutil
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Callable

from bench import floor
from bench.churning import Churn
from bench.hub_process import HubProcess
from bench.measuring import WriteCounter, spread
from bench.sim_processes import SimProcesses
from bench.settings import (
    TARGET_AVAILABILITY_P99_MS, TARGET_CONVERGENCE_20X200_SECONDS, TARGET_CONVERGENCE_SECONDS,
    TARGET_CPU_PER_WRITE_RATIO, TARGET_P99_MS, TARGET_PEAK_RSS_MB, TARGET_WEIGHT_MAX_MS, BenchConfig,
)
from bench.topology import Topology
from federation import errors
from kubesim.cli import default_schemas_dir


def run(config: BenchConfig, progress: Callable[[str], None] | None = None) -> dict:
    """Every phase against a new fleet and hub, both stopped at the end whatever happens.

    A failure mid-way ends the run: the results then hold ``error`` and what was
    measured until then.
    """
    config.validate()
    say = progress or (lambda text: None)
    topology = Topology(config)
    temp = None if config.workdir else tempfile.mkdtemp(prefix="federation-bench-")
    workdir = Path(config.workdir or temp)
    schemas = config.schemas or default_schemas_dir() or ""
    results: dict = {
        "config": asdict(config),
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0],
                    "load_average_before": [round(x, 2) for x in os.getloadavg()]},
        "schema_validation": bool(schemas),
    }
    # Enough watch history per kind that every phase's writes can be counted by kind.
    fleet = SimProcesses(config, workdir / "sim", str(schemas),
                         history=max(5000, 4 * config.services * config.replicas_per_service),
                         processes=config.sim_processes)
    hub = client = None
    try:
        say(f"seeding {config.clusters} clusters over {config.sim_processes} processes: {config.services} "
            f"services × {config.replicas_per_service} clusters × {config.endpoints} endpoints")
        fleet.start()
        hub = HubProcess(workdir / "hub", config.hub_args, config.hub_log_level)
        address = hub.wait_ready()
        client = hub.client(address)
        phases: dict = {}
        marks = [(hub.usage()["cpu_seconds"], fleet.cpu_seconds(), _own_cpu())]

        def phase_done(name: str) -> None:
            marks.append((hub.usage()["cpu_seconds"], fleet.cpu_seconds(), _own_cpu()))
            (hub0, sim0, own0), (hub1, sim1, own1) = marks[-2:]
            phases[name] = {"hub_cpu_seconds": round(hub1 - hub0, 2), "sim_cpu_seconds": round(sim1 - sim0, 2),
                            "bench_cpu_seconds": round(own1 - own0, 2)}

        say(f"hub pid {hub.pid} at {address}; registering clusters, waiting for convergence")
        results["convergence"] = converge(fleet, topology, hub, client, config.converge_timeout)
        phase_done("converge")
        converged_rss = hub.usage()["rss_mb"]
        churn = Churn(fleet, topology, hub, config)
        for rate, count in [(config.rate, config.changes), *config.more_rates]:
            say(f"{count} changes at {rate:g}/s")
            results.setdefault("rates", []).append(churn.run(rate, count))
        results["propagation"] = results["rates"][0]
        phase_done("changes")
        say(f"idle for {config.idle_seconds:g} s")
        results["idle"] = run_idle(fleet, hub, config.idle_seconds)
        phase_done("idle")
        if config.floor_requests:
            say("floor: a minimal keep-alive HTTPS client applying the same bodies")
            results["floor"] = floor.measure(fleet.floor_target(topology.clusters[0]), config.floor_requests)
            results["cpu_per_write"] = cpu_per_write(results)
        results["hub"] = {**hub.usage(), "startup_cpu_seconds": marks[0][0], "phases": phases,
                          "rss_after_convergence_mb": converged_rss}
        results["machine"]["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    except errors.FederationError as exc:
        results["error"] = str(exc)
    finally:
        if client is not None:
            client.close()
        if hub is not None:
            hub.stop()
            if hub.proc.returncode:
                results["hub_exit_status"] = hub.proc.returncode
            if "error" in results or hub.proc.returncode:
                results["hub_log_tail"] = hub.log_tail()
            results.setdefault("hub", {"pid": hub.pid, "peak_rss_mb": hub.peak_rss_mb})
        fleet.stop()
        if temp is not None:
            shutil.rmtree(temp, ignore_errors=True)
    results["targets"] = targets(results)
    return results


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def converge(fleet: SimProcesses, topology: Topology, hub: HubProcess, client, timeout: float) -> dict:
    """Register every cluster; done when each holds exactly its expected objects and the
    hub reports every cluster synced."""
    expected = {c: topology.expected(c) for c in topology.clusters}
    writes = WriteCounter(fleet)
    writes.mark()  # the seed is written: from here on every write is the hub's
    started = time.monotonic()
    # At once, as a rollout of the fleet's registrations would: one after another, each
    # call waits behind the pushes into the clusters registered before it.
    kubeconfigs = {name: fleet.kubeconfig_path(name).read_text() for name in fleet.names}
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(kubeconfigs)) as pool:
        for call in [pool.submit(client.register_cluster, name, text) for name, text in kubeconfigs.items()]:
            call.result()
    registered = time.monotonic() - started
    objects_at = seconds = first_write = None
    counts: dict = {}
    cluster_done: dict[str, float] = {}
    while time.monotonic() - started < timeout:
        hub.check_alive()
        hub.usage()  # keeps the peak up to date
        counts = fleet.counts()
        elapsed = time.monotonic() - started
        if first_write is None and any(any(per.values()) for per in counts.values()):
            first_write = elapsed
        for name, per in counts.items():
            if per == expected[name]:
                cluster_done.setdefault(name, elapsed)
        if counts == expected:
            objects_at = objects_at or elapsed
            try:
                status = client.status()
            except errors.Transient:
                status = None  # a busy hub answers late; ask again
            if status is not None and len(status.clusters) == len(topology.clusters) \
                    and all(c.synced for c in status.clusters):
                seconds = time.monotonic() - started
                break
        time.sleep(0.2)
    counted = writes.since_mark()
    mismatched = {c: {k: {"have": counts.get(c, {}).get(k), "want": n} for k, n in want.items()
                      if counts.get(c, {}).get(k) != n} for c, want in expected.items()}
    return {
        "converged": seconds is not None,
        "convergence_seconds": _round(seconds),
        "objects_seconds": _round(objects_at),
        "register_seconds": _round(registered),
        "first_write_seconds": _round(first_write),
        "cluster_objects_seconds": spread(list(cluster_done.values())),  # each cluster's first exact match
        "expected_objects": sum(sum(per.values()) for per in expected.values()),
        "mismatched_clusters": {} if seconds is not None else {c: m for c, m in mismatched.items() if m},
        "writes": counted["committed"],
        "write_requests": counted["write_requests"],
        "read_requests": counted["read_requests"],
        "writes_by_kind": counted["by_kind"],
    }


def cpu_per_write(results: dict) -> dict:
    """Hub CPU per member write during the change phases, against the floor."""
    rates = results.get("rates", [])
    cpu = sum(r["hub_cpu_seconds"] for r in rates)
    writes = sum(r["writes"]["hub_writes"] for r in rates)
    floor_ms = results.get("floor", {}).get("client_cpu_ms_per_write")
    hub_ms = round(cpu / writes * 1000, 3) if writes else None
    return {"hub_ms": hub_ms, "floor_ms": floor_ms,
            "ratio": round(hub_ms / floor_ms, 2) if hub_ms and floor_ms else None}


def run_idle(fleet: SimProcesses, hub: HubProcess, seconds: float) -> dict:
    writes = WriteCounter(fleet)
    cpu_before = hub.usage()["cpu_seconds"]
    writes.mark()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        hub.check_alive()
        time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))
    counted = writes.since_mark()
    return {"seconds": seconds, "writes": counted["committed"], "write_requests": counted["write_requests"],
            "by_kind": counted["by_kind"], "hub_cpu_seconds": round(hub.usage()["cpu_seconds"] - cpu_before, 2)}


def targets(results: dict) -> dict[str, bool]:
    """Each target: met (True) or missed (False); a phase that did not run misses.
    Rate-bound targets apply to the phases run at that rate."""
    config = results.get("config", {})
    conv = results.get("convergence", {}).get("convergence_seconds")
    rss = results.get("hub", {}).get("peak_rss_mb")
    idle = results.get("idle", {})
    rates = results.get("rates") or [{}]
    out = {
        f"convergence_seconds<={TARGET_CONVERGENCE_SECONDS:g}":
            conv is not None and conv <= TARGET_CONVERGENCE_SECONDS,
        # exact at the first (lowest) rate; at higher rates coalescing may save writes
        "writes_per_change==objects_changed": bool(rates[0].get("writes", {}).get("equal")),
        "writes_per_change<=objects_changed": all(bool(r.get("writes", {}).get("at_most_expected"))
                                                  for r in rates),
        "idle_writes==0": idle.get("writes") == 0 and idle.get("write_requests") in (0, None),
        f"hub_peak_rss_mb<={TARGET_PEAK_RSS_MB:g}": rss is not None and rss <= TARGET_PEAK_RSS_MB,
    }
    if (config.get("clusters"), config.get("services")) == (20, 200):
        out[f"convergence_20x200_seconds<={TARGET_CONVERGENCE_20X200_SECONDS:g}"] = \
            conv is not None and conv <= TARGET_CONVERGENCE_20X200_SECONDS
    for r in rates:
        rate, missed = r.get("rate"), r.get("missed") != 0
        for table, name, value in (
                (TARGET_P99_MS, "p99_ms", r.get("propagation_ms", {}).get("p99")),
                (TARGET_AVAILABILITY_P99_MS, "availability_p99_ms", r.get("availability_ms", {}).get("p99")),
                (TARGET_WEIGHT_MAX_MS, "weight_max_ms", r.get("weight_ms", {}).get("max"))):
            if rate in table:
                out[f"{name}@{rate:g}/s<={table[rate]:g}"] = value is not None and not missed \
                    and value <= table[rate]
    ratio = results.get("cpu_per_write", {}).get("ratio")
    if "floor" in results:
        out[f"cpu_per_write/floor<={TARGET_CPU_PER_WRITE_RATIO:g}"] = \
            ratio is not None and ratio <= TARGET_CPU_PER_WRITE_RATIO
    return out


def summary(results: dict) -> str:
    conv, idle, hub = (results.get(k, {}) for k in ("convergence", "idle", "hub"))
    lines = [
        f"convergence: {conv.get('convergence_seconds')} s for {conv.get('expected_objects')} objects "
        f"({conv.get('writes')} writes, {conv.get('write_requests')} write and "
        f"{conv.get('read_requests')} read requests)",
    ]
    for prop in results.get("rates", []):
        ms, writes = prop.get("propagation_ms", {}), prop.get("writes", {})
        av, wt = prop.get("availability_ms", {}), prop.get("weight_ms", {})
        lines += [
            f"propagation at {prop.get('rate'):g}/s: p50 {ms.get('p50')} ms, p95 {ms.get('p95')} ms, "
            f"p99 {ms.get('p99')} ms, max {ms.get('max')} ms ({prop.get('measured')} of {prop.get('changes')} "
            f"changes seen everywhere, {prop.get('achieved_rate')}/s); availability p50/p99 {av.get('p50')}/"
            f"{av.get('p99')} ms, weight p50/p99/max {wt.get('p50')}/{wt.get('p99')}/{wt.get('max')} ms",
            f"  writes per change: {writes.get('per_change')} (objects whose rendering changed: "
            f"{writes.get('expected_per_change')}; write requests {writes.get('write_requests')}); "
            f"hub CPU per write {prop.get('hub_cpu_ms_per_write')} ms",
        ]
    cpw = results.get("cpu_per_write", {})
    floored = results.get("floor", {})
    lines += [
        f"idle {idle.get('seconds')} s: {idle.get('writes')} writes, {idle.get('write_requests')} write "
        f"requests, hub CPU {idle.get('hub_cpu_seconds')} s",
        f"hub CPU per write {cpw.get('hub_ms')} ms; floor (the cheaper minimal keep-alive client) "
        f"{cpw.get('floor_ms')} ms; ratio {cpw.get('ratio')} "
        f"(http.client {floored.get('http_client_cpu_ms_per_write')} ms, bare connection "
        f"{floored.get('wire_cpu_ms_per_write')} ms, it paced {floored.get('paced_wire_cpu_ms_per_write')} ms)",
        f"hub: peak RSS {hub.get('peak_rss_mb')} MB (after convergence {hub.get('rss_after_convergence_mb')} MB), "
        f"CPU {hub.get('cpu_seconds')} s, threads {hub.get('threads')}",
    ]
    lines += [f"target {name}: {'met' if ok else 'MISSED'}" for name, ok in results.get("targets", {}).items()]
    if "error" in results:
        lines.append(f"error: {results['error']}")
    return "\n".join(lines)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)
