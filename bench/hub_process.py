"""The hub under test: ``federation serve --workdir`` (memory store) in its own process,
so the peak RSS and CPU seconds read from ``/proc/<pid>`` are the hub's alone."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from federation import errors

# Runs in the child before the hub: the hub then ends with the benchmark even when the
# benchmark is killed. The parent-death signal survives exec; it fires when the thread
# that started the hub ends, so a HubProcess belongs to the thread that runs the benchmark.
_EXEC_WITH_PARENT_DEATH = (
    "import ctypes, os, signal, sys\n"
    "try:\n"
    "    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG\n"
    "except (OSError, AttributeError):\n"
    "    pass\n"
    "os.execv(sys.argv[1], sys.argv[1:])\n"
)


class HubProcess:
    def __init__(self, workdir: Path, extra_args: list[str], log_level: str = "warning"):
        self.workdir = workdir
        self.log_path = workdir / "hub.log"
        workdir.mkdir(parents=True, exist_ok=True)
        args = [sys.executable, "-c", _EXEC_WITH_PARENT_DEATH, sys.executable, "-m", "federation.cli",
                "--log-level", log_level, "serve", "--workdir", str(workdir), "--store", "memory://",
                "--listen", "127.0.0.1:0",
                "--probe-gateways", "0",  # the simulated gateways' addresses: nothing listens there
                *extra_args]
        # The hub's settings come from the flags above only, not from this shell's environment.
        env = {k: v for k, v in os.environ.items() if not k.startswith("FEDERATION_")}
        self._log = open(self.log_path, "wb")
        try:
            self.proc = subprocess.Popen(args, stdout=self._log, stderr=subprocess.STDOUT, env=env,
                                         cwd=str(workdir))
        except OSError:
            self._log.close()
            raise
        self.pid = self.proc.pid
        self._peak_rss_kb = 0

    def wait_ready(self, timeout: float = 60.0) -> str:
        """The admin API address once the hub serves it."""
        ready = self.workdir / "hub.ready"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            address = ready.read_text().strip() if ready.exists() else ""
            if address:
                return address
            time.sleep(0.1)
        raise errors.FederationError(f"hub did not become ready within {timeout:g}s; see {self.log_path}")

    def check_alive(self) -> None:
        if self.proc.poll() is not None:
            raise errors.FederationError(f"hub exited with status {self.proc.returncode}")

    def client(self, address: str):
        from federation.api.client import AdminClient

        token = (self.workdir / "admin-token").read_text().strip()
        return AdminClient(address, ca_file=self.workdir / "tls" / "ca.crt", token=token, timeout=30.0)

    def usage(self) -> dict:
        """Peak (VmHWM) and current RSS in MB, threads, and CPU seconds (utime + stime) so far."""
        fields = {}
        with open(f"/proc/{self.pid}/status", encoding="ascii") as fh:
            for line in fh:
                key, _, value = line.partition(":")
                fields[key] = value.strip()
        with open(f"/proc/{self.pid}/stat", encoding="ascii") as fh:
            stat = fh.read().rpartition(")")[2].split()  # fields from the 3rd on: utime is the 14th
        self._peak_rss_kb = max(self._peak_rss_kb, int(fields.get("VmHWM", "0 kB").split()[0]))
        return {
            "pid": self.pid,
            "peak_rss_mb": self.peak_rss_mb,
            "rss_mb": round(int(fields.get("VmRSS", "0 kB").split()[0]) / 1024, 1),
            "threads": int(fields.get("Threads", "0")),
            "cpu_seconds": round((int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK"), 2),
        }

    @property
    def peak_rss_mb(self) -> float:
        """The highest peak RSS read so far (still known after the process is gone)."""
        return round(self._peak_rss_kb / 1024, 1)

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM (the hub stops cleanly), then SIGKILL after ``timeout``."""
        try:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait(5.0)
        finally:
            self._log.close()
