"""``make bench``: one hub process against a simulated fleet, measured.

The member clusters (``federation.sim``) run in this process; the hub runs as
``federation serve`` in a child process, so its memory and CPU are its own
(read from ``/proc/<pid>``). Phases, each bounded in time:

1. converge: register every cluster; time until every cluster holds exactly the
   objects its topology calls for and the hub reports every cluster synced;
2. changes: flip one endpoint's readiness in one cluster, at a bounded rate;
   time until the new WorkloadEntry weight is visible in every other cluster
   (watched in-process on each cluster's store), and count the writes the hub
   made meanwhile against the clusters whose rendered objects changed;
3. idle: no change at all; the hub must write nothing.

The results are printed and written as JSON. Targets missed are reported, and
make the exit status 1 only with ``--strict``.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import logging
import math
import os
import random
import resource
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from federation import errors
from federation.model.ids import SERVICE_NAME_LABEL, SOURCE_CLUSTER_LABEL
from federation.sim.cli import default_schemas_dir
from federation.sim.fleet import SimFleet
from federation.sim.workloads import Endpoint, pod_address, seed_cluster, set_endpoints

log = logging.getLogger(__name__)

NAMESPACE = "bench"
PORTS = (("http", 8080),)
WE = ("networking.istio.io/v1", "WorkloadEntry")
# Only the hub writes these kinds into the benchmark's clusters, so their counts are the hub's objects.
KINDS = {
    "WorkloadEntry": WE,
    "ServiceEntry": ("networking.istio.io/v1", "ServiceEntry"),
    "DestinationRule": ("networking.istio.io/v1", "DestinationRule"),
    "Gateway.networking.istio.io": ("networking.istio.io/v1", "Gateway"),
    "Gateway.gateway.networking.k8s.io": ("gateway.networking.k8s.io/v1", "Gateway"),
}
WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
TARGETS = {"convergence_seconds": 60.0, "p99_ms": 500.0, "hub_peak_rss_mb": 300.0}


@dataclass
class BenchConfig:
    clusters: int = 20
    networks: int = 4
    services: int = 200
    replicas_per_service: int = 3
    endpoints: int = 10
    changes: int = 200
    rate: float = 5.0  # changes per second
    idle_seconds: float = 30.0
    converge_timeout: float = 300.0
    change_timeout: float = 10.0  # a change not visible everywhere by then counts as missed
    seed: int = 1
    hub_args: list[str] = field(default_factory=list)  # extra `federation serve` flags
    hub_log_level: str = "warning"
    workdir: str = ""  # default: a temporary directory, removed afterwards
    schemas: str = ""  # CRD schemas for admission; default ../shared when present

    def validate(self) -> None:
        if self.clusters < 2 or self.networks < 1 or self.services < 1:
            raise errors.ConfigError("need at least 2 clusters, 1 network and 1 service")
        if not 1 <= self.replicas_per_service <= self.clusters:
            raise errors.ConfigError("--replicas-per-service must be between 1 and --clusters")
        if self.endpoints < 2:
            raise errors.ConfigError("--endpoints must be at least 2 (a flip must leave one ready)")
        if self.rate <= 0 or self.changes < 0 or self.idle_seconds < 0:
            raise errors.ConfigError("--rate must be positive; --changes and --idle-seconds not negative")


# -- topology ---------------------------------------------------------------------------------
class Topology:
    """Clusters round-robin over networks (a region per network, a zone per cluster);
    service i runs in clusters i, i+1, ... (mod N), so neighbours on other networks share it."""

    def __init__(self, config: BenchConfig):
        self.clusters = [f"cluster-{i}" for i in range(1, config.clusters + 1)]
        self.networks = config.networks
        self.services = [f"svc-{i}" for i in range(config.services)]
        n = len(self.clusters)
        self.placement = {svc: tuple(self.clusters[(i + k) % n] for k in range(config.replicas_per_service))
                          for i, svc in enumerate(self.services)}

    def network(self, cluster: str) -> str:
        return f"net-{self.clusters.index(cluster) % self.networks + 1}"

    def region(self, cluster: str) -> str:
        return f"region-{self.clusters.index(cluster) % self.networks + 1}"

    def zone(self, cluster: str) -> str:
        return f"zone-{self.clusters.index(cluster) + 1}"

    def services_in(self, cluster: str) -> list[str]:
        return [svc for svc in self.services if cluster in self.placement[svc]]

    def expected(self, target: str) -> dict[str, int]:
        """What the hub must write into ``target``: per service with endpoints elsewhere a
        WorkloadEntry per remote cluster (one zone each), a DestinationRule, and a
        ServiceEntry where the target lacks the Service; the cross-network Gateway and
        one istio-remote Gateway per other network."""
        counts = dict.fromkeys(KINDS, 0)
        for where in self.placement.values():
            remote = [c for c in where if c != target]
            if remote:
                counts["WorkloadEntry"] += len(remote)
                counts["DestinationRule"] += 1
                counts["ServiceEntry"] += target not in where
        counts["Gateway.networking.istio.io"] = 1
        counts["Gateway.gateway.networking.k8s.io"] = len(
            {self.network(c) for c in self.clusters} - {self.network(target)})
        return counts


def _endpoints(topology: Topology, cluster: str, count: int, not_ready: int = 0) -> list[Endpoint]:
    zone = topology.zone(cluster)
    base = topology.clusters.index(cluster) * 100_000
    return [Endpoint(pod_address(cluster, base + i + 1), f"{cluster}-{zone}-0", zone, ready=i >= not_ready)
            for i in range(count)]


def _seeder(topology: Topology, endpoints: int):
    def seed(fleet: SimFleet) -> None:
        for index, sim in enumerate(fleet, start=1):
            name = sim.name
            seed_cluster(sim, network=topology.network(name), region=topology.region(name),
                         zones=[topology.zone(name)], services=topology.services_in(name),
                         namespace_name=NAMESPACE, endpoints_per_service=1, ports=PORTS,
                         gateway_address=f"172.18.{index}.10")
            for svc in topology.services_in(name):
                set_endpoints(sim, svc, NAMESPACE, _endpoints(topology, name, endpoints), ports=PORTS)
    return seed


# -- the hub process ------------------------------------------------------------------------
def _die_with_parent() -> None:  # runs in the child before exec
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


class HubProcess:
    """``federation serve --workdir`` with the memory store, in its own process."""

    def __init__(self, workdir: Path, extra_args: list[str], log_level: str):
        self.workdir = workdir
        self.log_path = workdir / "hub.log"
        workdir.mkdir(parents=True, exist_ok=True)
        args = [sys.executable, "-m", "federation.cli", "--log-level", log_level, "serve",
                "--workdir", str(workdir), "--store", "memory://", "--listen", "127.0.0.1:0", *extra_args]
        env = {k: v for k, v in os.environ.items() if not k.startswith("FEDERATION_")}
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(args, stdout=self._log, stderr=subprocess.STDOUT, env=env,
                                     preexec_fn=_die_with_parent, cwd=str(workdir))
        self.pid = self.proc.pid
        self.peak_rss_kb = 0

    def wait_ready(self, timeout: float = 60.0) -> str:
        ready = self.workdir / "hub.ready"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            if ready.exists() and ready.read_text().strip():
                return ready.read_text().strip()
            time.sleep(0.1)
        raise errors.FederationError(f"hub did not become ready within {timeout:g}s; see {self.log_path}")

    def check_alive(self) -> None:
        if self.proc.poll() is not None:
            raise errors.FederationError(f"hub exited with status {self.proc.returncode}: {self.log_tail()}")

    def client(self, address: str):
        from federation.api.client import AdminClient

        token = (self.workdir / "admin-token").read_text().strip()
        return AdminClient(address, ca_file=self.workdir / "tls" / "ca.crt", token=token, timeout=30.0)

    def usage(self) -> dict:
        """Peak and current RSS (MB) and CPU seconds (user + system) so far."""
        fields = {}
        with open(f"/proc/{self.pid}/status", encoding="ascii") as fh:
            for line in fh:
                key, _, value = line.partition(":")
                fields[key] = value.strip()
        with open(f"/proc/{self.pid}/stat", encoding="ascii") as fh:
            stat = fh.read().rpartition(")")[2].split()
        ticks = os.sysconf("SC_CLK_TCK")
        self.peak_rss_kb = max(self.peak_rss_kb, int(fields.get("VmHWM", "0 kB").split()[0]))
        return {"peak_rss_mb": round(self.peak_rss_kb / 1024, 1),
                "rss_mb": round(int(fields.get("VmRSS", "0 kB").split()[0]) / 1024, 1),
                "threads": int(fields.get("Threads", "0")),
                "cpu_seconds": round((int(stat[11]) + int(stat[12])) / ticks, 2)}

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, timeout: float = 15.0) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5.0)
        self._log.close()


# -- watching WorkloadEntry weights -------------------------------------------------------------
@dataclass
class Change:
    service: str
    source: str
    weight: int
    started: float
    waiting: set[str]
    affected: int = 0
    arrivals: dict[str, float] = field(default_factory=dict)
    done: float | None = None


class WeightWatch:
    """Follows WorkloadEntry events in every cluster's store (in-process watch) and
    completes a pending change once its weight is seen in every cluster it waits for."""

    def __init__(self, fleet: SimFleet):
        self._fleet = fleet
        self._lock = threading.Condition()
        self._pending: dict[tuple[str, str], Change] = {}
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._follow, args=(sim,), name=f"bench-watch-{sim.name}",
                                          daemon=True) for sim in fleet]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        for sim in self._fleet:
            sim.store.wake_watchers()
        for thread in self._threads:
            thread.join(5.0)

    def expect(self, change: Change) -> None:
        with self._lock:
            self._pending[(change.service, change.source)] = change

    def wait(self, change: Change, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self._lock:
            while change.done is None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    self._pending.pop((change.service, change.source), None)
                    return False
                self._lock.wait(remaining)
        return True

    def _follow(self, sim) -> None:
        store = sim.store
        rtype = store.rtype(*WE)
        after = store.resource_version
        while not self._stop.is_set():
            try:
                events, _ = store.wait_events(rtype, after, 0.5)
            except errors.ResourceExpired:
                after = store.resource_version
                continue
            now = time.monotonic()
            for event in events:
                after = event.rv
                labels = event.entry.labels
                key = (labels.get(SERVICE_NAME_LABEL, ""), labels.get(SOURCE_CLUSTER_LABEL, ""))
                weight = 0 if event.type == "DELETED" else (event.entry.obj.get("spec") or {}).get("weight")
                self._arrived(key, sim.name, weight, now)

    def _arrived(self, key: tuple[str, str], cluster: str, weight, now: float) -> None:
        with self._lock:
            change = self._pending.get(key)
            if change is None or change.weight != weight or cluster not in change.waiting:
                return
            change.waiting.discard(cluster)
            change.arrivals[cluster] = now
            if not change.waiting:
                change.done = now
                del self._pending[key]
                self._lock.notify_all()


# -- measuring -------------------------------------------------------------------------------------
def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def _distribution(seconds: list[float]) -> dict:
    ms = [s * 1000 for s in seconds]
    out = {f"p{q}": (round(v, 1) if (v := percentile(ms, q)) is not None else None) for q in (50, 95, 99)}
    out["max"] = round(max(ms), 1) if ms else None
    out["mean"] = round(sum(ms) / len(ms), 1) if ms else None
    return out


class WriteCounter:
    """Writes into the member clusters between two points: committed writes (the stores'
    resourceVersion deltas, by kind) and write requests (the API servers' request logs)."""

    def __init__(self, fleet: SimFleet):
        self._fleet = fleet
        self._rvs: dict[str, int] = {}

    def mark(self) -> None:
        for sim in self._fleet:
            self._rvs[sim.name] = sim.store.resource_version
            if hasattr(sim, "clear_requests"):
                sim.clear_requests()

    def since_mark(self) -> dict:
        committed, by_kind, by_cluster, requests, reads = 0, {}, {}, None, None
        for sim in self._fleet:
            before = self._rvs[sim.name]
            delta = sim.store.resource_version - before
            committed += delta
            by_cluster[sim.name] = delta
            for rtype in sim.store.catalog.types:
                try:
                    events, _ = sim.store.wait_events(rtype, before, 0)
                except errors.ResourceExpired:
                    continue
                for event in events:
                    name = f"{rtype.kind}.{rtype.group or 'core'}"
                    by_kind[name] = by_kind.get(name, 0) + 1
            if hasattr(sim, "requests"):
                answered = sim.requests()
                count = sum(1 for r in answered if r.method in WRITE_METHODS)
                requests = (requests or 0) + count
                reads = (reads or 0) + len(answered) - count
        return {"committed": committed, "by_kind": dict(sorted(by_kind.items())),
                "by_cluster": by_cluster, "requests": requests, "read_requests": reads}

    def settle(self, quiet: float = 2.0, timeout: float = 20.0) -> None:
        """Wait until no store has changed for ``quiet`` seconds (at most ``timeout``)."""
        deadline = time.monotonic() + timeout
        last, since = None, time.monotonic()
        while time.monotonic() < deadline:
            now = tuple(sim.store.resource_version for sim in self._fleet)
            if now != last:
                last, since = now, time.monotonic()
            elif time.monotonic() - since >= quiet:
                return
            time.sleep(0.1)


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return round(usage.ru_utime + usage.ru_stime, 2)


# -- phases --------------------------------------------------------------------------------------
def _counts(fleet: SimFleet) -> dict[str, dict[str, int]]:
    return {sim.name: {name: sim.store.count(*kind) for name, kind in KINDS.items()} for sim in fleet}


def converge(fleet, topology, hub, client, timeout: float) -> dict:
    expected = {c: topology.expected(c) for c in topology.clusters}
    writes = WriteCounter(fleet)
    writes.mark()
    started = time.monotonic()
    for sim in fleet:
        client.register_cluster(sim.name, fleet.kubeconfig_path(sim.name).read_text())
    registered = time.monotonic() - started
    counts_at, seconds, counts = None, None, {}
    while time.monotonic() - started < timeout:
        hub.check_alive()
        hub.usage()  # keeps the peak up to date
        counts = _counts(fleet)
        if counts == expected:
            counts_at = counts_at or time.monotonic() - started
            status = client.status()
            if len(status.clusters) == len(topology.clusters) and all(c.synced for c in status.clusters):
                seconds = time.monotonic() - started
                break
        time.sleep(0.2)
    missing = {c: {k: (counts.get(c, {}).get(k), n) for k, n in want.items() if counts.get(c, {}).get(k) != n}
               for c, want in expected.items()}
    counted = writes.since_mark()
    return {
        "converged": seconds is not None,
        "convergence_seconds": round(seconds, 2) if seconds is not None else None,
        "objects_seconds": round(counts_at, 2) if counts_at is not None else None,
        "register_seconds": round(registered, 2),
        "expected_objects": sum(sum(v.values()) for v in expected.values()),
        "mismatched_clusters": {c: m for c, m in missing.items() if m} if seconds is None else {},
        # Each cluster's seed writes are done before this phase: every write here is the hub's.
        "writes": counted["committed"],
        "write_requests": counted["requests"],
        "read_requests": counted["read_requests"],
        "writes_by_kind": counted["by_kind"],
    }


def run_changes(fleet, topology, hub, config: BenchConfig) -> tuple[dict, list[Change]]:
    watch = WeightWatch(fleet)
    watch.start()
    writes = WriteCounter(fleet)
    pairs = [(svc, cluster) for svc in topology.services for cluster in topology.placement[svc]]
    random.Random(config.seed).shuffle(pairs)
    not_ready: dict[tuple[str, str], int] = {}
    last_change: dict[tuple[str, str], Change] = {}
    changes: list[Change] = []
    try:
        writes.mark()
        started = time.monotonic()
        for i in range(config.changes):
            if i % 20 == 0:
                hub.check_alive()
                hub.usage()
            due = started + i / config.rate
            time.sleep(max(0.0, due - time.monotonic()))
            svc, source = pairs[i % len(pairs)]
            previous = last_change.get((svc, source))
            if previous is not None and previous.done is None:
                watch.wait(previous, max(0.0, previous.started + config.change_timeout - time.monotonic()))
            flipped = 1 - not_ready.get((svc, source), 0)  # toggles endpoint 0's readiness
            not_ready[(svc, source)] = flipped
            others = {c for c in topology.clusters if c != source}
            change = Change(svc, source, config.endpoints - flipped, time.monotonic(), set(others),
                            affected=len(others))
            watch.expect(change)
            set_endpoints(fleet[source], svc, NAMESPACE,
                          _endpoints(topology, source, config.endpoints, flipped), ports=PORTS)
            last_change[(svc, source)] = change
            changes.append(change)
        issue_seconds = time.monotonic() - started
        for change in changes:
            watch.wait(change, max(0.0, change.started + config.change_timeout - time.monotonic()))
        writes.settle()
        counted = writes.since_mark()
    finally:
        watch.stop()
    done = [c for c in changes if c.done is not None]
    latencies = [c.done - c.started for c in done]
    per_cluster = [t - c.started for c in changes for t in c.arrivals.values()]
    affected = sum(c.affected for c in changes)
    hub_writes = counted["committed"] - len(changes)  # each change is one EndpointSlice write of ours
    n = max(1, len(changes))
    result = {
        "changes": len(changes),
        "issue_seconds": round(issue_seconds, 2),
        "achieved_rate": round(len(changes) / issue_seconds, 2) if issue_seconds > 0 else None,
        "measured": len(done),
        "missed": len(changes) - len(done),
        "propagation_ms": _distribution(latencies),
        "per_cluster_arrival_ms": _distribution(per_cluster),
        "writes": {
            "hub_writes": hub_writes,
            "per_change": round(hub_writes / n, 3),
            "affected_clusters_per_change": round(affected / n, 3),
            "equal": hub_writes == affected,
            "write_requests": counted["requests"],
            "by_kind": counted["by_kind"],
        },
    }
    return result, changes


def run_idle(fleet, hub, seconds: float) -> dict:
    writes = WriteCounter(fleet)
    cpu_before = hub.usage()["cpu_seconds"]
    writes.mark()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        hub.check_alive()
        time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))
    counted = writes.since_mark()
    return {"seconds": seconds, "writes": counted["committed"], "write_requests": counted["requests"],
            "by_kind": counted["by_kind"], "hub_cpu_seconds": round(hub.usage()["cpu_seconds"] - cpu_before, 2)}


