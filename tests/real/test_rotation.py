"""Istio's three-step root rotation on three real members, each with its own istiod.

After every step istiod's CA is asked for a workload certificate in each
cluster and the chain is verified with openssl against the roots that step
trusts: old and new during steps 1 and 2 (intermediates from the old root at
step 1, from the new one at step 2), only the new one after step 3. A step is
not taken while one member's istiod still publishes the previous roots (its
Secret projector, the kubelet's part, is stopped, and the test projects that
member's cacerts itself from then on): the Trust status names that cluster and
why, and the step is taken once that istiod catches up. Step 2 has step 1's
roots, so it is held on the intermediate that istiod signs with instead, read
from the certificate it serves on its 15012, which each member registered as
its ``--istiod-ca`` address (a passthrough, as the east-west gateway's).

The status is the Trust API's, read in process. A VM agent name (``GATE``) is added to the agents each step waits for, and the
test confirms it only once it has probed a step: that holds each step still
while it is looked at, without touching the gates under test. The soak is
short (``SOAK`` seconds instead of a workload-certificate lifetime).
"""

from __future__ import annotations

import base64
import time

import pytest
from cryptography import x509

from federation.trust.cacerts import STEP_ANNOTATION
from federation.trust.certificates import certificate_id
from federation.trust.gating import NOT_RELOADED
from peers.projection import project
from federation.api.trust_service import status_to_message
from federation.trust.client import status_from_message
from peers.errors import PeerError
from peers.ca import CAUnavailable, Workload, create_certificate, published_root, request_token, verify_chain
from tests.real.conftest import NS
from tests.support import wait_for

pytestmark = [pytest.mark.peers, pytest.mark.timeout(900)]

CLUSTERS = ("cluster-1", "cluster-2", "cluster-3")
HELD = "cluster-3"
GATE = "vm-rotation-probe"
SOAK = 2.0


def root_ids(pem: str) -> list[str]:
    """The ids of the certificates in a PEM bundle (compared as certificates, not text)."""
    return sorted(certificate_id(c) for c in x509.load_pem_x509_certificates(pem.encode()))


def issue(mesh, cluster: str):
    """A workload certificate for bookinfo/reviews from ``cluster``'s istiod, and the
    root bundle that istiod publishes."""
    member = mesh.member(cluster)
    bundle = wait_for(lambda: _published(member), 60, f"istio-ca-root-cert written by {cluster}'s istiod")
    token = request_token(member.kubectl, NS, "reviews")
    issued = create_certificate(mesh.istiod(cluster).secure_address, bundle, token, cluster,
                                Workload(NS, "reviews"))
    assert issued.uris == [f"spiffe://cluster.local/ns/{NS}/sa/reviews"]
    return issued, bundle


def _published(member) -> str:
    """istiod writes istio-ca-root-cert a moment after it starts: "" until then."""
    try:
        return published_root(member.kubectl)
    except PeerError:
        return ""


def intermediate_subject(issued) -> str:
    return x509.load_pem_x509_certificate(issued.chain[1].encode()).subject.rfc4514_string()


def status(mesh) -> dict:
    """The Trust API's status, converted to its message and back as the API does it,
    in process: a gRPC call per poll would grow the module-scoped hub's server thread
    pool inside this test."""
    return status_from_message(status_to_message(mesh.hub.trust_keeper.status()))


def status_when(mesh, predicate, what: str, timeout: float = 90.0) -> dict:
    def check():
        st = status(mesh)
        return st if predicate(st) else None
    return wait_for(check, timeout, what)


def project_cacerts(mesh, cluster: str, step: int) -> None:
    """Do the kubelet's part for ``cluster``: once its cacerts is at ``step``, put
    the Secret's files where its istiod reads them."""
    secret = cacerts_at(mesh, cluster, step)
    project(mesh.istiod(cluster).ca_dir,
            {key: base64.b64decode(value) for key, value in secret["data"].items()})


