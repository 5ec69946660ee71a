"""Child processes of the peers: free loopback ports, logs under the workdir, bounded stops.

Every peer keeps its output in a log file; a failed start raises with the
log's tail, so the reason is in the test report and not lost.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Callable, Mapping, Sequence

from peers.errors import PeerError

STOP_TIMEOUT = 10.0
POLL_INTERVAL = 0.05


def free_port(host: str = "127.0.0.1") -> int:
    """A port that was free a moment ago (callers retry when it is taken before they bind)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def log_tail(path: Path, lines: int = 25) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


class Child:
    """One started program, its output appended to ``log_path``."""

    def __init__(self, what: str, args: Sequence[str], log_path: Path, *, cwd: Path | None = None,
                 env: Mapping[str, str] | None = None):
        self.what = what
        self.log_path = log_path
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(log_path, "ab") as log:
            self.proc = subprocess.Popen(list(args), stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, cwd=cwd,
                                         env=dict(env) if env is not None else None)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def failure(self, reason: str) -> PeerError:
        return PeerError(f"{self.what} {reason} (log {self.log_path}):\n{log_tail(self.log_path)}")

    def wait_until(self, ready: Callable[[], bool], timeout: float, what: str) -> float:
        """Poll ``ready`` until true (seconds taken); PeerError with the log when the process
        exits or ``timeout`` passes."""
        started = time.monotonic()
        deadline = started + timeout
        while True:
            if not self.alive():
                raise self.failure(f"exited with status {self.proc.returncode} before {what}")
            if ready():
                return time.monotonic() - started
            if time.monotonic() > deadline:
                raise self.failure(f"not {what} within {timeout:.0f}s")
            time.sleep(POLL_INTERVAL)

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """SIGTERM, then SIGKILL after ``timeout``; returns once the process is gone."""
        if self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(STOP_TIMEOUT)


def rss_bytes(pid: int) -> int:
    """Resident set size of a live process (0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie still answers signal 0; it has exited all the same.
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def start_retrying(spawn: Callable[[], Child], ready: Callable[[], bool], timeout: float, what: str,
                   attempts: int = 3) -> tuple[Child, float]:
    """Spawn (choosing fresh ports each time) until ``ready``; a retry happens only when a port
    was taken between probing and binding. Returns the child and the seconds it took."""
    for attempt in range(attempts):
        child = spawn()
        try:
            return child, child.wait_until(ready, timeout, what)
        except PeerError as exc:
            child.stop()
            if "address already in use" not in str(exc) or attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")
