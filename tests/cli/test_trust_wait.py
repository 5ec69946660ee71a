"""`federation trust rotate --wait` against a real hub with simulated members: a
line each time who the step waits for changes, done when every cluster and VM
confirmed it, and a clear failure naming who is missing once --timeout passes."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from federation.serving import prepare_workdir
from kubesim import SimFleet
from kubesim.workloads import istio_system_namespace
from tests.trust_integration.support import RootPublisher, start_hub
from tests.support import wait_for

GATE = "vm-gate"  # a VM agent the test confirms by hand, holding step 1 until then


@pytest.fixture
def hub(tmp_path):
    with SimFleet(2, tmp_path / "fleet") as fleet:
        for cluster in fleet:  # where cacerts goes; the publisher stands in for istiod
            cluster.create(istio_system_namespace("network-1"))
        roots = RootPublisher(fleet)
        try:
            running = start_hub(prepare_workdir(tmp_path / "hub", hosts=["127.0.0.1", "localhost"]))
            try:
                running.service.trust_keeper.set_agent_source(lambda: {GATE})
                running.register(fleet, "cluster-1", "cluster-2")
                running.client.init_root()
                wait_for(lambda: all(i["confirmed_step"] == 0
                                     for i in running.client.trust_status()["intermediates"])
                         and len(running.client.trust_status()["intermediates"]) == 2,
                         what="both clusters holding the root")
                yield running
            finally:
                running.stop()
        finally:
            roots.close()


def rotate(hub, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "federation.cli", "trust", "rotate", "--wait",
                             *hub.cli_flags(), *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=dict(os.environ))


def progress(stdout: str) -> list[str]:
    return [line for line in stdout.splitlines() if line.startswith("step 1 (bundle)")]


def test_wait_prints_progress_until_every_cluster_and_vm_confirmed_the_step(hub):
    proc = rotate(hub, "--timeout", "60")
    seen = []
    try:
        # Line by line (the CLI's own --timeout bounds each read) until only the VM
        # agent holds the step; the test then confirms for it.
        while not seen or seen[-1] != "step 1 (bundle): waiting for agents vm-gate":
            line = proc.stdout.readline()
            assert line, f"--wait ended before only the agent was pending: {seen}"
            seen.append(line.rstrip("\n"))
            assert "complete" not in seen[-1], seen
        assert proc.poll() is None, "--wait returned while the VM had not confirmed"
        hub.service.trust.confirm_agent(GATE, 1)
        hub.service.trust_keeper.wake()
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert seen[0].startswith("root rotation ")
    lines = progress("\n".join(seen) + "\n" + out)
    assert lines[-1] == "step 1 (bundle) complete; the rotation is at step 2 (intermediates)"
    assert all(line.startswith("step 1 (bundle): waiting for ") for line in lines[:-1])
    assert len(lines) == len(set(lines)), "a line only when who it waits for changes"


def test_wait_gives_up_after_timeout_naming_who_has_not_confirmed(hub):
    started = time.monotonic()
    proc = rotate(hub, "--timeout", "4")
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 1
    assert time.monotonic() - started < 20
    assert "step 1 (bundle) not complete after 4s: waiting for " in err and GATE in err
    assert progress(out) and progress(out)[-1].startswith("step 1 (bundle): waiting for ")