def run(config: BenchConfig, progress=None) -> dict:
    """Run every phase; returns the results (see ``summary`` for their shape)."""
    config.validate()
    say = progress or (lambda text: None)
    topology = Topology(config)
    temp = None
    workdir = Path(config.workdir) if config.workdir else Path(temp := tempfile.mkdtemp(prefix="fed-bench-"))
    schemas = config.schemas or default_schemas_dir()
    results: dict = {"config": asdict(config), "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
                     "schema_validation": bool(schemas)}
    fleet = SimFleet(config.clusters, workdir / "sim", schemas_dir=schemas,
                     history=max(5000, 4 * config.services * config.replicas_per_service))
    hub = client = None
    try:
        say(f"seeding {config.clusters} clusters, {config.services} services × {config.replicas_per_service} "
            f"× {config.endpoints} endpoints")
        fleet.start(before_ready=_seeder(topology, config.endpoints))
        hub = HubProcess(workdir / "hub", config.hub_args, config.hub_log_level)
        address = hub.wait_ready()
        client = hub.client(address)
        phases: dict = {}
        cpu0, own0 = hub.usage()["cpu_seconds"], _own_cpu()
        say(f"hub pid {hub.pid} at {address}; registering clusters, waiting for convergence")
        results["convergence"] = converge(fleet, topology, hub, client, config.converge_timeout)
        cpu1, own1 = hub.usage()["cpu_seconds"], _own_cpu()
        phases["converge"] = {"hub_cpu_seconds": round(cpu1 - cpu0, 2), "bench_cpu_seconds": round(own1 - own0, 2)}
        say(f"converged: {results['convergence']['convergence_seconds']} s; "
            f"{config.changes} changes at {config.rate:g}/s")
        results["propagation"], _ = run_changes(fleet, topology, hub, config)
        cpu2, own2 = hub.usage()["cpu_seconds"], _own_cpu()
        phases["changes"] = {"hub_cpu_seconds": round(cpu2 - cpu1, 2), "bench_cpu_seconds": round(own2 - own1, 2)}
        say(f"idle for {config.idle_seconds:g} s")
        results["idle"] = run_idle(fleet, hub, config.idle_seconds)
        results["hub"] = {**hub.usage(), "startup_cpu_seconds": cpu0, "phases": phases}
    finally:
        if client is not None:
            client.close()
        if hub is not None:
            hub.stop()
            if hub.proc.returncode not in (0, None):
                results["hub_exit_status"] = hub.proc.returncode
                results["hub_log_tail"] = hub.log_tail()
        fleet.stop()
        if temp is not None:
            import shutil

            shutil.rmtree(temp, ignore_errors=True)
    results["targets"] = targets(results)
    return results


