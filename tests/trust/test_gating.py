"""Judging whether a cluster runs a rotation step from what its istiod publishes
(pure), and the soak each step is held for (with a settable clock)."""

from __future__ import annotations

import pytest

from federation import errors
from federation.trust import TrustAuthority, certificates as certs
from federation.trust.gating import (
    FOREIGN, NO_CONFIGMAP, NOT_RELOADED, NOT_WRITTEN, judge, published_fingerprints,
)
from federation.trust.rotation import Step

CLUSTERS = ("east", "west")
DAY = 86400.0


@pytest.fixture(scope="module")
def roots():
    return certs.create_root(), certs.create_root(), certs.create_root()


def _configmap(*pems: str) -> dict:
    return {"data": {"root-cert.pem": "".join(pems)}}


def _judge(published, expected, written=True, hub_roots=None):
    wanted = {"metadata": {"labels": {"app.kubernetes.io/managed-by": "mesh-federation"}},
              "data": {"root-cert.pem": "x"}}
    live = wanted if written else {**wanted, "data": {"root-cert.pem": "old"}}
    expect = {r.id: r.fingerprint for r in expected}
    return judge("east", live_secret=live, wanted_secret=wanted, configmap=published,
                 expected=expect, hub_roots=hub_roots or set(expect))


def test_the_same_roots_in_another_order_and_layout_confirm_the_step(roots):
    old, new, _ = roots
    text = new.cert_pem.replace("\n", "\r\n") + "\n" + old.cert_pem  # other text, same certificates
    gate = _judge(_configmap(text), [old, new])
    assert gate.confirmed and gate.waiting_for == ""
    assert sorted(gate.published_roots) == sorted([old.id, new.id])


def test_each_way_of_not_running_the_step_is_named(roots):
    old, new, own = roots
    both = {old.id, new.id}
    assert _judge(_configmap(old.cert_pem), [old, new], written=False).waiting_for == NOT_WRITTEN
    assert _judge(None, [old, new]).waiting_for == NO_CONFIGMAP
    assert _judge({"data": {}}, [old, new]).waiting_for == NO_CONFIGMAP
    foreign = _judge(_configmap(own.cert_pem), [old, new])
    assert foreign.waiting_for == FOREIGN and foreign.published_roots == (own.id,)
    stale = _judge(_configmap(old.cert_pem), [old, new])
    assert stale.waiting_for.startswith(NOT_RELOADED) and new.id in stale.waiting_for
    # step 3 while istiod still trusts the dropped root
    kept = _judge(_configmap(old.cert_pem, new.cert_pem), [new], hub_roots=both)
    assert not kept.confirmed and old.id in kept.waiting_for and "dropped" in kept.waiting_for
    mixed = _judge(_configmap(old.cert_pem, own.cert_pem), [new], hub_roots=both)
    assert not mixed.confirmed and own.id in mixed.waiting_for


def test_a_configmap_without_certificates_publishes_nothing():
    assert published_fingerprints(_configmap("not a certificate")) == ()
    assert published_fingerprints(None) is None


def _confirm_all(authority, step):
    for cluster in CLUSTERS:
        authority.confirm(cluster, step)


def test_a_step_is_left_only_a_soak_after_the_last_confirmation(store, kek, clock):
    authority = TrustAuthority(store, kek, clock=clock, rotation_soak=DAY)
    authority.init_root()
    for cluster in CLUSTERS:
        authority.ensure_intermediate(cluster)
    authority.start_rotation()
    clock.advance(10 * DAY)  # time before the confirmations does not count
    authority.confirm("east", Step.BUNDLE)
    clock.advance(DAY / 2)
    authority.confirm("west", Step.BUNDLE)

    clock.advance(DAY / 2 + 1)  # a day after east, half a day after west
    progress = authority.advance()
    assert not progress.advanced and not progress.pending
    assert progress.soak_left == pytest.approx(DAY / 2 - 1)
    rotation = authority.status()["rotation"]
    assert rotation["soak_left_seconds"] == pytest.approx(DAY / 2 - 1)
    assert rotation["waiting_for"] == [f"soak: {DAY / 2 - 1:.0f}s left of {DAY:.0f}s"]

    clock.advance(DAY / 2)
    assert authority.advance().step == Step.INTERMEDIATES


def test_while_anyone_is_pending_the_whole_soak_is_left_and_they_are_named(store, kek, clock):
    authority = TrustAuthority(store, kek, clock=clock, rotation_soak=DAY)
    authority.init_root()
    authority.ensure_intermediate("east")
    authority.start_rotation()
    authority.confirm("east", Step.BUNDLE)
    clock.advance(2 * DAY)
    progress = authority.advance(agents={"vm-1"})
    assert progress.pending_agents == ("vm-1",) and progress.soak_left == DAY
    rotation = authority.status(agents={"vm-1"})["rotation"]
    assert rotation["waiting_for"] == ["VM agent vm-1 has not confirmed step bundle",
                                       f"soak: {DAY:.0f}s left of {DAY:.0f}s (starts once everyone confirmed)"]
    assert not rotation["complete"]


def test_step_three_is_complete_once_confirmed_everywhere_and_soaked(store, kek, clock):
    authority = TrustAuthority(store, kek, clock=clock, rotation_soak=60.0)
    authority.init_root()
    assert authority.status()["rotation"]["complete"], "no rotation: nothing waited for"
    authority.ensure_intermediate("east")
    authority.start_rotation()
    for step in (Step.BUNDLE, Step.INTERMEDIATES):
        authority.confirm("east", step)
        clock.advance(61)
        assert authority.advance().advanced
    rotation = authority.status()["rotation"]
    assert rotation["step"] == 3 and rotation["pending_clusters"] == ["east"]
    assert not rotation["complete"]
    authority.confirm("east", Step.FINALIZE)
    assert authority.status()["rotation"]["soak_left_seconds"] == pytest.approx(60.0)
    clock.advance(60)
    assert authority.status()["rotation"]["complete"]


def test_a_negative_soak_is_refused(store, kek):
    with pytest.raises(errors.ConfigError, match="soak"):
        TrustAuthority(store, kek, rotation_soak=-1)
