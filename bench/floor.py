"""The floor for the hub's cost per write: a minimal keep-alive HTTPS client.

It applies copies of the hub's own WorkloadEntry bodies (weights toggled, so
every apply is a real change) to the same simulated API server over one
kept-alive TLS connection, with ``http.client`` and then with the bare HTTP/1.1
connection the hub's own writes use, and measures its own thread's CPU per
request; the cheaper of the two is the floor. The copies carry other names and not
the hub's label, so the hub never sees them. What the hub spends per write beyond
this is its own machinery. The bodies are read where the cluster runs (``target``);
the client runs in the benchmark's process, which serves no cluster, as the hub's.
"""

from __future__ import annotations

import http.client
import json
import math
import ssl
import tempfile
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from bench.topology import HUB_OWNED, WE
from federation import errors
from federation.kube.wire import Connection

APPLY = "application/apply-patch+yaml"
FIELD_MANAGER = "mesh-federation"


OWNER_LABEL = HUB_OWNED.split("=", 1)[0]


@dataclass(frozen=True)
class Target:
    """A simulated API server to apply to, and the bodies to apply."""

    cluster: str
    url: str
    ca_pem: bytes
    token: str
    bodies: list[dict]


def target(sim, sample: int = 50) -> Target:
    """``sim``'s address and credentials, and copies of up to ``sample`` of the hub's
    WorkloadEntries there (``bodies``): read where ``sim`` runs."""
    return Target(sim.name, sim.url, sim.ca.cert_pem, sim.token, bodies(sim, sample))


def bodies(sim, limit: int) -> list[dict]:
    """Copies of up to ``limit`` of the hub's WorkloadEntries in ``sim``: same size and
    shape as what the hub sends, under other names and without the hub's label."""
    out = []
    for obj in sim.list(*WE, label_selector=HUB_OWNED)[:limit]:
        meta = obj["metadata"]
        labels = {k: v for k, v in (meta.get("labels") or {}).items() if k != OWNER_LABEL}
        labels["bench.floor"] = "true"
        out.append({"apiVersion": obj["apiVersion"], "kind": obj["kind"],
                    "metadata": {"name": "floor-" + meta["name"][:50], "namespace": meta["namespace"],
                                 "labels": labels, **({"annotations": meta["annotations"]}
                                                      if meta.get("annotations") else {})},
                    "spec": dict(obj["spec"])})
    return out


def measure(to: Target, requests: int = 400) -> dict:
    """Client CPU per apply (ms), over ``requests`` applies of ``to``'s bodies, by
    two minimal clients one after the other: the floor is the cheaper of the two
    (``client_cpu_ms_per_write``), ``http_client_cpu_ms_per_write`` is
    ``http.client``'s, ``wire_cpu_ms_per_write`` that of the bare HTTP/1.1
    connection the hub's writes use (``federation.kube.wire``); beside them,
    ``paced_wire_cpu_ms_per_write``: that connection writing one at a time, with
    a pause before each, as a pusher does at low rates.

    Each body's weight moves by one and back, so the server commits every apply.
    The copies are created before and deleted after the timed applies.
    """
    objs = to.bodies
    if not objs:
        raise errors.FederationError(f"floor: no hub-owned WorkloadEntry in {to.cluster} to apply")
    url = urlsplit(to.url)
    with tempfile.NamedTemporaryFile("wb", suffix=".crt") as ca:
        ca.write(to.ca_pem)
        ca.flush()
        context = ssl.create_default_context(cafile=ca.name)
    headers = {"Authorization": f"Bearer {to.token}", "Content-Type": APPLY, "Accept": "application/json"}
    requests = math.ceil(requests / len(objs)) * len(objs)
    http_conn = http.client.HTTPSConnection(url.hostname, url.port, context=context, timeout=10.0)
    wire_conn = Connection(url.hostname or "", url.port or 443, context)

    def over_http_client(method: str, path: str, body: bytes | None) -> tuple[int, bytes]:
        http_conn.request(method, path, body=body, headers=headers)
        response = http_conn.getresponse()
        return response.status, response.read()

    def over_wire(method: str, path: str, body: bytes | None) -> tuple[int, bytes]:
        return wire_conn.exchange(method, path, headers, body, 10.0)

    def send(client, method: str, obj: dict) -> None:
        meta = obj["metadata"]
        path = f"/apis/networking.istio.io/v1/namespaces/{meta['namespace']}/workloadentries/{meta['name']}"
        body = None
        if method == "PATCH":
            path += f"?fieldManager={FIELD_MANAGER}&force=true"
            body = json.dumps(obj, separators=(",", ":")).encode()
        status, payload = client(method, path, body)
        if status >= 300:
            raise errors.FederationError(f"floor: {method} answered {status}: {payload[:200]!r}")
        json.loads(payload)  # the hub reads every answer too

    def changed(i: int) -> dict:
        """The ``i``-th body, its weight moved by one (up on even rounds, back on odd ones)."""
        obj = objs[i % len(objs)]
        obj["spec"]["weight"] = obj["spec"].get("weight", 1) + (1 if (i // len(objs)) % 2 == 0 else -1)
        return obj

    def timed(client, offset: int) -> tuple[float, float]:
        cpu0, wall0 = time.thread_time(), time.monotonic()
        for i in range(requests):
            send(client, "PATCH", changed(i + offset))
        return (time.thread_time() - cpu0) / requests * 1000, (time.monotonic() - wall0) / requests * 1000

    def paced(count: int) -> float:
        """The bare connection's CPU per write with a pause before each, as a pusher
        writes one change at a time: a thread woken from sleep runs slower (cold caches)."""
        cpu = 0.0
        for i in range(count):
            time.sleep(PACE_SECONDS)
            obj = changed(i)
            start = time.thread_time()
            send(over_wire, "PATCH", obj)
            cpu += time.thread_time() - start
        return cpu / count * 1000

    try:
        for obj in objs:
            send(over_http_client, "PATCH", obj)  # created, untimed
        http_cpu, http_wall = timed(over_http_client, 0)
        wire_cpu, wire_wall = timed(over_wire, requests)
        paced_cpu = paced(min(requests, PACED_REQUESTS))
        for obj in objs:
            send(over_wire, "DELETE", obj)
    finally:
        http_conn.close()
        wire_conn.close()
    cpu, wall = min((http_cpu, http_wall), (wire_cpu, wire_wall))
    return {"requests": requests, "client_cpu_ms_per_write": round(cpu, 3), "wall_ms_per_write": round(wall, 3),
            "http_client_cpu_ms_per_write": round(http_cpu, 3), "wire_cpu_ms_per_write": round(wire_cpu, 3),
            "paced_wire_cpu_ms_per_write": round(paced_cpu, 3)}


# The paced measure (reported beside the floor, never instead of it): writes one at a time.
PACE_SECONDS = 0.02
PACED_REQUESTS = 100
