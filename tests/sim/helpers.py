"""Helpers for the simulated-cluster tests: raw HTTPS requests and bounded polling."""

from __future__ import annotations

import http.client
import json
import ssl
import time
from pathlib import Path

from federation.sim import SimCluster

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED_DIR = REPO_ROOT.parent / "shared"


def http_request(sim: SimCluster, method: str, path: str, body=None, headers: dict | None = None,
                 token: str | None = None, timeout: float = 10.0):
    """One HTTPS request verified against the cluster's CA; returns (status, headers, body bytes)."""
    conn = open_connection(sim, timeout)
    try:
        hdrs = {"Accept": "application/json"}
        if token != "":
            hdrs["Authorization"] = f"Bearer {token or sim.token}"
        hdrs.update(headers or {})
        data = body if isinstance(body, (bytes, str)) or body is None else json.dumps(body)
        if data is not None:
            hdrs.setdefault("Content-Type", "application/json")
        conn.request(method, path, body=data, headers=hdrs)
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def open_connection(sim: SimCluster, timeout: float = 10.0) -> http.client.HTTPSConnection:
    context = ssl.create_default_context(cadata=sim.ca.cert_pem.decode())
    return http.client.HTTPSConnection(sim.host, sim.port, context=context, timeout=timeout)


def wait_until(predicate, timeout: float = 5.0, interval: float = 0.02) -> bool:
    """Poll ``predicate`` until true or ``timeout`` (bounded in time)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()