def cacerts_at(mesh, cluster: str, step: int) -> dict:
    """``cluster``'s cacerts Secret once the hub wrote the one of ``step``."""
    def at_step():
        secret = mesh.member(cluster).get("v1", "Secret", "istio-system", "cacerts")
        annotations = (secret or {}).get("metadata", {}).get("annotations", {})
        return secret if annotations.get(STEP_ANNOTATION) == str(step) else None
    return wait_for(at_step, 60, f"{cluster}'s cacerts at step {step}")


def intermediate_id(mesh, cluster: str, step: int) -> str:
    """The id of the intermediate in ``cluster``'s cacerts of ``step``, as the hub wrote it."""
    secret = cacerts_at(mesh, cluster, step)
    return certificate_id(x509.load_pem_x509_certificate(base64.b64decode(secret["data"]["ca-cert.pem"])))


def gate_of(st: dict, cluster: str) -> dict:
    (gate,) = [g for g in st["rotation"]["clusters"] if g["cluster"] == cluster]
    return gate


def wait_chain(mesh, cluster: str, root_pem: str, what: str):
    """istiod reloads cacerts on its own schedule: wait until its chains verify
    against ``root_pem`` alone."""
    def verified():
        try:
            issued, bundle = issue(mesh, cluster)
        except CAUnavailable:  # istiod swapping its serving certificate
            return None
        return (issued, bundle) if verify_chain(issued.chain, root_pem).ok else None
    return wait_for(verified, 60, what, interval=1.0)


@pytest.fixture
def gated(mesh):
    """The hub's keeper waits for ``GATE`` too, with a short soak; restored afterwards."""
    keeper, authority = mesh.hub.trust_keeper, mesh.hub.trust
    soak = authority.rotation_soak
    authority.rotation_soak = SOAK
    keeper.set_agent_source(lambda: {GATE})
    yield keeper, authority
    keeper.set_agent_source(lambda: ())
    authority.rotation_soak = soak


