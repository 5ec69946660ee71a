"""MeshPolicies as a real istiod hands them to sidecars, on three real members (own fleet).

Mesh-wide mTLS STRICT in one apply: the hub writes the PeerAuthentication into every
member, and each member's istiod stops offering plaintext on its sidecars' inbound
listener (every chain of ``virtualInbound`` but its own-port blackhole then matches
``tls`` only). An AuthorizationPolicy for cluster-3 (B), selected by a registration
label: B's sidecars get RBAC filters (network and HTTP) that admit only cluster-1 (A)'s
``sleep`` service account, named by the SPIFFE principal istiod renders. Deleting each
MeshPolicy prunes its objects from exactly the clusters that had them.
"""

from __future__ import annotations

from typing import Any, Iterator

import pytest
import yaml

from peers.xds import XdsError
from tests.real.conftest import NS
from tests.support import wait_for

pytestmark = [pytest.mark.peers, pytest.mark.timeout(900)]

CLUSTERS = ("cluster-1", "cluster-2", "cluster-3")
SECURITY = "security.istio.io/v1"
INBOUND = "virtualInbound"
INBOUND_PORT = 15006
SLEEP = f"spiffe://cluster.local/ns/{NS}/sa/sleep"  # A's sleep, as istiod names it (trust domain cluster.local)


def mesh_policy(name: str, objects: list[dict], selector: dict | None = None) -> str:
    spec: dict[str, Any] = {"objects": objects}
    if selector is not None:
        spec["clusterSelector"] = selector
    return yaml.safe_dump({"apiVersion": "federation.mesh/v1alpha1", "kind": "MeshPolicy",
                           "metadata": {"name": name, "namespace": "istio-system"}, "spec": spec})


STRICT = mesh_policy("mesh-mtls", [{
    "apiVersion": SECURITY, "kind": "PeerAuthentication",
    "metadata": {"name": "default", "namespace": "istio-system"}, "spec": {"mtls": {"mode": "STRICT"}}}])
ONLY_SLEEP = mesh_policy("b-only-from-a-sleep", [{
    "apiVersion": SECURITY, "kind": "AuthorizationPolicy",
    "metadata": {"name": "only-a-sleep", "namespace": NS},
    "spec": {"action": "ALLOW",
             "rules": [{"from": [{"source": {"principals": [f"cluster.local/ns/{NS}/sa/sleep"]}}]}]}}],
    selector={"matchLabels": {"mesh-role": "b"}})


def names(mesh, cluster: str, kind: str) -> list[str]:
    return sorted(f"{o['metadata']['namespace']}/{o['metadata']['name']}"
                  for o in mesh.owned(cluster, SECURITY, kind) if o["metadata"].get("annotations", {}).get(
                      "federation.mesh/mesh-policy"))


def inbound_chains(probe) -> list | None:
    """The sidecar's inbound chains (but the blackhole of the listener's own port); None: not asked yet."""
    try:
        listener = probe.listeners().get(INBOUND)
    except XdsError:
        return None
    if listener is None:
        return None
    return [c for c in listener.filter_chains if c.destination_port != INBOUND_PORT]


def transports(probe) -> set[str] | None:
    chains = inbound_chains(probe)
    return None if chains is None else {c.transport_protocol for c in chains}


def _walk(value: Any) -> Iterator[str]:
    """Every ``authenticated.principalName.exact`` in an RBAC config."""
    if isinstance(value, dict):
        exact = ((value.get("authenticated") or {}).get("principalName") or {}).get("exact")
        if exact:
            yield exact
        for item in value.values():
            yield from _walk(item)
    elif isinstance(value, list):
        for item in value:
            yield from _walk(item)


def rbac_principals(probe) -> dict[str, set[str]] | None:
    """Per RBAC filter found on the inbound chains (network and HTTP), the principals it admits."""
    chains = inbound_chains(probe)
    if chains is None:
        return None
    found: dict[str, set[str]] = {}
    for chain in chains:
        configs = [(n, c) for n, c in chain.configs.items()] + list(chain.http_filters)
        for name, config in configs:
            if name in ("envoy.filters.network.rbac", "envoy.filters.http.rbac"):
                found.setdefault(name, set()).update(_walk(config))
    return found


def test_mesh_wide_strict_mtls_in_one_apply_and_pruned_from_every_member(mesh):
    probes = {cluster: mesh.sidecar(cluster) for cluster in CLUSTERS}
    for cluster, probe in probes.items():  # istiod's default: PERMISSIVE, plaintext accepted too
        wait_for(lambda: transports(probe) == {"tls", "raw_buffer"}, 60, f"{cluster}'s inbound permissive")

    assert mesh.hub.control.apply_resources(STRICT) == ["MeshPolicy istio-system/mesh-mtls created"]
    for cluster, probe in probes.items():
        wait_for(lambda: names(mesh, cluster, "PeerAuthentication") == ["istio-system/default"], 60,
                 f"the PeerAuthentication in {cluster}")
        wait_for(lambda: transports(probe) == {"tls"}, 60, f"{cluster}'s inbound listener accepting mTLS only")

    assert mesh.hub.control.delete_resources(STRICT) == ["MeshPolicy istio-system/mesh-mtls deleted"]
    for cluster, probe in probes.items():
        wait_for(lambda: names(mesh, cluster, "PeerAuthentication") == [], 60, f"pruned from {cluster}")
        wait_for(lambda: transports(probe) == {"tls", "raw_buffer"}, 60, f"{cluster}'s inbound permissive again")


def test_an_authorization_policy_in_b_admits_only_as_sleep_and_is_pruned_from_b_alone(mesh):
    b, a = mesh.sidecar("cluster-3"), mesh.sidecar("cluster-1")
    assert mesh.hub.control.apply_resources(ONLY_SLEEP) == ["MeshPolicy istio-system/b-only-from-a-sleep created"]
    # selected by a label given after the policy: the hub re-selects on the label change
    mesh.hub.control.label_cluster("cluster-3", {"mesh-role": "b"})
    try:
        wait_for(lambda: names(mesh, "cluster-3", "AuthorizationPolicy") == [f"{NS}/only-a-sleep"], 60,
                 "the AuthorizationPolicy in cluster-3 once it is labelled")
        assert names(mesh, "cluster-1", "AuthorizationPolicy") == names(mesh, "cluster-2", "AuthorizationPolicy") == []

        principals = wait_for(lambda: (p := rbac_principals(b)) and len(p) == 2 and p, 60,
                              "network and HTTP RBAC filters on cluster-3's sidecar")
        assert principals == {"envoy.filters.network.rbac": {SLEEP}, "envoy.filters.http.rbac": {SLEEP}}
        assert rbac_principals(a) == {}  # A's sidecars are not restricted

        assert mesh.hub.control.delete_resources(ONLY_SLEEP) == [
            "MeshPolicy istio-system/b-only-from-a-sleep deleted"]
        wait_for(lambda: names(mesh, "cluster-3", "AuthorizationPolicy") == [], 60, "pruned from cluster-3")
        wait_for(lambda: rbac_principals(b) == {}, 60, "no RBAC filter on cluster-3's sidecar")
    finally:
        mesh.hub.control.label_cluster("cluster-3", {}, remove=("mesh-role",))
