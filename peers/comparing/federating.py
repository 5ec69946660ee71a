"""Mode ``hub``: ``federation serve`` in its own process (memory store), the members registered
as a user registers them (``deploy/member``'s least privilege, ``make_member_kubeconfig``).

The hub runs in a child process so its CPU and memory are its own and it does
not share an interpreter lock with the probes; its log stays in the workdir.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from federation.api.client import AdminClient
from federation.kube.member_access import make_member_kubeconfig
from peers.errors import PeerError
from peers.fleet import RealFleet, in_parallel
from peers.processes import Child

ROOT = Path(__file__).resolve().parents[2]
READY_TIMEOUT = 60.0


class HubChild:
    """``start()`` waits for the admin API; ``client``, ``pid``; ``stop()`` (SIGTERM, bounded)."""

    def __init__(self, workdir: Path, extra_args: tuple[str, ...] = (), log_level: str = "warning"):
        self.workdir = Path(workdir)
        self.extra_args = tuple(extra_args)
        self.log_level = log_level
        self._child: Child | None = None
        self.client: AdminClient | None = None
        self.address = ""

    @property
    def pid(self) -> int:
        if self._child is None or not self._child.alive():
            raise PeerError("the hub is not running")
        return self._child.pid

    def start(self, timeout: float = READY_TIMEOUT) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        ready = self.workdir / "hub.ready"
        ready.unlink(missing_ok=True)
        args = [sys.executable, "-m", "federation.cli", "--log-level", self.log_level, "serve",
                "--workdir", str(self.workdir), "--store", "memory://", "--listen", "127.0.0.1:0",
                "--probe-gateways", "0",  # the peers' gateway addresses: nothing listens there
                *self.extra_args]
        env = {k: v for k, v in os.environ.items() if not k.startswith("FEDERATION_")}
        self._child = Child("hub (federation serve)", args, self.workdir / "hub.log", cwd=ROOT, env=env)
        self._child.wait_until(lambda: ready.exists() and bool(ready.read_text().strip()), timeout,
                               "serving (hub.ready)")
        self.address = ready.read_text().strip()
        self.client = AdminClient(self.address, ca_file=self.workdir / "tls" / "ca.crt",
                                  token=(self.workdir / "admin-token").read_text().strip(), timeout=30.0)

    def register(self, fleet: RealFleet) -> None:
        """What a user does per member: ``kubectl apply -k deploy/member``, a token kubeconfig
        for the hub's reader, ``cluster add`` (the members one after the other, as a user would)."""
        def grant(name: str) -> None:
            fleet.members[name].kubectl("apply", "-k", str(ROOT / "deploy" / "member"))
        in_parallel(grant, list(fleet.members), "granting the hub its member access")
        for name, member in fleet.members.items():
            kubeconfig = make_member_kubeconfig(context=name, kubeconfig_path=member.kubeconfig,
                                                duration_seconds=24 * 3600)
            self._admin().register_cluster(name, kubeconfig)

    def wait_synced(self, clusters: int, timeout: float) -> float:
        """Seconds until the hub reports every member synced without an error."""
        started = time.monotonic()
        last: object = None
        while time.monotonic() - started < timeout:
            if self._child is None or not self._child.alive():
                raise PeerError(f"the hub exited (log {self.workdir / 'hub.log'})")
            states = [(c.name, c.synced, c.error) for c in self._admin().status().clusters]
            if len(states) == clusters and all(synced and not error for _, synced, error in states):
                return time.monotonic() - started
            last = states
            time.sleep(0.2)
        raise PeerError(f"the hub did not sync {clusters} members within {timeout:.0f}s: {last}")

    def _admin(self) -> AdminClient:
        if self.client is None:
            raise PeerError("the hub was not started")
        return self.client

    def stop(self) -> None:
        client, self.client = self.client, None
        if client is not None:
            client.close()
        child, self._child = self._child, None
        if child is not None:
            child.stop(15.0)
