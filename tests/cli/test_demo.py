"""`make demo` (`python -m kubesim.demo`) as a user runs it: ready file, hub.env with every listener for
another terminal, logs in demo.log from the first line, private kubeconfigs, the
README's VM onboarding path run as written, and a clean stop."""

from __future__ import annotations

import io
import os
import re
import signal
import socket
import stat
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from federation.api.client import AdminClient
from kubesim.demo import draw
from kubesim.cli import default_schemas_dir

REPO_ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent  # where `federation` and `federation-agent` are installed
LISTENERS = ("FEDERATION_HUB", "FEDERATION_ONBOARDING", "FEDERATION_ONBOARDING_SESSION", "FEDERATION_METRICS")


def read_env(path):
    env = {}
    for line in path.read_text().splitlines():
        key, _, value = line.removeprefix("export ").partition("=")
        env[key] = value
    return env


class Demo:
    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.stderr_path = workdir.parent / "demo.stderr"
        self._stderr = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen([sys.executable, "-m", "kubesim.demo", "--workdir",
                                      str(workdir), "--no-view"], cwd=REPO_ROOT, stdout=subprocess.DEVNULL,
                                     stderr=self._stderr)

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not (self.workdir / "ready").exists():
            assert self.proc.poll() is None, self.stderr_path.read_text()
            assert time.monotonic() < deadline, f"demo not ready within {timeout} s"
            time.sleep(0.2)

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, **read_env(self.workdir / "hub.env")}

    def cli(self, *args: str, **kwargs) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "federation.cli", *args], env=self.env,
                              capture_output=True, text=True, timeout=60, **kwargs)

    def stop(self) -> int:
        try:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
            return self.proc.wait(timeout=30)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait(10)
            self._stderr.close()


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    if default_schemas_dir() is None:
        pytest.skip("../shared (CRD schemas) not found")
    running = Demo(tmp_path_factory.mktemp("demo") / "demo")
    try:
        running.wait_ready()
        yield running
    finally:
        running.stop()


def test_hub_env_exports_every_listener_and_each_answers(demo):
    env = read_env(demo.workdir / "hub.env")
    for name in LISTENERS:
        host, _, port = env[name].rpartition(":")
        assert host == "127.0.0.1", (name, env[name])
        with socket.create_connection((host, int(port)), timeout=5):
            pass  # something listens there
    with urllib.request.urlopen(f"http://{env['FEDERATION_METRICS']}/metrics", timeout=10) as resp:
        assert b"federation_" in resp.read()
    assert stat.S_IMODE((demo.workdir / "hub.env").stat().st_mode) == 0o600


def test_kubeconfigs_holding_tokens_are_private(demo):
    files = sorted((demo.workdir / "kubeconfigs").iterdir())
    assert [p.name for p in files] == ["cluster-1.yaml", "cluster-2.yaml", "cluster-3.yaml"]
    for path in files:
        assert "token" in path.read_text()
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def test_demo_log_holds_every_line_from_the_first(demo):
    log_lines = (demo.workdir / "demo.log").read_text().splitlines()
    assert "sim fleet ready" in log_lines[0], log_lines[:3]  # the demo's first log line
    stderr_lines = [line for line in demo.stderr_path.read_text().splitlines() if line.startswith("ts=")]
    # Threads log at once: the two handlers may see them in other orders.
    assert stderr_lines and not set(stderr_lines) - set(log_lines)
    ready = next(line for line in log_lines if 'msg="demo ready"' in line)
    for name in LISTENERS:
        assert f"{name.lower()}={read_env(demo.workdir / 'hub.env')[name]}" in ready


def test_the_live_view_header_shows_every_address(demo):
    env = read_env(demo.workdir / "hub.env")
    addresses = {name: env[name] for name in LISTENERS}
    screen = io.StringIO()
    with AdminClient(env["FEDERATION_HUB"], ca_file=env["FEDERATION_CA"],
                     token=Path(env["FEDERATION_TOKEN_FILE"]).read_text()) as client:
        draw(client, addresses, out=screen)
    head = screen.getvalue().split("CLUSTER", 1)[0]
    for name, value in addresses.items():
        assert re.search(rf"{name}\s+{re.escape(value)}", head), head


def test_services_and_status_answer_from_another_terminal(demo):
    out = demo.cli("services")
    assert out.returncode == 0, out.stderr
    assert "bookinfo/reviews" in out.stdout and "cluster-3" in out.stdout
    status = demo.cli("status")
    assert status.stdout.count(" yes ") == 3, status.stdout


def readme_vm_block() -> str:
    readme = (REPO_ROOT / "README.md").read_text()
    section = readme.split("\n## VM onboarding\n", 1)[1]
    return section.split("```sh\n", 1)[1].split("\n```", 1)[0]


def test_the_readme_vm_onboarding_path_works_against_the_demo_as_written(demo, tmp_path):
    block = readme_vm_block()
    assert ". .demo/hub.env" in block and "federation-agent join" in block
    (tmp_path / ".demo").symlink_to(demo.workdir)  # the README runs from the checkout
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEDERATION_")}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", block], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "WorkloadGroup bookinfo/legacy-db created" in done.stdout
    assert re.search(r"^[0-9a-f]{16}\s+bookinfo/legacy-db\s+1\s+valid", done.stdout, re.M), done.stdout
    assert re.search(r"^vm-\S+\s+bookinfo/legacy-db\s", done.stdout, re.M), done.stdout
    out = tmp_path / "legacy-db-vm"
    for name in ("cluster.env", "mesh.yaml", "root-cert.pem", "hosts", "cert-chain.pem", "key.pem"):
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    assert "ISTIO_META_MESH_ID='cluster.local'" in (out / "cluster.env").read_text()
    assert "meshId: cluster.local" in (out / "mesh.yaml").read_text()
    tokens = demo.cli("vm", "token", "list", "-o", "json")
    assert '"state": "used"' in tokens.stdout and "mfvm_" not in tokens.stdout


def test_sigterm_stops_the_demo_and_removes_ready(demo):
    # Runs last in this module: the demo is stopped here.
    assert demo.stop() == 0
    assert not (demo.workdir / "ready").exists()
