"""Root rotation: Istio's three steps, gated on confirmations, resumable, CAS-guarded."""

from __future__ import annotations

import threading

import pytest

from federation import errors
from federation.trust import Step, TrustAuthority, certificates as certs
from federation.trust import rotation as rot
from federation.trust.cacerts import decode_secret_file
from federation.trust.rotation import RotationPlan
from .helpers import leaf_under, make_csr, store_snapshot

CLUSTERS = ("east", "west", "north")
JOIN_TIMEOUT = 10.0


def _files(authority: TrustAuthority, cluster: str) -> dict[str, str]:
    secret = authority.cacerts_secret(cluster)
    return {n: decode_secret_file(secret, n) for n in secret["data"]}


def _confirm_all(authority: TrustAuthority, step: Step) -> None:
    for c in CLUSTERS:
        authority.confirm(c, step)


def _roots_in(bundle: str) -> int:
    return bundle.count("BEGIN CERTIFICATE")


# --- pure ----------------------------------------------------------------------
def test_bundle_and_issuing_root_at_every_step():
    plan = RotationPlan(step=Step.NONE, current_root="old")
    assert plan.bundle_root_ids() == ("old",) and plan.issuing_root_id() == "old"
    plan = plan.started("new", "r1", now=1.0)
    assert plan.step == Step.BUNDLE
    assert plan.bundle_root_ids() == ("old", "new") and plan.issuing_root_id() == "old"
    plan = plan.advanced(now=2.0)
    assert plan.step == Step.INTERMEDIATES
    assert plan.bundle_root_ids() == ("old", "new") and plan.issuing_root_id() == "new"
    plan = plan.advanced(now=3.0)
    assert plan.step == Step.FINALIZE
    assert plan.bundle_root_ids() == ("new",) and plan.issuing_root_id() == "new"
    assert plan.previous_root == "old"
    assert RotationPlan.from_bytes(plan.to_bytes()) == plan
    with pytest.raises(errors.Conflict):
        plan.advanced(now=4.0)


def test_desired_cacerts_refuses_an_intermediate_from_the_wrong_root():
    plan = RotationPlan(step=Step.INTERMEDIATES, current_root="old", new_root="new",
                        rotation_id="r1")
    pems = {"old": "OLD\n", "new": "NEW\n"}
    with pytest.raises(errors.TrustError, match="does not belong to step intermediates"):
        rot.desired_cacerts(plan, pems, intermediate_cert_pem="I\n", intermediate_key_pem="K\n",
                            intermediate_issuer="old")
    wanted = rot.desired_cacerts(plan, pems, intermediate_cert_pem="I\n",
                                 intermediate_key_pem="K\n", intermediate_issuer="new")
    assert wanted.root_cert_pem == "OLD\nNEW\n"
    assert wanted.cert_chain_pem == "I\nNEW\n"
    assert wanted.secret()["metadata"]["annotations"]["federation.mesh/trust-rotation-step"] == "2"


