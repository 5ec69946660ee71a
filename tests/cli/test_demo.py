"""`federation demo` as a user runs it: ready file, hub.env for another terminal, clean stop."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from federation.sim.cli import default_schemas_dir


def read_env(path):
    env = {}
    for line in path.read_text().splitlines():
        key, _, value = line.removeprefix("export ").partition("=")
        env[key] = value
    return env


def test_demo_becomes_ready_answers_from_another_terminal_and_stops_on_sigterm(tmp_path):
    if default_schemas_dir() is None:
        pytest.skip("../shared (CRD schemas) not found")
    workdir = tmp_path / "demo"
    demo = subprocess.Popen([sys.executable, "-m", "federation.cli", "demo", "--workdir", str(workdir),
                             "--no-view"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not (workdir / "ready").exists():
            assert demo.poll() is None, demo.stderr.read()
            assert time.monotonic() < deadline, "demo not ready within 60 s"
            time.sleep(0.2)
        assert sorted(p.name for p in (workdir / "kubeconfigs").iterdir()) == \
            ["cluster-1.yaml", "cluster-2.yaml", "cluster-3.yaml"]
        env = {**os.environ, **read_env(workdir / "hub.env")}
        out = subprocess.run([sys.executable, "-m", "federation.cli", "services"], env=env,
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        assert "bookinfo/reviews" in out.stdout and "cluster-3" in out.stdout
        status = subprocess.run([sys.executable, "-m", "federation.cli", "status"], env=env,
                                capture_output=True, text=True, timeout=60)
        assert status.stdout.count(" yes ") == 3, status.stdout
        demo.send_signal(signal.SIGTERM)
        assert demo.wait(timeout=30) == 0
        assert not (workdir / "ready").exists()
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait(10)
