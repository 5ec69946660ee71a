"""One real istiod (pilot-discovery) per member cluster, reading only that cluster.

It runs outside any pod, so what a pod would give it is given explicitly: the
admin kubeconfig, ``--clusterID``, a mesh config file (trust domain, meshId),
``POD_NAMESPACE``/``POD_NAME``, and ``ROOT_CA_DIR`` pointing at a directory a
``SecretProjector`` keeps equal to ``istio-system/cacerts`` (what the kubelet's
Secret volume does). The network comes from the ``topology.istio.io/network``
label of ``istio-system``, as Istio reads it. Every listener is on a free
loopback port; the injection and validation webhooks are off (no webhook
configurations to patch).
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from pathlib import Path

import yaml

from peers.binaries import find_binaries
from peers.errors import PeerError
from peers.member import MemberCluster
from peers.processes import Child, free_port, rss_bytes, start_retrying
from peers.projection import SecretProjector

START_TIMEOUT = 120.0
CACERTS_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0
_PORTS = ("grpc", "secure", "http", "monitoring")


class Istiod:
    """``start(wait_for_cacerts, timeout)``, ``restart()``, ``stop()``; addresses of its listeners."""

    def __init__(self, member: MemberCluster, workdir: Path | str, trust_domain: str = "cluster.local",
                 mesh_id: str = "mesh1", binary: Path | str | None = None,
                 extra_env: dict[str, str] | None = None, log_level: str = "default:info"):
        self.member = member
        self.workdir = Path(workdir)
        self.trust_domain, self.mesh_id = trust_domain, mesh_id
        self._binary = binary
        self._extra_env = dict(extra_env or {})
        self._log_level = log_level
        self.ca_dir = self.workdir / "cacerts"
        self.ports: dict[str, int] = {}
        self._child: Child | None = None
        self.projector: SecretProjector | None = None
        self.plugged_in = False
        self.started_in = 0.0

    # -- addresses --------------------------------------------------------------
    def _addr(self, which: str) -> str:
        if which not in self.ports:
            raise PeerError(f"istiod of {self.member.name!r} was not started")
        return f"127.0.0.1:{self.ports[which]}"

    @property
    def xds_address(self) -> str:
        """Plaintext xDS (Istio's 15010)."""
        return self._addr("grpc")

    @property
    def secure_address(self) -> str:
        """xDS and the CA over TLS (Istio's 15012)."""
        return self._addr("secure")

    @property
    def debug_url(self) -> str:
        """HTTP: /ready and the /debug endpoints (Istio's 8080)."""
        return f"http://{self._addr('http')}"

    @property
    def monitoring_url(self) -> str:
        return f"http://{self._addr('monitoring')}"

    @property
    def pid(self) -> int:
        if self._child is None or not self._child.alive():
            raise PeerError(f"istiod of {self.member.name!r} is not running")
        return self._child.pid

    @property
    def log_path(self) -> Path:
        return self.workdir / "istiod.log"

    def rss(self) -> int:
        return rss_bytes(self.pid)

    # -- files ------------------------------------------------------------------
    def _write_config(self) -> tuple[Path, Path]:
        self.workdir.mkdir(parents=True, exist_ok=True)
        mesh = self.workdir / "mesh.yaml"
        mesh.write_text(yaml.safe_dump({
            "trustDomain": self.trust_domain, "rootNamespace": "istio-system",
            "defaultConfig": {"meshId": self.mesh_id,
                              "discoveryAddress": "istiod.istio-system.svc:15012"},
        }, sort_keys=False))
        networks = self.workdir / "meshNetworks.yaml"
        networks.write_text("networks: {}\n")
        return mesh, networks

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if k in ("PATH", "HOME", "TMPDIR", "LANG", "GOMAXPROCS", "GODEBUG")}
        env.update({
            "POD_NAMESPACE": "istio-system", "POD_NAME": f"istiod-{self.member.name}",
            "CLUSTER_ID": self.member.name, "ROOT_CA_DIR": str(self.ca_dir),
            "ISTIO_MULTIROOT_MESH": "true",
            # No webhook configurations exist to patch, and no pods get injected here.
            "VALIDATION_WEBHOOK_CONFIG_NAME": "", "INJECTION_WEBHOOK_CONFIG_NAME": "", "INJECT_ENABLED": "false",
            "PILOT_ENABLE_ANALYSIS": "false",
        })
        env.update(self._extra_env)
        return env

    def _args(self, binary: str, mesh: Path, networks: Path) -> list[str]:
        return [
            binary, "discovery",
            f"--kubeconfig={self.member.kubeconfig}", f"--clusterID={self.member.name}",
            f"--meshConfig={mesh}", f"--networksConfig={networks}", "--domain=cluster.local",
            f"--grpcAddr={self.xds_address}", f"--secureGRPCAddr={self.secure_address}",
            f"--httpAddr={self._addr('http')}", "--httpsAddr=",
            f"--monitoringAddr={self._addr('monitoring')}",
            "--ctrlz_port=0", "--ctrlz_address=127.0.0.1",
            "--shutdownDuration=1s", f"--log_output_level={self._log_level}",
        ]

    # -- lifecycle --------------------------------------------------------------
    def _ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.debug_url}/ready", timeout=2.0) as resp:
                return resp.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def start(self, wait_for_cacerts: bool = True, timeout: float = START_TIMEOUT) -> None:
        """Start istiod. With ``wait_for_cacerts`` it starts only once ``istio-system/cacerts``
        exists and is projected (its CA is then that intermediate); without, it starts at once
        with whatever is there (its self-signed CA when nothing is)."""
        if self._child is not None:
            raise PeerError(f"istiod of {self.member.name!r} is already running")
        self.ca_dir.mkdir(parents=True, exist_ok=True)
        if self.projector is None:
            self.projector = SecretProjector(self.member.client, self.ca_dir,
                                             thread_name=f"peers-cacerts-{self.member.name}")
            self.projector.start()
        if not self.projector.wait_synced(min(timeout, CACERTS_TIMEOUT)):
            raise PeerError(f"istiod of {self.member.name!r}: could not read istio-system/cacerts: "
                            f"{self.projector.last_error or 'no answer'}")
        if wait_for_cacerts and not self.projector.wait_projected(min(timeout, CACERTS_TIMEOUT)):
            raise PeerError(f"istiod of {self.member.name!r}: no istio-system/cacerts Secret within "
                            f"{min(timeout, CACERTS_TIMEOUT):.0f}s ({self.projector.last_error or 'none written'})")
        self.plugged_in = (self.ca_dir / "ca-key.pem").exists()
        self._spawn(timeout, keep_ports=False)

    def _spawn(self, timeout: float, keep_ports: bool) -> None:
        binary = str(self._binary or find_binaries().pilot_discovery)
        mesh, networks = self._write_config()
        fresh_ports = not keep_ports or not self.ports

        def spawn() -> Child:
            nonlocal fresh_ports
            if fresh_ports:
                self.ports = {name: free_port() for name in _PORTS}
            fresh_ports = True  # a retry means a port was taken: choose new ones
            return Child(f"istiod of {self.member.name!r}", self._args(binary, mesh, networks),
                         self.log_path, cwd=self.workdir, env=self._env())

        self._child, self.started_in = start_retrying(spawn, self._ready, timeout, "ready (/ready)")

    def restart(self, timeout: float = START_TIMEOUT) -> None:
        """Stop and start istiod again on the same ports (the projector keeps running)."""
        child, self._child = self._child, None
        if child is not None:
            child.stop(STOP_TIMEOUT)
        self.plugged_in = (self.ca_dir / "ca-key.pem").exists()
        self._spawn(timeout, keep_ports=True)

    def stop(self) -> None:
        child, self._child = self._child, None
        if child is not None:
            child.stop(STOP_TIMEOUT)
        projector, self.projector = self.projector, None
        if projector is not None:
            projector.stop()

    def __enter__(self) -> "Istiod":
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    # -- debug endpoints ----------------------------------------------------------
    def debug(self, path: str, timeout: float = 10.0) -> bytes:
        """GET one of istiod's HTTP endpoints (e.g. ``/debug/registryz``)."""
        try:
            with urllib.request.urlopen(self.debug_url + path, timeout=timeout) as resp:
                return resp.read()
        except (urllib.error.URLError, OSError) as exc:
            raise PeerError(f"istiod of {self.member.name!r}: GET {path}: {exc}") from exc

    def debug_json(self, path: str, timeout: float = 10.0):
        try:
            return json.loads(self.debug(path, timeout))
        except ValueError as exc:
            raise PeerError(f"istiod of {self.member.name!r}: {path} is not JSON") from exc
