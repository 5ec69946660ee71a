"""Istio's own multi-primary on real peers: remote secrets as ``istioctl create-remote-secret`` makes them.

For each member A (``istioctl/pkg/multicluster/remote_secret.go`` of the pinned
module): the reader ServiceAccount ``istio-system/istio-reader-service-account``
and the reader ClusterRole and ClusterRoleBinding exactly as Istio's charts
render them (taken, as create-remote-secret takes them, from the manifest
``istioctl manifest generate`` renders), a token for that ServiceAccount, and
the Secret ``istio-system/istio-remote-secret-A``: labelled
``istio/multiCluster: "true"``, annotated ``networking.istio.io/cluster: A``,
its one key ``A`` a kubeconfig whose cluster, context and user are all named A,
authenticating with the bearer token. That Secret goes into every other member;
their istiods' secret controller (``pkg/kube/multicluster/secretcontroller.go``)
selects it by the label and reads each key as one remote cluster, the key being
its cluster ID.

One difference from istioctl: no kube-controller-manager runs beside the peers,
so nothing would fill a legacy service-account token Secret; the token is a
TokenRequest one, valid for ``TOKEN_SECONDS``.
"""

from __future__ import annotations

import base64
import json
import subprocess
import time
from pathlib import Path
from typing import Iterable

import yaml

from peers.errors import PeerError
from peers.fleet import RealFleet, in_parallel
from peers.istiod import Istiod

NAMESPACE = "istio-system"
READER = "istio-reader-service-account"
READER_ROLE_PREFIX = "istio-reader-clusterrole"
SECRET_PREFIX = "istio-remote-secret-"
MULTICLUSTER_LABEL = "istio/multiCluster"
CLUSTER_ANNOTATION = "networking.istio.io/cluster"
TOKEN_SECONDS = 24 * 3600
MANIFEST_TIMEOUT = 60.0


def secret_name(cluster: str) -> str:
    return SECRET_PREFIX + cluster


def kubeconfig(cluster: str, server: str, ca_pem: bytes | str, token: str) -> dict:
    """The kubeconfig create-remote-secret encodes (``createBearerTokenKubeconfig``): one cluster,
    context and user, each named after the cluster; the CA inline; the bearer token."""
    ca = ca_pem.encode() if isinstance(ca_pem, str) else ca_pem
    return {
        "apiVersion": "v1",
        "clusters": [{"cluster": {"certificate-authority-data": base64.b64encode(ca).decode(),
                                  "server": server}, "name": cluster}],
        "contexts": [{"context": {"cluster": cluster, "user": cluster}, "name": cluster}],
        "current-context": cluster,
        "kind": "Config",
        "users": [{"name": cluster, "user": {"token": token}}],
    }


def remote_secret(cluster: str, server: str, ca_pem: bytes | str, token: str,
                  namespace: str = NAMESPACE) -> dict:
    """The Secret create-remote-secret prints for ``cluster`` (``stringData``, as it prints it)."""
    if not cluster or not all(c.isalnum() or c == "-" for c in cluster) or cluster != cluster.lower():
        raise PeerError(f"cluster name {cluster!r} is not a DNS-1123 label (create-remote-secret refuses it)")
    return {
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": secret_name(cluster), "namespace": namespace,
                     "annotations": {CLUSTER_ANNOTATION: cluster},
                     "labels": {MULTICLUSTER_LABEL: "true"}},
        "stringData": {cluster: yaml.safe_dump(kubeconfig(cluster, server, ca_pem, token), sort_keys=False)},
    }


def reader_rbac(manifest_docs: Iterable[dict]) -> list[dict]:
    """What create-remote-secret applies from the rendered manifest (``generateServiceAccountYAML``):
    the ClusterRoles and ClusterRoleBindings named ``istio-reader-clusterrole*`` and the
    ServiceAccount ``istio-reader-service-account``; ServiceAccount first."""
    picked = []
    for doc in manifest_docs:
        if not isinstance(doc, dict):
            continue
        kind, name = doc.get("kind"), (doc.get("metadata") or {}).get("name", "")
        if kind in ("ClusterRole", "ClusterRoleBinding") and name.startswith(READER_ROLE_PREFIX):
            picked.append(doc)
        elif kind == "ServiceAccount" and name == READER:
            picked.append(doc)
    order = {"ServiceAccount": 0, "ClusterRole": 1, "ClusterRoleBinding": 2}
    return sorted(picked, key=lambda d: order[d["kind"]])


def rendered_manifest(istioctl: Path | str, namespace: str = NAMESPACE) -> list[dict]:
    """``istioctl manifest generate`` with the charts built into istioctl (no cluster needed)."""
    try:
        done = subprocess.run([str(istioctl), "manifest", "generate", "--set",
                               f"values.global.istioNamespace={namespace}"],
                              capture_output=True, text=True, timeout=MANIFEST_TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise PeerError(f"istioctl manifest generate: {exc}") from exc
    if done.returncode != 0:
        raise PeerError(f"istioctl manifest generate failed: {done.stderr.strip()[:500]}")
    return [d for d in yaml.safe_load_all(done.stdout) if isinstance(d, dict)]


def connect(fleet: RealFleet, istioctl: Path | str) -> dict[str, dict]:
    """Make every member read every other one: reader RBAC and a token in each member, its
    remote secret applied into all the others. Returns the secrets by cluster (tokens inside)."""
    rbac = reader_rbac(rendered_manifest(istioctl))
    if [d["kind"] for d in rbac] != ["ServiceAccount", "ClusterRole", "ClusterRoleBinding"]:
        raise PeerError(f"istioctl's manifest has no complete reader RBAC: {[d['kind'] for d in rbac]}")
    secrets: dict[str, dict] = {}

    def grant(name: str) -> None:
        member = fleet.members[name]
        for doc in rbac:
            member.apply(doc)
        token = member.token(NAMESPACE, READER, seconds=TOKEN_SECONDS)
        secrets[name] = remote_secret(name, member.apiserver.server, member.apiserver.ca_pem, token)

    in_parallel(grant, list(fleet.members), "granting istiod's remote reader")

    def install(target: str) -> None:
        for source, secret in secrets.items():
            if source != target:
                fleet.members[target].apply(secret)

    in_parallel(install, list(fleet.members), "applying remote secrets")
    return secrets


def remote_clusters(istiod: Istiod) -> dict[str, str]:
    """``/debug/clusterz``: every cluster the istiod reads and its sync status."""
    listing = istiod.debug_json("/debug/clusterz")
    return {str(item.get("id")): str(item.get("syncStatus")) for item in listing or []}


def wait_synced(istiods: dict[str, Istiod], timeout: float) -> float:
    """Seconds until every istiod reports every member synced (its own and each remote)."""
    started = time.monotonic()
    deadline = started + timeout
    wanted = set(istiods)
    last: dict[str, dict[str, str]] = {}
    while True:
        for name, istiod in istiods.items():
            try:
                last[name] = remote_clusters(istiod)
            except PeerError as exc:
                last[name] = {"error": str(exc)}
        if all(set(seen) == wanted and set(seen.values()) == {"synced"} for seen in last.values()):
            return time.monotonic() - started
        if time.monotonic() > deadline:
            raise PeerError(f"istiods not reading every cluster within {timeout:.0f}s: {json.dumps(last)[:600]}")
        time.sleep(0.2)
