"""Helpers of the onboarding tests: a hub with onboarding, groups, agent processes, polling."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import kubernetes
import yaml

from federation.onboarding.client import VMAdminClient
from federation.settings import HubSettings
from federation.serving import HubService, Workdir, prepare_workdir
from tests.support import REPO_ROOT  # noqa: F401  (for the tests here)

PYTHON = sys.executable


def group_doc(name: str = "ratings", namespace: str = "default", **spec) -> dict:
    body = {"serviceAccount": name, "labels": {"app": name}, "network": "vm-net",
            "locality": "us-east/us-east-1a",
            "ports": [{"name": "http", "number": 9080, "protocol": "HTTP"}]}
    body.update(spec)
    return {"apiVersion": "federation.mesh/v1alpha1", "kind": "WorkloadGroup",
            "metadata": {"name": name, "namespace": namespace}, "spec": body}


@dataclass
class Hub:
    """An in-process hub with onboarding, its credentials and an admin client."""

    service: HubService
    workdir: Workdir
    client: VMAdminClient

    @property
    def onboarding(self):
        return self.service.onboarding

    @property
    def enroll_address(self) -> str:
        return self.onboarding.server.address

    @property
    def ca_pem(self) -> bytes:
        return self.workdir.ca.read_bytes()

    @property
    def store(self):
        return self.service.store

    def apply(self, *docs: dict) -> list[str]:
        return self.client.apply_resources(yaml.safe_dump_all(list(docs)))

    def token(self, group: str = "default/ratings", ttl: int = 600, uses: int = 1) -> str:
        namespace, name = group.split("/")
        return self.client.create_token(namespace, name, ttl, uses).token

    def state(self, *prefixes: str) -> list[tuple]:
        """Every (key, value, mod revision) under ``prefixes``: to show nothing was written."""
        out = []
        for prefix in prefixes or ("vms/", "trust/"):
            kvs, _ = self.store.range(prefix)
            out += [(kv.key, kv.value, kv.mod_revision, kv.lease) for kv in kvs]
        return out

    def refusals(self) -> dict[str, float]:
        counts: dict[str, float] = {}
        for line in self.service.telemetry.scrape().splitlines():
            if line.startswith("federation_refusals_total{"):
                labels, _, value = line.rpartition(" ")
                reason = labels.split('reason="', 1)[1].split('"', 1)[0]
                counts[reason] = counts.get(reason, 0) + float(value)
        return counts


def start_hub(root: Path, **overrides) -> Hub:
    workdir = prepare_workdir(root, ["127.0.0.1", "localhost"])
    values = dict(listen="127.0.0.1:0", onboarding_listen="127.0.0.1:0",
                  tls_cert=str(workdir.cert), tls_key=str(workdir.key),
                  admin_token_file=str(workdir.token), kek_file=str(workdir.kek),
                  initial_sync_timeout=1.0, debounce_quiet=0.02, debounce_max=0.2, vm_grace=3.0,
                  vm_enroll_failures=100,
                  rotation_soak=0.0)  # rotation steps are not soaked here (tests/trust_integration is)
    values.update(overrides)
    service = HubService(HubSettings(**values))
    service.trust.init_root()
    service.start()
    client = VMAdminClient(service.api.address, ca_file=workdir.ca,
                           token=workdir.token.read_text().strip(), timeout=10)
    return Hub(service, workdir, client)


def stop_hub(hub: Hub) -> None:
    hub.client.close()
    hub.service.stop()


# -- agents as processes -------------------------------------------------------------
class AgentProcess:
    """``python -m federation.agent …`` with its output in a file."""

    def __init__(self, args: list[str], log_path: Path):
        self.args = args
        self.log_path = log_path
        self._log = open(log_path, "ab")
        env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
        self.proc = subprocess.Popen([PYTHON, "-m", "federation.agent", *args], cwd=REPO_ROOT,
                                     stdout=self._log, stderr=subprocess.STDOUT, env=env)

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    @contextlib.contextmanager
    def log_on_failure(self):
        """Add the agent's log to an assertion failing inside."""
        try:
            yield
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n--- agent log ---\n{self.output()}") from None

    def terminate(self, timeout: float = 10.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.wait(timeout)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.wait(10)

    def wait(self, timeout: float) -> int:
        try:
            return self.proc.wait(timeout)
        finally:
            self._log.close()


class Agents:
    """Starts agent processes and makes sure none outlives the test."""

    def __init__(self, root: Path):
        self.root = root
        self.started: list[AgentProcess] = []

    def join(self, hub: Hub, token: str, name: str, address: str, *extra: str) -> AgentProcess:
        out = self.root / name
        ca = self.root / "hub-ca.pem"
        ca.write_bytes(hub.ca_pem)
        return self._start(["join", "--hub", hub.enroll_address, "--token", token,
                            "--ca-bundle", str(ca), "--out", str(out), "--address", address,
                            "--hostname", name, "--max-backoff", "1", *extra], name)

    def run(self, name: str, *extra: str) -> AgentProcess:
        return self._start(["run", "--out", str(self.root / name), "--max-backoff", "1", *extra],
                           name)

    def out(self, name: str) -> Path:
        return self.root / name

    def _start(self, args: list[str], name: str) -> AgentProcess:
        agent = AgentProcess(args, self.root / f"{name}.log")
        self.started.append(agent)
        return agent

    def cleanup(self) -> None:
        for agent in self.started:
            agent.kill()


# -- reading member clusters back -------------------------------------------------------
def workload_entries(kubeconfig: Path, namespace: str = "default") -> list[dict]:
    """WorkloadEntries of ``namespace``, read with the official kubernetes client."""
    api = kubernetes.config.new_client_from_config(config_file=str(kubeconfig))
    try:
        custom = kubernetes.client.CustomObjectsApi(api)
        found = custom.list_namespaced_custom_object("networking.istio.io", "v1", namespace,
                                                     "workloadentries", _request_timeout=10)
        return found["items"]
    finally:
        api.close()


def vm_entries(kubeconfig: Path, vm_name: str) -> list[dict]:
    return [e for e in workload_entries(kubeconfig)
            if e["metadata"]["labels"].get("federation.mesh/vm") == vm_name]
