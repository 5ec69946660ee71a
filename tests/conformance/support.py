"""The uniform handle on an API server under test, and raw HTTP helpers on the official client.

``Api`` is what every conformance test sees: the server URL, its CA, an admin
kubeconfig, and the two things the servers do differently on purpose (how
history is expired, whether it is the simulator). Requests go through the
official ``kubernetes`` client, exactly as ``federation.kube`` sends them,
but hand back the status code and body instead of raising.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import kubernetes
import urllib3

SIM, KUBE = "sim", "kube"
JSON = "application/json"
MERGE = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
APPLY = "application/apply-patch+yaml"
ISTIO = "/apis/networking.istio.io/v1"


@dataclass
class Api:
    """One API server under test."""

    name: str  # SIM or KUBE
    server: str
    ca_pem: bytes
    kubeconfig: Path
    expire_history: Callable[[], None]  # after it, every resourceVersion seen so far is too old to watch from
    sim: Any = None  # the SimCluster, for the simulator
    _clients: list = field(default_factory=list, repr=False)

    @property
    def is_sim(self) -> bool:
        return self.name == SIM

    def client(self) -> kubernetes.client.ApiClient:
        """An official client on the admin kubeconfig; closed by ``close_clients``."""
        api_client = kubernetes.config.new_client_from_config(config_file=str(self.kubeconfig))
        api_client.configuration.retries = False
        self._clients.append(api_client)
        return api_client

    def close_clients(self) -> None:
        while self._clients:
            self._clients.pop().close()


@dataclass
class Response:
    status: int
    body: Any
    headers: dict

    @property
    def reason(self) -> str:
        return (self.body or {}).get("reason", "") if isinstance(self.body, dict) else ""

    @property
    def message(self) -> str:
        return (self.body or {}).get("message", "") if isinstance(self.body, dict) else ""

    def ok(self) -> Any:
        assert 200 <= self.status < 300, f"expected success, got {self.status}: {self.body}"
        return self.body


def _send(api_client: kubernetes.client.ApiClient, method: str, path: str, query: dict | None, body: Any,
          content_type: str, timeout: Any):
    headers = {"Accept": JSON}
    if body is not None:
        headers["Content-Type"] = content_type
    params = [(k, v) for k, v in (query or {}).items() if v is not None]
    method, url, headers, _, _ = api_client.param_serialize(method, path, query_params=params, header_params=headers,
                                                           auth_settings=["BearerToken"])
    if isinstance(body, (dict, list)) and "json" not in content_type:
        body = json.dumps(body)  # apply patches go as YAML, and JSON is YAML
    return api_client.call_api(method, url, header_params=headers, body=body, _request_timeout=timeout)


def call(api_client: kubernetes.client.ApiClient, method: str, path: str, body: Any = None,
         content_type: str = JSON, timeout: float = 15.0, **query: Any) -> Response:
    """One request; returns the status, the decoded body and the headers (never raises on a status)."""
    resp = _send(api_client, method, path, query, body, content_type, timeout)
    try:
        data = resp.response.data
    finally:
        resp.response.release_conn()
    try:
        decoded = json.loads(data) if data else None
    except ValueError:
        decoded = data.decode("utf-8", "replace")
    return Response(resp.status, decoded, {k.lower(): v for k, v in resp.response.headers.items()})


@dataclass
class WatchResult:
    status: int
    events: list[dict]
    ended: bool  # the server closed the stream itself
    elapsed: float

    def typed(self) -> list[tuple[str, str]]:
        """(type, name) of every event but bookmarks."""
        return [(e["type"], e["object"]["metadata"].get("name", "")) for e in self.events if e["type"] != "BOOKMARK"]

    def of_type(self, kind: str) -> list[dict]:
        return [e for e in self.events if e["type"] == kind]


def watch(api_client: kubernetes.client.ApiClient, path: str, *, until: Callable[[list[dict]], bool] | None = None,
          deadline: float = 20.0, **query: Any) -> WatchResult:
    """Open a watch on ``path`` and read events until ``until(events)`` holds, the server ends the
    stream, or ``deadline`` seconds pass (then the result has ``ended=False``)."""
    query = {"watch": "true", **{k: str(v).lower() if isinstance(v, bool) else v for k, v in query.items()}}
    start = time.monotonic()
    resp = _send(api_client, "GET", path, query, None, "", (10.0, deadline))
    raw = resp.response
    events: list[dict] = []
    ended = False
    try:
        if resp.status != 200:
            body = raw.data
            return WatchResult(resp.status, [{"type": "HTTP", "object": json.loads(body or b"{}")}], True,
                               time.monotonic() - start)
        buffer = b""
        try:
            for chunk in raw.stream(amt=None, decode_content=False):
                buffer += chunk
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    if line.strip():
                        events.append(json.loads(line))
                if until is not None and until(events):
                    break
                if time.monotonic() - start > deadline:
                    break
            else:
                ended = True
        except (urllib3.exceptions.ReadTimeoutError, urllib3.exceptions.ProtocolError, TimeoutError):
            pass  # the deadline passed while waiting for the next event
        return WatchResult(resp.status, events, ended, time.monotonic() - start)
    finally:
        try:
            raw.shutdown()
        except (AttributeError, OSError, ValueError, RuntimeError):
            pass
        raw.close()
        raw.release_conn()


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


# --- object builders -------------------------------------------------------------
def config_map(name: str, namespace: str, labels: dict | None = None, **data: str) -> dict:
    meta: dict = {"name": name, "namespace": namespace}
    if labels:
        meta["labels"] = labels
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": data}


def workload_entry(name: str, namespace: str, address: str = "10.0.0.1", labels: dict | None = None,
                   **spec: Any) -> dict:
    meta: dict = {"name": name, "namespace": namespace}
    if labels:
        meta["labels"] = labels
    return {"apiVersion": "networking.istio.io/v1", "kind": "WorkloadEntry", "metadata": meta,
            "spec": {"address": address, **spec}}


def cm_path(namespace: str, name: str | None = None) -> str:
    return f"/api/v1/namespaces/{namespace}/configmaps" + (f"/{name}" if name else "")


def we_path(namespace: str, name: str | None = None) -> str:
    return f"{ISTIO}/namespaces/{namespace}/workloadentries" + (f"/{name}" if name else "")


def rv_of(obj: dict) -> int:
    return int(obj["metadata"]["resourceVersion"])
