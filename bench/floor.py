"""The floor for the hub's cost per write: a minimal keep-alive HTTPS client.

It applies copies of the hub's own WorkloadEntry bodies (weights toggled, so
every apply is a real change) to the same simulated API server with
``http.client`` over one kept-alive TLS connection, and measures its own
thread's CPU per request. The copies carry other names and not the hub's label,
so the hub never sees them. What the hub spends per write beyond this is its
own machinery.
"""

from __future__ import annotations

import http.client
import json
import math
import ssl
import tempfile
import time
from urllib.parse import urlsplit

from bench.topology import HUB_OWNED, WE
from federation import errors

APPLY = "application/apply-patch+yaml"
FIELD_MANAGER = "mesh-federation"


OWNER_LABEL = HUB_OWNED.split("=", 1)[0]


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


def measure(sim, requests: int = 400, sample: int = 50) -> dict:
    """Client CPU per apply (ms), over ``requests`` applies of the hub's bodies.

    Each body's weight moves by one and back, so the server commits every apply.
    The copies are created before and deleted after the timed applies.
    """
    objs = bodies(sim, sample)
    if not objs:
        raise errors.FederationError(f"floor: no hub-owned WorkloadEntry in {sim.name} to apply")
    url = urlsplit(sim.url)
    with tempfile.NamedTemporaryFile("wb", suffix=".crt") as ca:
        ca.write(sim.ca.cert_pem)
        ca.flush()
        context = ssl.create_default_context(cafile=ca.name)
    conn = http.client.HTTPSConnection(url.hostname, url.port, context=context, timeout=10.0)
    headers = {"Authorization": f"Bearer {sim.token}", "Content-Type": APPLY, "Accept": "application/json"}
    requests = math.ceil(requests / len(objs)) * len(objs)

    def send(method: str, obj: dict) -> None:
        meta = obj["metadata"]
        path = f"/apis/networking.istio.io/v1/namespaces/{meta['namespace']}/workloadentries/{meta['name']}"
        body = None
        if method == "PATCH":
            path += f"?fieldManager={FIELD_MANAGER}&force=true"
            body = json.dumps(obj, separators=(",", ":")).encode()
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        payload = response.read()
        if response.status >= 300:
            raise errors.FederationError(f"floor: {method} answered {response.status}: {payload[:200]!r}")
        json.loads(payload)  # the hub reads every answer too

    try:
        conn.connect()
        for obj in objs:
            send("PATCH", obj)  # created, untimed
        cpu0, wall0 = time.thread_time(), time.monotonic()
        for i in range(requests):
            obj = objs[i % len(objs)]
            obj["spec"]["weight"] = obj["spec"].get("weight", 1) + (1 if (i // len(objs)) % 2 == 0 else -1)
            send("PATCH", obj)
        cpu, wall = time.thread_time() - cpu0, time.monotonic() - wall0
        for obj in objs:
            send("DELETE", obj)
    finally:
        conn.close()
    return {"requests": requests, "client_cpu_ms_per_write": round(cpu / requests * 1000, 3),
            "wall_ms_per_write": round(wall / requests * 1000, 3)}