# --- with the authority ---------------------------------------------------------
def test_full_rotation_keeps_old_and_new_leaves_valid_until_finalize(rooted, openssl, clock):
    now = clock.now
    step0 = {c: _files(rooted, c) for c in CLUSTERS}
    old_leaf = leaf_under(step0["east"]["ca-cert.pem"], step0["east"]["ca-key.pem"], now)
    old_chain = step0["east"]["cert-chain.pem"]
    old_vm = rooted.sign_workload_csr(make_csr()[0], "shop", "cart")
    old_root = rooted.rotation_plan().current_root

    plan = rooted.start_rotation()
    assert plan.step == Step.BUNDLE and plan.current_root == old_root
    step1 = {c: _files(rooted, c) for c in CLUSTERS}
    for c in CLUSTERS:
        assert _roots_in(step1[c]["root-cert.pem"]) == 2
        # step 1 changes only the bundle: the intermediate is still the old one
        assert step1[c]["ca-cert.pem"] == step0[c]["ca-cert.pem"]
    progress = rooted.advance()
    assert not progress.advanced and progress.pending_clusters == tuple(sorted(CLUSTERS))
    _confirm_all(rooted, Step.BUNDLE)
    progress = rooted.advance()
    assert progress.advanced and progress.step == Step.INTERMEDIATES
    assert progress.pending_clusters == tuple(sorted(CLUSTERS))

    step2 = {c: _files(rooted, c) for c in CLUSTERS}
    for c in CLUSTERS:
        assert _roots_in(step2[c]["root-cert.pem"]) == 2
        assert step2[c]["ca-cert.pem"] != step0[c]["ca-cert.pem"]
        new_root = certs.load_certificate(step2[c]["cert-chain.pem"].split(
            "-----END CERTIFICATE-----\n", 1)[1])
        assert certs.is_issued_by(certs.load_certificate(step2[c]["ca-cert.pem"]), new_root)
    new_leaf = leaf_under(step2["west"]["ca-cert.pem"], step2["west"]["ca-key.pem"], now)
    new_chain = step2["west"]["cert-chain.pem"]
    new_vm = rooted.sign_workload_csr(make_csr()[0], "shop", "cart")
    assert new_vm.chain_pem != old_vm.chain_pem

    leaves = [(old_leaf, old_chain), (new_leaf, new_chain),
              (old_vm.cert_pem, old_vm.chain_pem), (new_vm.cert_pem, new_vm.chain_pem)]
    for c in CLUSTERS:
        for bundle in (step1[c]["root-cert.pem"], step2[c]["root-cert.pem"]):
            for leaf, chain in leaves:
                assert openssl.verifies(bundle, leaf, untrusted=chain, at=now), c

    _confirm_all(rooted, Step.INTERMEDIATES)
    progress = rooted.advance()
    assert progress.advanced and progress.step == Step.FINALIZE and not progress.in_progress
    step3 = {c: _files(rooted, c) for c in CLUSTERS}
    for c in CLUSTERS:
        bundle = step3[c]["root-cert.pem"]
        assert _roots_in(bundle) == 1
        assert step3[c]["ca-cert.pem"] == step2[c]["ca-cert.pem"]
        assert openssl.verifies(bundle, new_leaf, untrusted=new_chain, at=now)
        assert openssl.verifies(bundle, new_vm.cert_pem, untrusted=new_vm.chain_pem, at=now)
        assert not openssl.verifies(bundle, old_leaf, untrusted=old_chain, at=now)
        assert not openssl.verifies(bundle, old_vm.cert_pem, untrusted=old_vm.chain_pem, at=now)
    status = rooted.status()
    assert [r["role"] for r in status["roots"]] == ["current"]
    assert status["roots"][0]["id"] != old_root
    assert status["rotation"]["previous_root"] == old_root
    assert rooted.advance().advanced is False
    # A finished rotation may be followed by the next one.
    assert rooted.start_rotation().step == Step.BUNDLE


def test_agents_gate_a_step_when_listed(rooted):
    for c in CLUSTERS:
        rooted.ensure_intermediate(c)
    rooted.start_rotation()
    _confirm_all(rooted, Step.BUNDLE)
    progress = rooted.advance(agents={"vm-1", "vm-2"})
    assert not progress.advanced and progress.pending_agents == ("vm-1", "vm-2")
    assert progress.pending_clusters == ()
    rooted.confirm_agent("vm-1", Step.BUNDLE)
    assert rooted.advance(agents={"vm-1", "vm-2"}).pending_agents == ("vm-2",)
    rooted.confirm_agent("vm-2", "bundle")
    assert rooted.advance(agents={"vm-1", "vm-2"}).step == Step.INTERMEDIATES


def test_explicit_member_list_overrides_the_clusters_with_intermediates(rooted):
    for c in CLUSTERS:
        rooted.ensure_intermediate(c)
    rooted.start_rotation()
    rooted.confirm("east", Step.BUNDLE)
    assert rooted.advance(clusters=["east"]).step == Step.INTERMEDIATES


