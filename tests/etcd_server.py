"""A real single-member etcd on free loopback ports, for tests.

``EtcdServer`` is a context manager; ``etcd_server`` is a session-scoped pytest
fixture that a conftest can re-export (``from tests.etcd_server import etcd_server``).
Without an ``etcd`` binary the tests skip, or fail when ``CI`` is set.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

START_TIMEOUT = 20.0
STOP_TIMEOUT = 5.0


def etcd_binary() -> str:
    """The etcd executable; skips the test (fails it under CI) when there is none."""
    path = shutil.which("etcd")
    if path is None:
        reason = "the etcd binary is not on PATH (install Debian's etcd-server: make etcd)"
        if os.environ.get("CI"):
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    return path


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class EtcdServer:
    """One etcd process with its own data dir under a temp directory.

    Heartbeat 50 ms / election 500 ms make etcd's minimum lease TTL 1 s (it is
    2 s with the defaults), so lease tests stay short.
    """

    def __init__(self, name: str = "test"):
        self.name = name
        self._dir: Path | None = None
        self._proc: subprocess.Popen | None = None
        self.client_port = 0
        self.peer_port = 0

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.client_port}"

    @property
    def url(self) -> str:
        return f"http://{self.endpoint}"

    def __enter__(self) -> "EtcdServer":
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    @property
    def _log_path(self) -> Path:
        assert self._dir is not None, "the server was never started"
        return self._dir / "etcd.log"

    def start(self) -> None:
        binary = etcd_binary()
        if self._dir is None:
            self._dir = Path(tempfile.mkdtemp(prefix="etcd-test-"))
        last_error = ""
        for _attempt in range(3):  # a free port may be taken between probe and bind
            if not self.client_port:
                self.client_port, self.peer_port = _free_port(), _free_port()
            self._spawn(binary)
            try:
                self._wait_healthy()
                return
            except RuntimeError as exc:
                last_error = str(exc)
                self._terminate()
                # The data dir remembers the failed ports; start afresh.
                shutil.rmtree(self._dir / "data", ignore_errors=True)
                self.client_port = self.peer_port = 0
        self._remove_dir()
        raise RuntimeError(f"etcd did not start: {last_error}")

    def _spawn(self, binary: str) -> None:
        peer = f"http://127.0.0.1:{self.peer_port}"
        client = f"http://127.0.0.1:{self.client_port}"
        cmd = [
            binary, "--name", self.name, "--data-dir", str(self._dir / "data"),
            "--listen-client-urls", client, "--advertise-client-urls", client,
            "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
            "--initial-cluster", f"{self.name}={peer}", "--initial-cluster-state", "new",
            "--heartbeat-interval", "50", "--election-timeout", "500",
            "--auto-compaction-retention", "0",
            "--logger", "zap", "--log-level", "warn",
        ]
        log = open(self._log_path, "ab")
        try:
            self._proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                          stdin=subprocess.DEVNULL)
        finally:
            log.close()

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self._proc is None or self._proc.poll() is not None:
                raise RuntimeError(f"etcd exited early:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=1.0) as resp:
                    if json.loads(resp.read()).get("health") == "true":
                        return
            except (urllib.error.URLError, OSError, ValueError):
                pass
            time.sleep(0.05)
        raise RuntimeError(f"etcd not healthy within {START_TIMEOUT}s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 20) -> str:
        if self._dir is None:
            return ""
        try:
            return "\n".join(self._log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def _terminate(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(STOP_TIMEOUT)

    def restart(self) -> None:
        """Stop and start again on the same ports with the same data."""
        self._terminate()
        self._spawn(etcd_binary())
        self._wait_healthy()

    def kill(self) -> None:
        """Stop the process abruptly, keeping the data (``restart`` brings it back)."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait(STOP_TIMEOUT)

    def stop(self) -> None:
        self._terminate()
        self._remove_dir()

    def _remove_dir(self) -> None:
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None


@pytest.fixture(scope="session")
def etcd_server():
    """A real etcd shared by the session; give each test its own key prefix."""
    with EtcdServer() as server:
        yield server
