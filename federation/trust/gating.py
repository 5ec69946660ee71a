"""Whether a member cluster runs a rotation step: what its istiod publishes (pure).

A step is in use in a cluster when

(a) its ``istio-system/cacerts`` Secret holds the step's files (the hub's write
    landed), and
(b) its istiod publishes exactly the step's roots in the
    ``istio-system/istio-ca-root-cert`` ConfigMap (compared as certificates,
    not as text). istiod writes that ConfigMap from the roots its CA loaded, so
    it moves only when istiod really took the new ``cacerts``: it started with
    them mounted, and ``ISTIO_MULTIROOT_MESH=true`` lets it accept a root change.

The intermediate istiod signs with is not checked here: nothing the hub can
read through a member's API server shows it (istiod signs workload and its own
serving certificates, none of which reach the API server). ``INTERMEDIATE_CHECK``
says so in the status; the soak time, one workload-certificate lifetime per
step, is what covers workloads whose certificates come from the old one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping

from cryptography import x509

from federation.kubeapi import ResourceType
from federation.model.ids import MANAGED_BY, MANAGED_BY_LABEL
from federation.trust.certificates import fingerprint

CONFIG_MAP = ResourceType("", "v1", "configmaps", "ConfigMap")
ROOTS_CONFIGMAP = "istio-ca-root-cert"
ROOTS_NAMESPACE = "istio-system"
ROOTS_KEY = "root-cert.pem"

INTERMEDIATE_CHECK = (
    "not observed: no member API object shows which intermediate istiod signs with; "
    "istiod reloads it with the cacerts whose roots it publishes, and the soak (one "
    "workload-certificate lifetime) lets workloads replace certificates from the old one")

NOT_WRITTEN = "cacerts not written yet"
NO_CONFIGMAP = (f"istiod publishes no {ROOTS_NAMESPACE}/{ROOTS_CONFIGMAP} "
                "(is istiod running in this cluster?)")
FOREIGN = "istiod is not using the hub's cacerts (restart istiod after the first cacerts)"
NOT_RELOADED = ("istiod still publishes the previous step's roots: it has not taken the new "
                "cacerts (it needs ISTIO_MULTIROOT_MESH=true and cacerts mounted)")


@dataclass(frozen=True)
class ClusterGate:
    """One cluster's standing at a step; ``waiting_for`` is "" once it is confirmed."""

    cluster: str
    confirmed: bool = False
    waiting_for: str = ""
    published_roots: tuple[str, ...] = ()
    cacerts_written: bool = False

    def to_dict(self) -> dict:
        return {"cluster": self.cluster, "confirmed": self.confirmed,
                "waiting_for": self.waiting_for, "published_roots": list(self.published_roots),
                "cacerts_written": self.cacerts_written}


def holds_cacerts(live: Mapping | None, wanted: Mapping) -> bool:
    """The cluster's Secret is ours and carries exactly the files the step requires."""
    if not live:
        return False
    labels = (live.get("metadata") or {}).get("labels") or {}
    return labels.get(MANAGED_BY_LABEL) == MANAGED_BY and live.get("data") == wanted["data"]


def published_fingerprints(configmap: Mapping | None) -> tuple[str, ...] | None:
    """SHA-256 fingerprints of the roots in an ``istio-ca-root-cert`` ConfigMap, in
    order; None without the ConfigMap or its key, () when it holds no certificate."""
    if not configmap:
        return None
    pem = (configmap.get("data") or {}).get(ROOTS_KEY)
    if not isinstance(pem, str):
        return None
    try:
        certs = x509.load_pem_x509_certificates(pem.encode())
    except ValueError:
        return ()
    return tuple(fingerprint(c) for c in certs)


def judge(cluster: str, *, live_secret: Mapping | None, wanted_secret: Mapping,
          configmap: Mapping | None, expected: Mapping[str, str],
          hub_roots: Iterable[str]) -> ClusterGate:
    """Whether ``cluster`` runs the step whose roots are ``expected`` (root id →
    SHA-256 fingerprint); ``hub_roots`` are the ids of every root of this hub's
    plan (current, new and the one a finished rotation dropped)."""
    written = holds_cacerts(live_secret, wanted_secret)
    found = published_fingerprints(configmap)
    published = tuple(certificate_id_of(fp) for fp in (found or ()))
    gate = ClusterGate(cluster, published_roots=published, cacerts_written=written)
    if not written:
        return _waiting(gate, NOT_WRITTEN)
    if found is None:
        return _waiting(gate, NO_CONFIGMAP)
    wanted = set(expected.values())
    if set(found) == wanted:
        return ClusterGate(cluster, True, "", published, True)
    if not set(published) & set(hub_roots):
        return _waiting(gate, FOREIGN)
    missing = sorted(i for i, fp in expected.items() if fp not in found)
    extra = sorted(certificate_id_of(fp) for fp in set(found) - wanted)
    if missing and not extra:
        return _waiting(gate, f"{NOT_RELOADED}; missing root(s) {', '.join(missing)}")
    if extra and not missing:
        return _waiting(gate, f"istiod still publishes root(s) {', '.join(extra)} that the "
                              "step dropped: it has not taken the new cacerts")
    return _waiting(gate, f"istiod publishes root(s) {', '.join(published)}, not the step's "
                          f"{', '.join(sorted(expected))}")


def certificate_id_of(fp: str) -> str:
    """A root's id from its fingerprint (as ``certificates.certificate_id``)."""
    return fp[:16]


def _waiting(gate: ClusterGate, why: str) -> ClusterGate:
    return ClusterGate(gate.cluster, False, why, gate.published_roots, gate.cacerts_written)
