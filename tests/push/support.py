"""Helpers for the push tests: desired objects, refs and the sim's access log as a write counter."""

from __future__ import annotations

import base64
import logging
import re
import threading

from federation.model.ids import MANAGED_BY, MANAGED_BY_LABEL
from federation.push import RetryPolicy, ref_of

FAST_RETRY = RetryPolicy(initial_delay=0.05, max_delay=0.3, jitter=0.05)
WAIT = 10.0  # upper bound of every wait for a pusher to reach a state

WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
_REQUEST_LINE = re.compile(r'"(?P<method>[A-Z]+) (?P<path>\S+) HTTP/[\d.]+" (?P<code>\d{3})')
OWNED = {MANAGED_BY_LABEL: MANAGED_BY}


class RequestLog(logging.Handler):
    """Every request a simulated API server answered, read from its access log.

    The simulator logs one line per answered request (before the client reads
    the answer), so counting the write methods in it counts writes exactly.
    """

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self._entries_lock = threading.Lock()
        self.entries: list[tuple[str, str, str, int]] = []  # (cluster, method, path, code)

    def emit(self, record: logging.LogRecord) -> None:
        fields = getattr(record, "fields", None) or {}
        match = _REQUEST_LINE.search(str(fields.get("line", "")))
        if match:
            with self._entries_lock:
                self.entries.append((fields.get("cluster", ""), match["method"], match["path"],
                                     int(match["code"])))

    def writes(self, cluster: str, path_part: str = "") -> list[tuple[str, str, int]]:
        with self._entries_lock:
            return [(method, path, code) for name, method, path, code in self.entries
                    if name == cluster and method in WRITE_METHODS and path_part in path]


def workload_entry(name: str, address: str = "10.0.0.1", namespace: str = "default",
                   owned: bool = True) -> dict:
    return {
        "apiVersion": "networking.istio.io/v1", "kind": "WorkloadEntry",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(OWNED) if owned else {}},
        "spec": {"address": address, "network": "net-a", "labels": {"app": name}},
    }


def destination_rule(name: str, host: str, namespace: str = "default", owned: bool = True) -> dict:
    return {
        "apiVersion": "networking.istio.io/v1", "kind": "DestinationRule",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(OWNED) if owned else {}},
        "spec": {"host": host, "trafficPolicy": {"outlierDetection": {"consecutive5xxErrors": 5}}},
    }


def cacerts(owned: bool = True, marker: str = "hub") -> dict:
    def b64(text: str) -> str:
        return base64.b64encode(text.encode()).decode()

    return {
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "cacerts", "namespace": "istio-system",
                     "labels": dict(OWNED) if owned else {}},
        "type": "Opaque",
        "data": {"root-cert.pem": b64(f"root-{marker}"), "ca-cert.pem": b64(f"ca-{marker}"),
                 "ca-key.pem": b64(f"key-{marker}"), "cert-chain.pem": b64(f"chain-{marker}")},
    }


def desired(*objects: dict) -> dict:
    return {ref_of(obj): obj for obj in objects}
