"""Benchmark of VM onboarding: enrollments per second and the cost of a heartbeat.

    python -m bench.vms --out FILE [--agents 200] [--pool 8] [--rounds 5]

A hub runs as its own process (``federation serve``, in-memory store) so its
CPU time can be read from ``/proc`` apart from the agents'. The agents are
in-process ``Agent`` objects driven by a bounded thread pool: all enroll with
one multi-use token, then heartbeat ``rounds`` times each. Reported (and
written as JSON): enrollments per second and hub CPU per enrollment; hub CPU
per heartbeat (µs), heartbeat latency p50/p99 (ms, as the agent sees it) and
the agents' own CPU per heartbeat, once every session is open; and apart from
those, the cost of each VM's first heartbeat, which opens its mTLS session.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml

from federation import errors

GROUP = {"apiVersion": "federation.mesh/v1alpha1", "kind": "WorkloadGroup",
         "metadata": {"name": "bench", "namespace": "default"},
         "spec": {"serviceAccount": "bench", "labels": {"app": "bench"}, "network": "vm-net",
                  "ports": [{"name": "http", "number": 8080, "protocol": "HTTP"}]}}
_START_TIMEOUT = 30.0


def _free_port_pair() -> int:
    """A port P with P and P+1 free (the onboarding and session ports)."""
    for _ in range(50):
        with socket.socket() as first:
            first.bind(("127.0.0.1", 0))
            port = first.getsockname()[1]
            try:
                with socket.socket() as second:
                    second.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return port
    raise errors.ConfigError("no free pair of ports on 127.0.0.1")


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of a process, from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


class HubProcess:
    def __init__(self, root: Path, grace: float):
        self.root = root
        self.onboarding_port = _free_port_pair()
        self._log = open(root / "hub.log", "wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "federation.cli", "--log-level", "warning", "serve",
             "--workdir", str(root / "hub"), "--store", "memory://", "--listen", "127.0.0.1:0",
             "--onboarding-listen", f"127.0.0.1:{self.onboarding_port}",
             "--vm-grace", str(grace)],
            stdout=self._log, stderr=subprocess.STDOUT)
        ready = root / "hub" / "hub.ready"
        deadline = time.monotonic() + _START_TIMEOUT
        while not ready.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise errors.FederationError(f"the hub did not start; see {root / 'hub.log'}")
            time.sleep(0.05)
        self.admin = ready.read_text().strip()
        self.ca = root / "hub" / "tls" / "ca.crt"
        self.token = (root / "hub" / "admin-token").read_text().strip()

    @property
    def enroll_address(self) -> str:
        return f"127.0.0.1:{self.onboarding_port}"

    def cpu(self) -> float:
        return _cpu_seconds(self.proc.pid)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._log.close()


def _prepare(hub: HubProcess, agents: int) -> str:
    from federation.onboarding.client import VMAdminClient

    try:
        from federation.trust.client import TrustClient
    except ImportError:  # without the trust feature, onboarding creates the root itself
        TrustClient = None
    if TrustClient is not None:
        with TrustClient(hub.admin, ca_file=hub.ca, token=hub.token, timeout=30) as trust:
            try:
                trust.init_root()
            except errors.AlreadyExists:
                pass
    with VMAdminClient(hub.admin, ca_file=hub.ca, token=hub.token, timeout=30) as client:
        client.apply_resources(yaml.safe_dump(GROUP))
        return client.create_token("default", "bench", 3600, agents).token


def run(agents: int, pool: int, rounds: int, workdir: Path) -> dict:
    from federation.agent.running import Agent

    hub = HubProcess(workdir, grace=30.0)
    fleet: list[Agent] = []
    try:
        token = _prepare(hub, agents)
        ca_pem = hub.ca.read_bytes()
        fleet = [Agent(str(workdir / "vms" / f"vm-{i}"), ca_pem=ca_pem, timeout=30)
                 for i in range(agents)]
        with ThreadPoolExecutor(pool, thread_name_prefix="bench-agent") as executor:
            hub_cpu, started = hub.cpu(), time.perf_counter()
            list(executor.map(lambda i: fleet[i].join(
                hub.enroll_address, token, f"10.40.{i // 250}.{i % 250 + 1}", f"vm-{i}"),
                range(agents)))
            enroll_seconds = time.perf_counter() - started
            enroll_cpu = hub.cpu() - hub_cpu

            latencies: list[float] = []
            failures = 0

            def beat(agent: Agent) -> None:
                nonlocal failures
                begin = time.perf_counter()
                try:
                    agent.heartbeat_once()
                except errors.FederationError:
                    failures += 1
                    return
                latencies.append(time.perf_counter() - begin)

            # The first heartbeat opens each VM's mTLS session: measured on its own.
            hub_cpu = hub.cpu()
            list(executor.map(beat, fleet))
            first_cpu = hub.cpu() - hub_cpu
            first_latencies, latencies[:] = list(latencies), []

            hub_cpu, own_cpu, started = hub.cpu(), _own_cpu(), time.perf_counter()
            for _ in range(rounds):
                list(executor.map(beat, fleet))
            beat_seconds = time.perf_counter() - started
            beat_cpu, agents_cpu = hub.cpu() - hub_cpu, _own_cpu() - own_cpu
        count = len(latencies)
        return {
            "agents": agents, "pool": pool, "rounds": rounds,
            "enroll": {"seconds": round(enroll_seconds, 3),
                       "per_second": round(agents / enroll_seconds, 1),
                       "hub_cpu_us_per_enrollment": round(enroll_cpu / agents * 1e6, 1)},
            "heartbeat": {"count": count, "failures": failures,
                          "per_second": round(count / beat_seconds, 1) if beat_seconds else 0.0,
                          "hub_cpu_us_per_heartbeat": round(beat_cpu / max(count, 1) * 1e6, 1),
                          "agent_cpu_us_per_heartbeat": round(agents_cpu / max(count, 1) * 1e6, 1),
                          "p50_ms": round(_percentile(latencies, 0.50) * 1e3, 3),
                          "p99_ms": round(_percentile(latencies, 0.99) * 1e3, 3)},
            "first_heartbeat": {"hub_cpu_us_per_session": round(first_cpu / agents * 1e6, 1),
                                "p50_ms": round(_percentile(first_latencies, 0.50) * 1e3, 3),
                                "p99_ms": round(_percentile(first_latencies, 0.99) * 1e3, 3)},
        }
    finally:
        for agent in fleet:
            agent.close()
        hub.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.vms",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True, help="write the JSON report here")
    parser.add_argument("--agents", type=int, default=200, help="VMs to enroll (default 200)")
    parser.add_argument("--pool", type=int, default=8, help="agent threads (default 8)")
    parser.add_argument("--rounds", type=int, default=5, help="heartbeats per agent (default 5)")
    parser.add_argument("--workdir", default="", help="keep the hub's and agents' files here")
    args = parser.parse_args(argv)
    if args.agents < 1 or args.pool < 1 or args.rounds < 1:
        parser.error("--agents, --pool and --rounds must be positive")
    if args.workdir:
        workdir = Path(args.workdir)
        workdir.mkdir(parents=True, exist_ok=True)
        report = run(args.agents, args.pool, args.rounds, workdir)
    else:
        with tempfile.TemporaryDirectory(prefix="bench-vms-") as tmp:
            report = run(args.agents, args.pool, args.rounds, Path(tmp))
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
