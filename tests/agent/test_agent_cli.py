"""``federation-agent`` as a process: refusals, resuming, stopping, and what it never prints."""

from __future__ import annotations

import json
import socket
import subprocess

from federation.agent.running import NEEDS_ENROLLMENT
from tests.onboarding.support import PYTHON, REPO_ROOT, AgentProcess, group_doc
from tests.support import wait_for


def test_a_refused_token_exits_3_with_a_clear_error_and_writes_no_enrollment(hub, agents):
    hub.apply(group_doc())
    forged = "f" * 43
    agent = agents.join(hub, forged, "vm-x", "10.0.0.9")
    assert agent.wait(20) == NEEDS_ENROLLMENT
    output = agent.output()
    assert "bootstrap token unknown" in output
    assert forged not in output, "the token is never printed"
    assert not (agents.out("vm-x") / "agent-state.json").exists()


def test_joining_logs_neither_the_token_nor_the_key(hub, agents):
    hub.apply(group_doc())
    token = hub.token()
    agent = agents.join(hub, token, "vm-y", "10.0.0.10", "--no-run", "--log-level", "debug",
                        "--log-format", "json")
    assert agent.wait(20) == 0, agent.output()
    output = agent.output()
    key = (agents.out("vm-y") / "key.pem").read_text()
    body = "".join(key.splitlines()[1:-1])
    assert token not in output and body[:40] not in output
    events = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    assert any(e["msg"] == "enrolled" for e in events), "logs are structured JSON lines"


def test_run_without_an_enrollment_says_so(agents, tmp_path):
    run = agents.run("never-joined")
    assert run.wait(20) == 1
    assert "holds no enrollment" in run.output()


def test_sigterm_stops_an_agent_that_cannot_reach_the_hub(agents, tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again: nothing listens there
    ca = tmp_path / "ca.pem"
    ca.write_bytes(b"-----BEGIN CERTIFICATE-----\nMA==\n-----END CERTIFICATE-----\n")
    agent = AgentProcess(["join", "--hub", f"127.0.0.1:{port}", "--token", "t" * 43,
                          "--ca-bundle", str(ca), "--out", str(tmp_path / "out"),
                          "--address", "10.0.0.1", "--max-backoff", "1"], tmp_path / "agent.log")
    agents.started.append(agent)
    wait_for(lambda: "hub unreachable; retrying" in agent.output(), timeout=15,
               what="the agent to back off and retry")
    assert agent.terminate(timeout=10) == 0  # TimeoutExpired if it does not stop
    assert "stopped before enrolling" in agent.output()


def test_version_prints_the_version():
    done = subprocess.run([PYTHON, "-m", "federation.agent", "version"], capture_output=True,
                          text=True, timeout=30, cwd=REPO_ROOT)
    assert done.returncode == 0 and done.stdout.startswith("federation-agent ")