def targets(results: dict) -> dict:
    conv = results.get("convergence", {}).get("convergence_seconds")
    prop = results.get("propagation", {})
    p99 = prop.get("propagation_ms", {}).get("p99")
    rss = results.get("hub", {}).get("peak_rss_mb")
    idle = results.get("idle", {})
    return {
        "convergence_seconds<=60": conv is not None and conv <= TARGETS["convergence_seconds"],
        "propagation_p99_ms<=500": p99 is not None and prop.get("missed") == 0 and p99 <= TARGETS["p99_ms"],
        "writes_per_change==affected_clusters": bool(prop.get("writes", {}).get("equal")),
        "idle_writes==0": idle.get("writes") == 0 and idle.get("write_requests") in (0, None),
        "hub_peak_rss_mb<=300": rss is not None and rss <= TARGETS["hub_peak_rss_mb"],
    }


def summary(results: dict) -> str:
    conv, prop, idle, hub = (results.get(k, {}) for k in ("convergence", "propagation", "idle", "hub"))
    ms, writes = prop.get("propagation_ms", {}), prop.get("writes", {})
    lines = [
        f"convergence: {conv.get('convergence_seconds')} s (objects {conv.get('objects_seconds')} s, "
        f"{conv.get('expected_objects')} objects)",
        f"propagation: p50 {ms.get('p50')} ms, p95 {ms.get('p95')} ms, p99 {ms.get('p99')} ms, "
        f"max {ms.get('max')} ms ({prop.get('measured')}/{prop.get('changes')} changes, "
        f"{prop.get('achieved_rate')}/s)",
        f"writes per change: {writes.get('per_change')} (clusters whose objects changed: "
        f"{writes.get('affected_clusters_per_change')}; write requests {writes.get('write_requests')})",
        f"idle {idle.get('seconds')} s: {idle.get('writes')} writes, {idle.get('write_requests')} write "
        f"requests, hub CPU {idle.get('hub_cpu_seconds')} s",
        f"hub: peak RSS {hub.get('peak_rss_mb')} MB, CPU {hub.get('cpu_seconds')} s, "
        f"threads {hub.get('threads')}",
    ]
    lines += [f"target {name}: {'met' if ok else 'MISSED'}" for name, ok in results.get("targets", {}).items()]
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    d = BenchConfig()
    p = argparse.ArgumentParser(prog="python -m federation.bench", description=__doc__.split("\n")[0])
    p.add_argument("--clusters", type=int, default=d.clusters)
    p.add_argument("--networks", type=int, default=d.networks)
    p.add_argument("--services", type=int, default=d.services, help="services in the mesh")
    p.add_argument("--replicas-per-service", type=int, default=d.replicas_per_service,
                   help="clusters each service runs in")
    p.add_argument("--endpoints", type=int, default=d.endpoints, help="endpoints per service per cluster")
    p.add_argument("--changes", type=int, default=d.changes, help="endpoint readiness flips to time")
    p.add_argument("--rate", type=float, default=d.rate, help="flips per second")
    p.add_argument("--idle-seconds", type=float, default=d.idle_seconds)
    p.add_argument("--converge-timeout", type=float, default=d.converge_timeout)
    p.add_argument("--change-timeout", type=float, default=d.change_timeout)
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--hub-arg", action="append", default=[], dest="hub_args",
                   help="extra `federation serve` flag, e.g. --hub-arg=--debounce-quiet=0.05 (repeatable)")
    p.add_argument("--hub-log-level", default=d.hub_log_level, choices=["debug", "info", "warning", "error"])
    p.add_argument("--workdir", default="", help="keep kubeconfigs and the hub's log here (default: temporary)")
    p.add_argument("--schemas", default="", help="CRD schemas directory (default ../shared when present)")
    p.add_argument("--out", default="bench-results.json", help="JSON results file")
    p.add_argument("--strict", action="store_true", help="exit status 1 when a target is missed")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    options = {k: v for k, v in vars(args).items() if k not in ("out", "strict")}
    try:
        results = run(BenchConfig(**options), progress=lambda text: print(f"bench: {text}", flush=True))
    except errors.FederationError as exc:
        print(f"bench failed: {exc}", file=sys.stderr)
        return 2
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(summary(results))
    print(f"results written to {args.out}")
    return 1 if args.strict and not all(results["targets"].values()) else 0


if __name__ == "__main__":
    sys.exit(main())
