"""``federation-agent join`` pointed at the wrong thing: it stops at once with its
own exit status and a hint naming the fix, and gRPC's C core prints nothing."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import time

import pytest

from federation.agent.running import NEEDS_ENROLLMENT, UNTRUSTED_HUB, WRONG_ENDPOINT
from federation.api.tls import make_self_signed_ca
from tests.onboarding.support import PYTHON, REPO_ROOT, group_doc, start_hub, stop_hub
from tests.support import wait_for

# A C-core log line: severity letter, MMDD, time, thread, file:line]
C_CORE_LINE = re.compile(r"^[IWEF]\d{4} \d\d:\d\d:\d\d\.\d+\s+\d+ \S+:\d+\]", re.M)
FAST = 20.0  # seconds: far below the hours a retrying agent would spend


@pytest.fixture
def hub(tmp_path):
    started = start_hub(tmp_path / "hub", metrics_listen="127.0.0.1:0")
    try:
        started.apply(group_doc())
        yield started
    finally:
        stop_hub(started)


def join(tmp_path, address: str, ca: bytes, token: str = "mfvm_" + "t" * 43, *extra: str):
    """Run ``join`` to its end; (exit status, stderr, seconds it took)."""
    ca_file = tmp_path / "bundle.pem"
    ca_file.write_bytes(ca)
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRPC_")}
    started = time.monotonic()
    done = subprocess.run(
        [PYTHON, "-m", "federation.agent", "join", "--hub", address, "--token", token,
         "--ca-bundle", str(ca_file), "--out", str(tmp_path / "out"), "--address", "10.0.0.5",
         "--no-run", "--max-backoff", "1", *extra],
        cwd=REPO_ROOT, env=dict(env, PYTHONPATH=str(REPO_ROOT)), capture_output=True, text=True,
        timeout=FAST + 10)
    return done.returncode, done.stderr, time.monotonic() - started


def assert_clean(stderr: str, token: str = "") -> None:
    assert not C_CORE_LINE.search(stderr), f"gRPC C-core log lines leaked:\n{stderr}"
    assert "ssl_transport_security" not in stderr and "Handshake failed" not in stderr, stderr
    if token:
        assert token not in stderr, "the token is never printed"


def hint(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.startswith("hint: ")]
    assert len(lines) == 1, f"one hint line expected:\n{stderr}"
    return lines[0]


def test_a_wrong_ca_bundle_fails_at_once_naming_the_ca(hub, tmp_path):
    token = hub.token()
    status, stderr, took = join(tmp_path, hub.enroll_address, make_self_signed_ca().cert_pem, token)
    assert status == UNTRUSTED_HUB, stderr
    assert took < FAST
    assert "CERTIFICATE_VERIFY_FAILED" in stderr
    assert "--ca-bundle" in hint(stderr) and "FEDERATION_CA" in hint(stderr)
    assert_clean(stderr, token)
    assert not (tmp_path / "out" / "agent-state.json").exists()


def test_the_session_port_instead_of_enroll_fails_at_once_naming_the_enroll_address(hub, tmp_path):
    session = hub.onboarding.server.session_address
    status, stderr, took = join(tmp_path, session, hub.ca_pem, hub.token())
    assert status == WRONG_ENDPOINT, stderr
    assert took < FAST
    assert "session port" in hint(stderr) and "FEDERATION_ONBOARDING" in hint(stderr)
    assert_clean(stderr)


def test_the_admin_port_fails_at_once_as_not_the_enroll_port(hub, tmp_path):
    status, stderr, took = join(tmp_path, hub.service.api.address, hub.ca_pem, hub.token())
    assert status == WRONG_ENDPOINT, stderr
    assert took < FAST
    assert "not enrollment" in hint(stderr) and "FEDERATION_ONBOARDING" in hint(stderr)
    assert_clean(stderr)


def test_the_metrics_port_fails_at_once_as_not_tls(hub, tmp_path):
    status, stderr, took = join(tmp_path, f"127.0.0.1:{hub.service.metrics_port}", hub.ca_pem)
    assert status == WRONG_ENDPOINT, stderr
    assert took < FAST
    assert "FEDERATION_ONBOARDING" in hint(stderr)
    assert_clean(stderr)


def test_a_refused_token_exits_3_with_a_hint_to_create_one(hub, tmp_path):
    forged = "mfvm_" + "f" * 43
    status, stderr, took = join(tmp_path, hub.enroll_address, hub.ca_pem, forged)
    assert status == NEEDS_ENROLLMENT, stderr
    assert "bootstrap token unknown" in stderr
    assert "federation vm token create" in hint(stderr)
    assert_clean(stderr, forged)


def test_a_hub_that_is_down_is_retried_with_back_off_not_given_up(tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens there once closed
    ca_file = tmp_path / "ca.pem"
    ca_file.write_bytes(make_self_signed_ca().cert_pem)
    log = tmp_path / "agent.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [PYTHON, "-m", "federation.agent", "join", "--hub", f"127.0.0.1:{port}", "--token",
             "mfvm_" + "t" * 43, "--ca-bundle", str(ca_file), "--out", str(tmp_path / "out"),
             "--address", "10.0.0.5", "--max-backoff", "0.5"],
            cwd=REPO_ROOT, env=dict(os.environ, PYTHONPATH=str(REPO_ROOT)), stdout=out, stderr=out)
    try:
        def retried_three_times() -> bool:
            assert proc.poll() is None, f"gave up on a transient failure:\n{log.read_text()}"
            return log.read_text().count("hub unreachable; retrying") >= 3

        wait_for(retried_three_times, 20, "three retries in the agent's log", interval=0.1)
        assert "Connection refused" in log.read_text()
    finally:
        proc.terminate()
        assert proc.wait(10) == 0
    assert_clean(log.read_text())
