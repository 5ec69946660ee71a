"""Helpers for the push tests: desired objects and refs (write counts: ``tests.support.writes``)."""

from __future__ import annotations

import base64

from federation.model.ids import MANAGED_BY, MANAGED_BY_LABEL, ref_of
from federation.push import RetryPolicy

FAST_RETRY = RetryPolicy(initial_delay=0.05, max_delay=0.3, jitter=0.05)
WAIT = 10.0  # upper bound of every wait for a pusher to reach a state

OWNED = {MANAGED_BY_LABEL: MANAGED_BY}


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
