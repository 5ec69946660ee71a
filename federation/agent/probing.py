"""Probing the VM's workload the way its WorkloadGroup says (HTTP GET or TCP connect).

Probes go to 127.0.0.1 with the probe's timeout; an HTTP status below 400
passes, as in Kubernetes.
"""

from __future__ import annotations

import http.client
import socket


def probe(spec: dict) -> bool:
    """True without a probe; else whether the workload answered."""
    port = int(spec.get("port") or 0)
    if not port:
        return True
    timeout = float(spec.get("timeout_seconds") or 1)
    path = spec.get("http_path") or ""
    try:
        if not path:
            with socket.create_connection(("127.0.0.1", port), timeout=timeout):
                return True
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        try:
            conn.request("GET", path, headers={"User-Agent": "federation-agent-probe"})
            return conn.getresponse().status < 400
        finally:
            conn.close()
    except (OSError, http.client.HTTPException):
        return False
