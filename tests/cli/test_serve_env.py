"""`federation serve --workdir DIR` writes DIR/hub.env with every listener it runs."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time

from tests.cli.test_demo import read_env


def serve(workdir, *flags: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "federation.cli", "--log-level", "warning", "serve",
                             "--workdir", str(workdir), "--listen", "127.0.0.1:0", *flags],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def wait_ready(proc: subprocess.Popen, workdir, timeout: float = 30) -> dict[str, str]:
    deadline = time.monotonic() + timeout
    while not (workdir / "hub.ready").exists():
        assert proc.poll() is None, proc.stderr.read()
        assert time.monotonic() < deadline, "hub not ready"
        time.sleep(0.1)
    return read_env(workdir / "hub.env")


def stop(proc: subprocess.Popen) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def answers(address: str) -> bool:
    host, _, port = address.rpartition(":")
    with socket.create_connection((host, int(port)), timeout=5):
        return True


def test_hub_env_names_every_listener_of_serve(tmp_path):
    proc = serve(tmp_path, "--onboarding-listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0")
    try:
        env = wait_ready(proc, tmp_path)
        for name in ("FEDERATION_HUB", "FEDERATION_ONBOARDING", "FEDERATION_ONBOARDING_SESSION",
                     "FEDERATION_METRICS"):
            assert env[name].startswith("127.0.0.1:") and not env[name].endswith(":0"), env
            assert answers(env[name]), name
        assert len({env[n] for n in env if n != "FEDERATION_CA" and n != "FEDERATION_TOKEN_FILE"}) == 4
    finally:
        assert stop(proc) == 0


def test_hub_env_leaves_out_what_does_not_listen(tmp_path):
    proc = serve(tmp_path)
    try:
        env = wait_ready(proc, tmp_path)
        assert set(env) == {"FEDERATION_HUB", "FEDERATION_CA", "FEDERATION_TOKEN_FILE"}
    finally:
        assert stop(proc) == 0