def test_confirmations_of_a_future_step_or_without_rotation_are_refused(rooted, store):
    rooted.ensure_intermediate("east")
    before = store_snapshot(store)
    with pytest.raises(errors.Conflict, match="no root rotation"):
        rooted.confirm("east", Step.BUNDLE)
    assert store_snapshot(store) == before
    rooted.start_rotation()
    before = store_snapshot(store)
    with pytest.raises(errors.Conflict, match="cannot confirm step intermediates"):
        rooted.confirm("east", Step.INTERMEDIATES)
    with pytest.raises(errors.ValidationError):
        rooted.confirm("east", "sideways")
    assert store_snapshot(store) == before


def test_a_second_rotation_cannot_start_while_one_runs(rooted, store):
    rooted.start_rotation()
    before = store_snapshot(store)
    with pytest.raises(errors.Conflict, match="already at step bundle"):
        rooted.start_rotation()
    assert store_snapshot(store) == before


def test_a_killed_authority_resumes_at_the_stored_step(store, kek, clock, openssl):
    first = TrustAuthority(store, kek, clock=clock)
    first.init_root()
    old_bundle = first.trust_bundle()
    for c in CLUSTERS:
        first.ensure_intermediate(c)
    first.start_rotation()
    _confirm_all(first, Step.BUNDLE)
    del first  # the hub dies between steps

    second = TrustAuthority(store, kek, clock=clock)
    assert second.rotation_plan().step == Step.BUNDLE
    assert second.advance().step == Step.INTERMEDIATES
    files = _files(second, "east")
    _confirm_all(second, Step.INTERMEDIATES)
    del second  # and again, with confirmations recorded but the step not taken

    third = TrustAuthority(store, kek, clock=clock)
    assert third.rotation_plan().step == Step.INTERMEDIATES
    assert _files(third, "east")["ca-cert.pem"] == files["ca-cert.pem"]  # no re-issue
    progress = third.advance()
    assert progress.step == Step.FINALIZE and progress.advanced
    bundle = third.trust_bundle()
    assert _roots_in(bundle) == 1 and bundle != old_bundle
    for c in CLUSTERS:
        f = _files(third, c)
        assert f["root-cert.pem"] == bundle
        assert openssl.verifies(bundle, f["ca-cert.pem"], at=clock.now)
    # the old root's record (and sealed key) is gone from the store
    kvs, _ = store.range("trust/roots/")
    assert len(kvs) == 1


def test_two_replicas_advancing_at_once_take_exactly_one_step(store, kek, clock):
    a = TrustAuthority(store, kek, clock=clock)
    a.init_root()
    for c in CLUSTERS:
        a.ensure_intermediate(c)
    a.start_rotation()
    _confirm_all(a, Step.BUNDLE)
    b = TrustAuthority(store, kek, clock=clock)
    results = []
    barrier = threading.Barrier(2, timeout=JOIN_TIMEOUT)

    def advancing(authority):
        barrier.wait()
        results.append(authority.advance())

    threads = [threading.Thread(target=advancing, args=(x,)) for x in (a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(JOIN_TIMEOUT)
    assert len(results) == 2
    assert sum(p.advanced for p in results) == 1
    assert a.rotation_plan().step == Step.INTERMEDIATES
    # the step-2 confirmations are not there yet, so nothing further happened
    assert all(p.step == Step.INTERMEDIATES for p in results)


def test_import_a_new_root_for_rotation_and_refuse_a_bad_one(rooted, store, clock):
    before = store_snapshot(store)
    stranger = certs.create_root(now=clock.now)
    other = certs.create_root(now=clock.now)
    with pytest.raises(errors.CARejected, match="does not match"):
        rooted.start_rotation(cert_pem=stranger.cert_pem, key_pem=other.key_pem())
    assert store_snapshot(store) == before
    plan = rooted.start_rotation(cert_pem=stranger.cert_pem, key_pem=stranger.key_pem())
    assert plan.new_root == stranger.id
    assert stranger.cert_pem in rooted.trust_bundle()