def test_full_rotation_on_real_istiods_gated_on_their_roots_and_signing_intermediates(mesh, gated):
    keeper, authority = gated
    # Step 0: one root, every chain verifies against it.
    old_pem = mesh.hub_root(CLUSTERS[0])
    (old_id,) = root_ids(old_pem)
    for cluster in CLUSTERS:
        issued, bundle = wait_chain(mesh, cluster, old_pem, f"a chain to the mesh root in {cluster}")
        assert root_ids(bundle) == [old_id]

    # One member's istiod will not see the next cacerts: its kubelet part is stopped.
    mesh.istiod(HELD).projector.stop()
    plan = authority.start_rotation()  # what Trust.StartRotation does
    keeper.wake()
    assert plan.step == 1
    new_id = plan.new_root
    both = sorted([old_id, new_id])

    # Step 1 is not left while cluster-3's istiod publishes the old root only.
    st = status_when(mesh, lambda s: s["rotation"]["step"] == 1 and s["rotation"]["pending_clusters"] == [HELD]
                     and all(gate_of(s, c)["confirmed"] for c in CLUSTERS if c != HELD)
                     and gate_of(s, HELD)["cacerts_written"],
                     "cluster-1 and cluster-2 confirming step 1, cluster-3 holding its cacerts but not")
    held = gate_of(st, HELD)
    assert held["cacerts_written"] and held["published_roots"] == [old_id]
    assert held["waiting_for"].startswith(NOT_RELOADED), held
    assert any(line.startswith(f"cluster {HELD}:") for line in st["rotation"]["waiting_for"])
    assert st["rotation"]["intermediate_check"], "status says how the intermediate is checked"
    for cluster in CLUSTERS[:2]:
        assert sorted(gate_of(st, cluster)["published_roots"]) == both
    assert root_ids(published_root(mesh.member(HELD).kubectl)) == [old_id]

    # Chains during step 1: intermediates still from the old root, the bundle trusts both.
    for cluster in CLUSTERS[:2]:
        issued, bundle = issue(mesh, cluster)
        assert root_ids(bundle) == both
        assert verify_chain(issued.chain, bundle).ok
        assert verify_chain(issued.chain, old_pem).ok, "step 1 still signs from the old root"
    new_pem = next(p for p in _pems(published_root(mesh.member(CLUSTERS[0]).kubectl))
                   if root_ids(p) == [new_id])
    for cluster in CLUSTERS[:2]:
        issued, _ = issue(mesh, cluster)
        assert not verify_chain(issued.chain, new_pem).ok

    # The VM confirms too; the step is still held by cluster-3 for well over the soak.
    authority.confirm_agent(GATE, 1)
    keeper.wake()
    seen, held_until = keeper.passes, time.monotonic() + 3 * SOAK + 1.0

    def held_past_the_soak():
        st = status(mesh)
        assert st["rotation"]["step"] == 1 and st["rotation"]["pending_clusters"] == [HELD], st["rotation"]
        return time.monotonic() >= held_until and keeper.passes >= seen + 4

    wait_for(held_past_the_soak, 3 * SOAK + 30, "the step held past the soak for several keeper passes",
             interval=0.25)

    # cluster-3's istiod takes the cacerts: it publishes both roots, and the step is taken.
    project_cacerts(mesh, HELD, 1)
    st = status_when(mesh, lambda s: s["rotation"]["step"] == 2, "step 2 once cluster-3 caught up")
    assert root_ids(published_root(mesh.member(HELD).kubectl)) == both

    # Step 2 keeps step 1's roots: only the certificate cluster-3's istiod serves on
    # its 15012 (reached through the gateway's passthrough) shows it has not taken
    # step 2's intermediate, and that holds the step.
    signers = {cluster: intermediate_id(mesh, cluster, 2) for cluster in CLUSTERS}

    def held_on_the_intermediate(s):
        return (s["rotation"]["step"] == 2 and s["rotation"]["pending_clusters"] == [HELD]
                and all(gate_of(s, c)["signing_intermediate"] == signers[c] for c in CLUSTERS if c != HELD)
                and "still signs with another intermediate" in gate_of(s, HELD)["waiting_for"])

    st = status_when(mesh, held_on_the_intermediate,
                     "cluster-1 and cluster-2 signing with step 2's intermediates, cluster-3 held on its old one")
    held = gate_of(st, HELD)
    assert held["cacerts_written"] and sorted(held["published_roots"]) == both, "its roots alone would pass"
    assert signers[HELD] in held["waiting_for"], held
    assert all(gate_of(st, c)["confirmed"] for c in CLUSTERS if c != HELD)

    # Step 2: intermediates from the new root; the bundle still trusts both.
    project_cacerts(mesh, HELD, 2)
    for cluster in CLUSTERS:
        issued, bundle = wait_chain(mesh, cluster, new_pem, f"{cluster}'s istiod signing from the new root")
        assert root_ids(bundle) == both
        assert verify_chain(issued.chain, bundle).ok
        assert not verify_chain(issued.chain, old_pem).ok
        assert cluster in intermediate_subject(issued), "signed by this cluster's intermediate"
    st = status_when(mesh, lambda s: s["rotation"]["step"] == 2 and not s["rotation"]["pending_clusters"],
                     "every cluster confirming step 2")
    assert gate_of(st, HELD)["signing_intermediate"] == signers[HELD]
    assert st["rotation"]["pending_agents"] == [GATE], "held by the VM while probed"

    authority.confirm_agent(GATE, 2)
    keeper.wake()

    # Step 3: only the new root, everywhere.
    project_cacerts(mesh, HELD, 3)
    st = status_when(mesh, lambda s: s["rotation"]["step"] == 3 and not s["rotation"]["pending_clusters"],
                     "every istiod publishing only the new root")
    for cluster in CLUSTERS:
        assert gate_of(st, cluster)["published_roots"] == [new_id]
        issued, bundle = issue(mesh, cluster)
        assert root_ids(bundle) == [new_id]
        assert verify_chain(issued.chain, bundle).ok
        assert verify_chain(issued.chain, new_pem).ok
        assert not verify_chain(issued.chain, old_pem).ok
    assert not st["rotation"]["complete"], "step 3 still waits for the VM"
    authority.confirm_agent(GATE, 3)
    keeper.wake()
    status_when(mesh, lambda s: s["rotation"]["complete"], "the rotation complete after the soak", 30)


def _pems(bundle: str) -> list[str]:
    end = "-----END CERTIFICATE-----"
    return [block.strip() + "\n" + end + "\n" for block in bundle.split(end) if "BEGIN" in block]
