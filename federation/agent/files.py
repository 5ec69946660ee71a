"""The agent's output directory: what Istio's VM sidecar reads, and the agent's state.

Files (all written atomically: a temporary file, then a rename)::

    cluster.env        the sidecar's environment (KEY='value' lines), with
                       PROV_CERT and OUTPUT_CERTS set to this directory
                       (provisioned-certificate mode)
    mesh.yaml          proxy defaults (istiod address, metadata)
    hosts              lines to add to /etc/hosts (istiod via an east-west gateway)
    root-cert.pem      the mesh trust bundle (two roots during a rotation)
    cert-chain.pem     the workload certificate, then its issuer
    key.pem            its private key, mode 0600, never sent anywhere
    hub-ca.pem         the CA that verifies the hub's serving certificate
    agent-state.json   where the hub is and who this VM is (no token, no key)
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from federation import errors

CLUSTER_ENV = "cluster.env"
MESH_YAML = "mesh.yaml"
HOSTS = "hosts"
ROOT_CERT = "root-cert.pem"
CERT_CHAIN = "cert-chain.pem"
KEY = "key.pem"
HUB_CA = "hub-ca.pem"
STATE = "agent-state.json"


@dataclass(frozen=True)
class AgentState:
    vm_name: str
    hub_host: str
    enroll_port: int
    session_port: int
    spiffe_id: str
    namespace: str
    service_account: str
    heartbeat_interval: int
    probe: dict = field(default_factory=dict)  # http_path, port, period_seconds, timeout_seconds

    @property
    def session_address(self) -> str:
        host = f"[{self.hub_host}]" if ":" in self.hub_host else self.hub_host
        return f"{host}:{self.session_port}"


def write_file(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Atomic write; a 0600 file is never readable by others, not even briefly."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)  # O_CREAT's mode is filtered by the umask
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def format_env(values: dict[str, str]) -> str:
    """``KEY='value'`` lines, single quotes escaped the shell's way."""
    lines = []
    for key in sorted(values):
        value = str(values[key]).replace("'", "'\\''")
        lines.append(f"{key}='{value}'")
    return "\n".join(lines) + "\n"


class AgentFiles:
    def __init__(self, out: str | os.PathLike):
        self.dir = Path(out)

    def path(self, name: str) -> Path:
        return self.dir / name

    def prepare(self) -> None:
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise errors.ConfigError(f"cannot create {self.dir}: {exc.strerror}") from exc

    def enrolled(self) -> bool:
        return self.path(STATE).exists()

    # -- writing ------------------------------------------------------------------------
    def write_sidecar_config(self, cluster_env: dict[str, str], mesh_yaml: str,
                             hosts: str) -> None:
        env = dict(cluster_env)
        certs = str(self.dir.resolve())
        env["PROV_CERT"] = certs
        env["OUTPUT_CERTS"] = certs
        write_file(self.path(CLUSTER_ENV), format_env(env).encode())
        write_file(self.path(MESH_YAML), mesh_yaml.encode())
        write_file(self.path(HOSTS), hosts.encode())

    def write_credentials(self, chain_pem: bytes, key_pem: bytes) -> None:
        """The key first: a reader that sees the new chain finds its key already there."""
        write_file(self.path(KEY), key_pem, mode=0o600)
        write_file(self.path(CERT_CHAIN), chain_pem)

    def write_bundle(self, bundle_pem: bytes) -> None:
        write_file(self.path(ROOT_CERT), bundle_pem)

    def write_hub_ca(self, ca_pem: bytes) -> None:
        write_file(self.path(HUB_CA), ca_pem)

    def save_state(self, state: AgentState) -> None:
        text = json.dumps(asdict(state), indent=2, sort_keys=True) + "\n"
        write_file(self.path(STATE), text.encode(), mode=0o600)

    # -- reading --------------------------------------------------------------------------
    def read(self, name: str) -> bytes:
        try:
            return self.path(name).read_bytes()
        except OSError as exc:
            raise errors.ConfigError(f"cannot read {self.path(name)}: {exc.strerror}") from exc

    def load_state(self) -> AgentState:
        raw = self.read(STATE)
        try:
            return AgentState(**json.loads(raw))
        except (ValueError, TypeError) as exc:
            raise errors.ConfigError(f"{self.path(STATE)} is not an agent state file") from exc
