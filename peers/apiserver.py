"""One real kube-apiserver on a free loopback port, with its own certificates and identity.

Per cluster: its own ``--etcd-prefix`` in the shared etcd, a serving CA and
certificate for 127.0.0.1/localhost, a client CA and an admin client
certificate (group ``system:masters``), a service-account issuer and signing
key with ``istio-ca`` among the API audiences (so TokenRequest and TokenReview
work as in a real cluster), and ``Node,RBAC`` authorization really enforced.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import ssl
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import yaml

from peers.binaries import find_binaries
from peers.certificates import Authority, service_account_keys, write_private
from peers.errors import PeerError
from peers.processes import Child, free_port, rss_bytes, start_retrying

START_TIMEOUT = 90.0
ISSUER = "https://kubernetes.default.svc.cluster.local"
AUDIENCES = (ISSUER, "istio-ca")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


class KubeAPIServer:
    """``start(timeout)`` waits for /readyz; ``.server``, ``.ca_pem``, ``.admin_kubeconfig``."""

    def __init__(self, name: str, workdir: Path | str, etcd_url: str, service_cidr: str = "10.96.0.0/24",
                 binary: Path | str | None = None, extra_args: tuple[str, ...] = (),
                 etcd_prefix: str | None = None):
        if not name or not all(c.isalnum() or c == "-" for c in name):
            raise PeerError(f"cluster name {name!r} must be non-empty letters, digits and '-'")
        try:
            self._service_net = ipaddress.ip_network(service_cidr)
        except ValueError as exc:
            raise PeerError(f"service_cidr {service_cidr!r} is not a network: {exc}") from exc
        self.name = name
        self.workdir = Path(workdir)
        self.etcd_url = etcd_url
        self.service_cidr = service_cidr
        # Unique per instance: a cluster name reused on a shared etcd starts empty.
        self.etcd_prefix = etcd_prefix or f"/peers/{name}-{uuid.uuid4().hex[:8]}"
        self._binary = binary
        self._extra_args = tuple(extra_args)
        self._child: Child | None = None
        self.port = 0
        self.started_in = 0.0
        self.ca_pem = b""
        self.admin_kubeconfig = self.workdir / "admin.kubeconfig"
        self._client_files: tuple[Path, Path] | None = None

    @property
    def server(self) -> str:
        if not self.port:
            raise PeerError(f"kube-apiserver {self.name!r} was not started")
        return f"https://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        if self._child is None:
            raise PeerError(f"kube-apiserver {self.name!r} is not running")
        return self._child.pid

    @property
    def log_path(self) -> Path:
        return self.workdir / "kube-apiserver.log"

    def rss(self) -> int:
        return rss_bytes(self.pid)

    def __enter__(self) -> "KubeAPIServer":
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    # -- credentials ------------------------------------------------------
    def _write_credentials(self) -> dict[str, Path]:
        pki = self.workdir / "pki"
        pki.mkdir(parents=True, exist_ok=True)
        serving_ca = Authority(f"{self.name} serving CA")
        client_ca = Authority(f"{self.name} client CA")
        first_service_ip = str(next(self._service_net.hosts()))
        serving = serving_ca.issue_server_cert(
            "kube-apiserver", ips=["127.0.0.1", first_service_ip],
            dns_names=["localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
                       "kubernetes.default.svc.cluster.local"])
        cert, key = serving.cert_pem, serving.key_pem
        admin_cert, admin_key = client_ca.issue_client_cert("admin", group="system:masters")
        files = {
            "ca": pki / "serving-ca.crt", "cert": pki / "serving.crt", "key": pki / "serving.key",
            "client_ca": pki / "client-ca.crt", "admin_cert": pki / "admin.crt", "admin_key": pki / "admin.key",
        }
        files["ca"].write_bytes(serving_ca.cert_pem)
        files["cert"].write_bytes(cert)
        write_private(files["key"], key)
        files["client_ca"].write_bytes(client_ca.cert_pem)
        files["admin_cert"].write_bytes(admin_cert)
        write_private(files["admin_key"], admin_key)
        files["sa_pub"], files["sa_key"] = service_account_keys(pki)
        self.ca_pem = serving_ca.cert_pem
        self._client_files = (files["admin_cert"], files["admin_key"])
        return files

    def kubeconfig(self, user: str, credentials: dict) -> dict:
        """A kubeconfig dict for this server: context and cluster named after it."""
        return {
            "apiVersion": "v1", "kind": "Config", "current-context": self.name,
            "clusters": [{"name": self.name, "cluster": {"server": self.server,
                                                          "certificate-authority-data": _b64(self.ca_pem)}}],
            "users": [{"name": user, "user": credentials}],
            "contexts": [{"name": self.name, "context": {"cluster": self.name, "user": user}}],
        }

    def kubeconfig_for_token(self, token: str, user: str = "token-user") -> dict:
        """A kubeconfig dict authenticating with a bearer token (e.g. a ServiceAccount's)."""
        return self.kubeconfig(user, {"token": token})

    def _write_admin_kubeconfig(self, admin_cert: bytes, admin_key: bytes) -> None:
        config = self.kubeconfig(f"{self.name}-admin", {"client-certificate-data": _b64(admin_cert),
                                                        "client-key-data": _b64(admin_key)})
        write_private(self.admin_kubeconfig, yaml.safe_dump(config, sort_keys=False).encode())

    # -- lifecycle ----------------------------------------------------------
    def _args(self, binary: str, files: dict[str, Path]) -> list[str]:
        return [
            binary,
            "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", f"--secure-port={self.port}",
            f"--etcd-servers={self.etcd_url}", f"--etcd-prefix={self.etcd_prefix}",
            f"--service-cluster-ip-range={self.service_cidr}",
            f"--tls-cert-file={files['cert']}", f"--tls-private-key-file={files['key']}",
            f"--client-ca-file={files['client_ca']}",
            f"--service-account-issuer={ISSUER}",
            f"--service-account-key-file={files['sa_pub']}",
            f"--service-account-signing-key-file={files['sa_key']}",
            f"--api-audiences={','.join(AUDIENCES)}",
            "--authorization-mode=Node,RBAC",
            # Its endpoint reconciler refuses a loopback advertise address; nothing here needs the
            # default kubernetes Service to have endpoints.
            "--endpoint-reconciler-type=none",
            "--allow-privileged=true", "--profiling=false",
            # No kube-controller-manager runs here: nothing else would ever bind a PVC etc.
            "--enable-priority-and-fairness=false",
            *self._extra_args,
        ]

    def _ready(self) -> bool:
        try:
            return self.get_raw("/readyz", timeout=2.0)[0] == 200
        except OSError:
            return False

    def start(self, timeout: float = START_TIMEOUT) -> None:
        if self._child is not None:
            raise PeerError(f"kube-apiserver {self.name!r} is already running")
        binary = str(self._binary or find_binaries().kube_apiserver)
        self.workdir.mkdir(parents=True, exist_ok=True)
        files = self._write_credentials()

        def spawn() -> Child:
            self.port = free_port()
            self._write_admin_kubeconfig(files["admin_cert"].read_bytes(), files["admin_key"].read_bytes())
            return Child(f"kube-apiserver {self.name!r}", self._args(binary, files), self.log_path)

        try:
            self._child, self.started_in = start_retrying(spawn, self._ready, timeout, "ready (/readyz)")
        except PeerError:
            self.port = 0
            raise

    def stop(self) -> None:
        child, self._child = self._child, None
        if child is not None:
            child.stop()

    # -- a minimal admin client (readiness, bootstrap checks) ------------------
    def ssl_context(self, client_cert: bool = True) -> ssl.SSLContext:
        context = ssl.create_default_context(cadata=self.ca_pem.decode())
        if client_cert and self._client_files is not None:
            context.load_cert_chain(*map(str, self._client_files))
        return context

    def get_raw(self, path: str, timeout: float = 10.0, token: str | None = None) -> tuple[int, bytes]:
        """GET ``path`` as the admin (or with a bearer ``token``): (status, body)."""
        request = urllib.request.Request(self.server + path, headers={"Accept": "application/json"})
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=timeout,
                                        context=self.ssl_context(client_cert=token is None)) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def get_json(self, path: str, token: str | None = None) -> dict:
        status, body = self.get_raw(path, token=token)
        if status != 200:
            raise PeerError(f"kube-apiserver {self.name!r}: GET {path}: {status} {body[:200]!r}")
        return json.loads(body)
