"""Whether a member cluster runs a rotation step: what its istiod publishes (pure).

A step is in use in a cluster when

(a) its ``istio-system/cacerts`` Secret holds the step's files (the hub's write
    landed), and
(b) its istiod publishes exactly the step's roots in the
    ``istio-system/istio-ca-root-cert`` ConfigMap (compared as certificates,
    not as text). istiod writes that ConfigMap from the roots its CA loaded, so
    it moves only when istiod really took the new ``cacerts``: it started with
    them mounted, and ``ISTIO_MULTIROOT_MESH=true`` lets it accept a root change.

(c) where the cluster was registered with its istiod's address, the certificate
    istiod serves there is signed by the step's intermediate (``judge_signer``;
    ``signer_probe`` reads it). Steps 1 and 2 have the same roots, so only this
    tells that istiod took step 2's intermediate. Nothing in a member's API
    server shows which intermediate istiod signs with, so a cluster registered
    without an address is judged on (a) and (b), and its gate says so.

The soak time, one workload-certificate lifetime per step, covers workloads
whose certificates still come from the previous intermediate.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Iterable, Mapping

from cryptography import x509

from federation.model.ids import MANAGED_BY, MANAGED_BY_LABEL
from federation.trust.certificates import certificate_id, fingerprint, is_issued_by

ROOTS_CONFIGMAP = "istio-ca-root-cert"
ROOTS_NAMESPACE = "istio-system"
ROOTS_KEY = "root-cert.pem"

INTERMEDIATE_CHECK = (
    "the certificate istiod serves at the cluster's registered istiod address (cluster add "
    "--istiod-ca) must be signed by the step's intermediate; clusters registered without "
    "one are not checked (their gates say so), and the soak (one workload-certificate "
    "lifetime) lets workloads replace certificates from the previous intermediate")
NO_ADDRESS = "not observed: no istiod address registered (federation cluster add --istiod-ca)"

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
    signing_intermediate: str = ""  # its id when it is the step's; else the issuer as served
    intermediate_note: str = ""  # why the signing intermediate was not observed

    def to_dict(self) -> dict:
        return {"cluster": self.cluster, "confirmed": self.confirmed,
                "waiting_for": self.waiting_for, "published_roots": list(self.published_roots),
                "cacerts_written": self.cacerts_written,
                "signing_intermediate": self.signing_intermediate,
                "intermediate_note": self.intermediate_note}


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


def judge_signer(gate: ClusterGate, *, address: str, served: bytes | None, probe_error: str,
                 expected_ca_pem: bytes | str) -> ClusterGate:
    """``gate`` (judged on cacerts and roots) further judged on the certificate
    istiod serves at ``address``: confirmed only when the step's intermediate
    (``expected_ca_pem``, the step's ``ca-cert.pem``) signed it."""
    if not address:
        return replace(gate, intermediate_note=NO_ADDRESS)
    if not gate.confirmed:
        return gate  # the roots come first: istiod reloads both from one cacerts
    expected = x509.load_pem_x509_certificate(
        expected_ca_pem.encode() if isinstance(expected_ca_pem, str) else expected_ca_pem)
    wanted = certificate_id(expected)
    if probe_error or not served:
        why = probe_error or f"istiod at {address} served no certificate"
        return _waiting(replace(gate, intermediate_note=why),
                        f"the intermediate istiod signs with is not observed ({why})")
    try:
        leaf = x509.load_der_x509_certificate(served)
    except ValueError:
        return _waiting(replace(gate, intermediate_note=f"istiod at {address} served an unreadable certificate"),
                        f"istiod at {address} served an unreadable certificate")
    if is_issued_by(leaf, expected):
        return replace(gate, signing_intermediate=wanted, intermediate_note="")
    issuer = leaf.issuer.rfc4514_string()
    return _waiting(replace(gate, signing_intermediate=issuer),
                    f"istiod at {address} still signs with another intermediate ({issuer}), not the "
                    f"step's {wanted}: it has not reloaded the new cacerts")


def _waiting(gate: ClusterGate, why: str) -> ClusterGate:
    return replace(gate, confirmed=False, waiting_for=why)
