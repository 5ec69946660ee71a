"""One etcd server on free loopback ports, shared by the API servers of a fleet.

Each API server keeps its data under its own ``--etcd-prefix``, so one etcd
carries a whole fleet (what a 2-core machine can afford).
"""

from __future__ import annotations

import json
import shutil
import urllib.error
import urllib.request
from pathlib import Path

from peers.errors import PeerError
from peers.processes import Child, free_port, start_retrying

START_TIMEOUT = 30.0


class EtcdProcess:
    """``start()`` then ``.url``; ``stop()`` ends the process (the data stays under ``workdir``)."""

    def __init__(self, workdir: Path | str, binary: Path | str | None = None, name: str = "peers"):
        self.workdir = Path(workdir)
        self.name = name
        self._binary = str(binary) if binary else None
        self._child: Child | None = None
        self.client_port = 0
        self.peer_port = 0
        self.started_in = 0.0

    @property
    def url(self) -> str:
        if not self.client_port:
            raise PeerError("etcd was not started")
        return f"http://127.0.0.1:{self.client_port}"

    @property
    def pid(self) -> int:
        if self._child is None:
            raise PeerError("etcd is not running")
        return self._child.pid

    def __enter__(self) -> "EtcdProcess":
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def _healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/health", timeout=1.0) as resp:
                return json.loads(resp.read()).get("health") == "true"
        except (urllib.error.URLError, OSError, ValueError):
            return False

    def start(self, timeout: float = START_TIMEOUT) -> None:
        binary = self._binary or shutil.which("etcd")
        if binary is None:
            raise PeerError("etcd is not on PATH (`make etcd` installs Debian's etcd-server)")
        self.workdir.mkdir(parents=True, exist_ok=True)

        def spawn() -> Child:
            self.client_port, self.peer_port = free_port(), free_port()
            client, peer = f"http://127.0.0.1:{self.client_port}", f"http://127.0.0.1:{self.peer_port}"
            shutil.rmtree(self.workdir / "data", ignore_errors=True)  # it remembers the failed ports
            return Child("etcd", [
                binary, "--name", self.name, "--data-dir", str(self.workdir / "data"),
                "--listen-client-urls", client, "--advertise-client-urls", client,
                "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
                "--initial-cluster", f"{self.name}={peer}", "--initial-cluster-state", "new",
                "--heartbeat-interval", "50", "--election-timeout", "500",
                # API servers compact themselves; the quota keeps a long benchmark from filling the disk.
                "--quota-backend-bytes", str(4 << 30),
                "--logger", "zap", "--log-level", "warn",
            ], self.workdir / "etcd.log")

        try:
            self._child, self.started_in = start_retrying(spawn, self._healthy, timeout, "healthy")
        except PeerError:
            self.client_port = self.peer_port = 0
            raise

    def stop(self) -> None:
        child, self._child = self._child, None
        if child is not None:
            child.stop()
