"""A hub with three simulated members set up as Istio members would be: an istiod pod
(image, ISTIO_MULTIROOT_MESH, Ready), the ``istio`` mesh ConfigMap and, once the
mesh root exists, the ``istio-ca-root-cert`` an istiod on the hub's cacerts publishes."""

from __future__ import annotations

import base64

import pytest
import yaml

from tests.pipeline.conftest import env, hub  # noqa: F401  (fixtures)
from tests.support import wait_for

ISTIO_VERSION = "1.24.2"


def istiod_pod(multiroot: str | None = "true") -> dict:
    env_vars = [{"name": "PILOT_ENABLE_WORKLOAD_ENTRY_AUTOREGISTRATION", "value": "true"}]
    if multiroot is not None:
        env_vars.append({"name": "ISTIO_MULTIROOT_MESH", "value": multiroot})
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "istiod-7d9c", "namespace": "istio-system", "labels": {"app": "istiod"}},
            "spec": {"containers": [{"name": "discovery", "image": f"docker.io/istio/pilot:{ISTIO_VERSION}",
                                     "env": env_vars}]},
            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}}


def mesh_configmap(mesh_id: str = "mesh1", trust_domain: str = "cluster.local") -> dict:
    mesh = {"defaultConfig": {"meshId": mesh_id, "discoveryAddress": "istiod.istio-system.svc:15012"},
            "trustDomain": trust_domain}
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "istio", "namespace": "istio-system"},
            "data": {"mesh": yaml.safe_dump(mesh)}}


def publish_root(sim, root_pem: str) -> None:
    """What istiod does with the cacerts it loaded: publish its root."""
    sim.apply({"apiVersion": "v1", "kind": "ConfigMap",
               "metadata": {"name": "istio-ca-root-cert", "namespace": "istio-system"},
               "data": {"root-cert.pem": root_pem}})


def cacerts_root(sim) -> str | None:
    try:
        secret = sim.get("v1", "Secret", "cacerts", "istio-system")
    except Exception:  # noqa: BLE001 - not written yet
        return None
    data = (secret or {}).get("data") or {}
    return base64.b64decode(data["root-cert.pem"]).decode() if "root-cert.pem" in data else None


@pytest.fixture
def istio_hub(hub):  # noqa: F811
    """``hub`` with Istio set up in every member and the mesh root created."""
    for sim in hub.fleet:
        sim.apply(istiod_pod())
        sim.apply(mesh_configmap())
    hub.service.trust.init_root()
    roots = {sim.name: wait_for(lambda s=sim: cacerts_root(s), what=f"cacerts in {sim.name}")
             for sim in hub.fleet}
    for sim in hub.fleet:
        publish_root(sim, roots[sim.name])
    return hub
