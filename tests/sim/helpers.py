"""Helpers for the simulated-cluster tests: raw HTTPS requests, bounded polling, running kubectl."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import ssl
import subprocess
from pathlib import Path

import pytest

from kubesim import SimCluster
from tests.support import REPO_ROOT  # noqa: F401  (for the tests here)


# A WorkloadEntry manifest as kubectl users write one (namespace "default").
WORKLOAD_ENTRY_YAML = """\
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata:
  name: vm-1
  namespace: default
  labels:
    app: reviews
spec:
  address: 10.0.0.5
  network: network-1
  locality: region-1/zone-1a
  weight: 3
  labels:
    app: reviews
"""


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


def kubectl_runner(kubeconfig: Path, cache_dir: Path, timeout: float = 30.0):
    """A function running the real kubectl on ``kubeconfig``; it returns the CompletedProcess and,
    with ``check``, fails on a non-zero exit. Skips without kubectl (fails under CI)."""
    binary = shutil.which("kubectl")
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("kubectl is not on PATH", pytrace=False)
        pytest.skip("kubectl is not on PATH")
    base = [binary, "--kubeconfig", str(kubeconfig), "--cache-dir", str(cache_dir),
            "--request-timeout", f"{int(timeout // 2)}s"]

    def run(*args: str, check: bool = True, stdin: str | None = None) -> subprocess.CompletedProcess:
        result = subprocess.run(base + list(args), input=stdin, capture_output=True, text=True, timeout=timeout)
        if check and result.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({result.returncode}): {result.stderr}")
        return result

    run.base = base
    return run
