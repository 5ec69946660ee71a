"""What makes a member cluster's API server unique, and registering it only once.

An API server is identified by its ``kube-system`` Namespace's UID (the usual
cluster ID: it never changes while the cluster lives) and by its server URL
together with its CA. Two registrations of one cluster under two names would
make the hub write a cluster's own endpoints back into it, and removing either
would delete what the other one needs, so a second registration is refused
with the name the cluster already has.

The UID is claimed in the store (``cluster-ids/<uid>`` → name) in the same
transaction that creates the cluster record, so two registrations racing on
two replicas cannot both win. A claim whose cluster record is gone (removed by
a hub that did not release it) is stale and taken over.
"""

from __future__ import annotations

from dataclasses import dataclass

import yaml

from federation import errors
from federation.catalog import ClusterRecord, dump_cluster_record, load_cluster_record
from federation.kube.client import NAMESPACE, KubeClient
from federation.kube.kubeconfigs import ca_fingerprint
from federation.store.base import Compare, Put, Store
from federation.store.keys import Keys

_CLAIM_ATTEMPTS = 4


@dataclass(frozen=True)
class Identity:
    uid: str
    server: str
    ca_sha256: str


def read_identity(kube: KubeClient, kubeconfig: dict) -> Identity:
    """The identity of the API server ``kube`` talks to (one GET)."""
    try:
        namespace = kube.request("GET", NAMESPACE.path(None, "kube-system"))
    except errors.NotFound as exc:
        raise errors.ValidationError(f"cluster {kube.cluster!r} at {kube.server} has no kube-system "
                                     "namespace: not a Kubernetes API server the hub can identify") from exc
    except errors.AuthError as exc:
        raise errors.PermissionDenied(
            f"cluster {kube.cluster!r} at {kube.server}: the kubeconfig may not get namespace "
            "kube-system (its UID identifies the cluster); apply deploy/member, which grants it") from exc
    uid = (namespace.get("metadata") or {}).get("uid") or ""
    if not isinstance(uid, str) or not uid:
        raise errors.ValidationError(f"cluster {kube.cluster!r} at {kube.server}: namespace "
                                     "kube-system has no UID")
    return Identity(uid, _normal(kube.server), ca_fingerprint(kubeconfig))


def _normal(server: str) -> str:
    return server.rstrip("/").lower()


def _record_ca(record: ClusterRecord) -> str:
    """A record's CA fingerprint; computed from its kubeconfig for older records."""
    if record.ca_sha256:
        return record.ca_sha256
    try:
        return ca_fingerprint(yaml.safe_load(record.kubeconfig))
    except (errors.FederationError, yaml.YAMLError, KeyError, TypeError, AttributeError):
        return ""


def same_cluster(record: ClusterRecord, identity: Identity) -> bool:
    if record.uid and record.uid == identity.uid:
        return True
    return _normal(record.server) == identity.server and _record_ca(record) == identity.ca_sha256


def register_once(store: Store, kek: bytes, record: ClusterRecord) -> None:
    """Store ``record`` unless its name or its cluster is registered already
    (AlreadyExists naming the registration it collides with)."""
    identity = Identity(record.uid, _normal(record.server), record.ca_sha256)
    for kv in store.range(Keys.CLUSTERS)[0]:
        other = load_cluster_record(kv.value, kek)
        if other.name == record.name:
            raise errors.AlreadyExists(f"cluster {record.name!r} is already registered")
        if same_cluster(other, identity):
            raise _duplicate(record, other.name)
    cluster_key, id_key = Keys.cluster(record.name), Keys.cluster_id(record.uid)
    value = dump_cluster_record(record, kek)
    claim_revision = 0
    for _ in range(_CLAIM_ATTEMPTS):
        if store.txn([Compare(cluster_key, 0), Compare(id_key, claim_revision)],
                     [Put(cluster_key, value), Put(id_key, record.name.encode())]):
            return
        if store.get(cluster_key) is not None:
            raise errors.AlreadyExists(f"cluster {record.name!r} is already registered")
        claim = store.get(id_key)
        if claim is None:
            claim_revision = 0
            continue
        owner = claim.value.decode()
        owner_kv = store.get(Keys.cluster(owner))
        if owner_kv is not None and load_cluster_record(owner_kv.value, kek).uid == record.uid:
            raise _duplicate(record, owner)
        claim_revision = claim.mod_revision  # stale claim: take it over
    raise errors.Conflict(f"cluster {record.name!r}: registrations kept racing; try again")


def _duplicate(record: ClusterRecord, existing: str) -> errors.AlreadyExists:
    return errors.AlreadyExists(
        f"cluster {record.name!r}: this API server ({record.server}) is already registered as "
        f"{existing!r}; remove {existing!r} first to register it under another name")
