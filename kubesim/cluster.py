"""``SimCluster``: one simulated member cluster (object store + HTTPS API + kubeconfig)."""

from __future__ import annotations

import base64
import logging
import os
import secrets
from pathlib import Path
from typing import Any

import yaml

from federation.errors import ClusterError
from kubesim.certs import SimCA
from kubesim.resources import Catalog
from kubesim.schemas import SchemaSet
from kubesim.serving import ApiServer, Faults, Listener, RequestRecord
from kubesim.store import ObjectStore

log = logging.getLogger(__name__)


class SimCluster:
    """A Kubernetes-compatible API server for tests, the demo and benchmarks.

    ``store`` is the object store itself (in-process reads and writes that
    bypass HTTP). ``namespace_controller`` acts as kube-controller-manager's
    namespace controller (a deleted namespace's content goes at once); without
    it a deleted namespace stays Terminating until finalized, as on an API
    server running alone. The fault helpers act on the HTTP side: latency, failing
    requests, cut watch streams, and going offline and back on the same
    address and port.
    """

    def __init__(self, name: str, host: str = "127.0.0.1", port: int = 0, schemas: SchemaSet | None = None,
                 ca: SimCA | None = None, token: str | None = None, *, history: int = 1000,
                 bookmark_interval: float = 60.0, watch_timeout: float = 1800.0,
                 default_namespaces: bool = True, catalog: Catalog | None = None, namespace_controller: bool = True):
        self.name = name
        self.host = host
        self.port = port
        self.ca = ca or SimCA()
        self.token = token or secrets.token_urlsafe(32)
        self.store = ObjectStore(catalog, schemas, history=history, default_namespaces=default_namespaces,
                                 namespace_controller=namespace_controller)
        self.api = ApiServer(name, self.store, self.token, bookmark_interval=bookmark_interval,
                             watch_timeout=watch_timeout)
        self._cert = self.ca.issue_server_cert(name, [host], ["localhost"] if host.startswith("127.") else [])
        self._ssl_context = self._cert.ssl_context()
        self._listener: Listener | None = None

    # --- lifecycle ------------------------------------------------------------------
    def start(self) -> "SimCluster":
        """Listen and serve (in background threads); returns self."""
        if self._listener is not None:
            return self
        try:
            listener = Listener(self.host, self.port, self.api, self._ssl_context)
        except OSError as exc:
            raise ClusterError(f"simulated cluster {self.name} cannot listen on {self.host}:{self.port}: "
                               f"{exc}") from exc
        self.port = listener.server_address[1]
        self.api.address = f"{self.host}:{self.port}"
        listener.start()
        self._listener = listener
        log.debug("sim cluster listening", extra={"fields": {"cluster": self.name, "url": self.url}})
        return self

    def stop(self, timeout: float = 5.0) -> bool:
        """Stop listening, close connections and join threads (bounded by ``timeout``)."""
        listener, self._listener = self._listener, None
        if listener is None:
            return True
        return listener.stop(timeout)

    def go_offline(self, timeout: float = 5.0) -> None:
        """Become unreachable: stop listening and drop every connection; the objects stay."""
        self.stop(timeout)

    def go_online(self) -> None:
        """Listen again on the same address and port."""
        self.start()

    @property
    def running(self) -> bool:
        return self._listener is not None

    def __enter__(self) -> "SimCluster":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"https://{self.host}:{self.port}"

    # --- fault injection --------------------------------------------------------------
    @property
    def faults(self) -> Faults:
        return self.api.faults

    def fail_next(self, count: int, status: int = 500) -> None:
        """Fail the next ``count`` resource requests (not discovery) with ``status``."""
        self.api.faults.fail_next(count, status)

    def set_failure_rate(self, rate: float, status: int = 500) -> None:
        self.api.faults.set_failure_rate(rate, status)

    def set_latency(self, seconds: float) -> None:
        self.api.faults.set_latency(seconds)

    def clear_faults(self) -> None:
        self.api.faults.clear()

    def cut_watches(self, graceful: bool = False) -> int:
        """End every open watch stream (connection reset unless ``graceful``); returns how many."""
        return self.api.cut_watches(graceful)

    def active_watches(self) -> int:
        return self.api.active_watches()

    def requests(self) -> list[RequestRecord]:
        """Every request answered so far (method, path with query, status code), oldest first."""
        return self.api.requests()

    def clear_requests(self) -> None:
        self.api.clear_requests()

    def compact(self, keep: int = 0) -> None:
        """Expire watch history so older resourceVersions get 410."""
        self.store.compact(keep)

    def set_token(self, token: str) -> None:
        """Accept a different bearer token from now on (credential rotation)."""
        self.token = token
        self.api.set_token(token)

    # --- store shortcuts ----------------------------------------------------------------
    def create(self, obj: dict, **kwargs: Any) -> dict:
        return self.store.create(obj, **kwargs)

    def apply(self, obj: dict, **kwargs: Any) -> dict:
        return self.store.apply(obj, **kwargs)

    def get(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> dict:
        return self.store.get(api_version, kind, name, namespace)

    def list(self, api_version: str, kind: str, namespace: str | None = None, **kwargs: Any) -> list[dict]:
        return self.store.list(api_version, kind, namespace, **kwargs)

    def delete(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> dict:
        return self.store.delete(api_version, kind, name, namespace)

    # --- kubeconfig -------------------------------------------------------------------
    def kubeconfig_dict(self, token: str | None = None) -> dict:
        """A kubeconfig with the CA bundle inline and this cluster's bearer token."""
        return {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": self.name, "cluster": {
                "server": self.url,
                "certificate-authority-data": base64.b64encode(self.ca.cert_pem).decode(),
            }}],
            "users": [{"name": f"{self.name}-admin", "user": {"token": token or self.token}}],
            "contexts": [{"name": self.name, "context": {"cluster": self.name, "user": f"{self.name}-admin",
                                                         "namespace": "default"}}],
            "current-context": self.name,
            "preferences": {},
        }

    def write_kubeconfig(self, path: str | os.PathLike) -> Path:
        """Write the kubeconfig (mode 0600: it holds a credential); returns the path."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            yaml.safe_dump(self.kubeconfig_dict(), fh, sort_keys=False)
        os.replace(tmp, target)
        return target
