"""Rotation steps gated on what each member's istiod publishes, and on the soak.

The simulated members have no istiod: ``roots`` (see ``RootPublisher``) publishes
each one's roots as istiod does; holding it for a cluster is an istiod that has
not taken the new cacerts. The Trust status says per step what it waits for.
"""

from __future__ import annotations

import time

from federation.trust import certificates as certs
from federation.trust.gating import FOREIGN, INTERMEDIATE_CHECK, NO_ADDRESS, NO_CONFIGMAP, NOT_RELOADED
from tests.support import wait_for

CLUSTERS = ("cluster-1", "cluster-2", "cluster-3")


def _status_when(hub, predicate, what, timeout=15.0):
    def check():
        status = hub.client.trust_status()
        return status if predicate(status) else None
    return wait_for(check, timeout, what)


def _gate(status, cluster):
    (gate,) = [g for g in status["rotation"]["clusters"] if g["cluster"] == cluster]
    return gate


def test_a_step_is_held_while_one_istiod_publishes_the_old_roots_and_says_so(hub, readers, roots):
    old = hub.client.init_root()
    readers.wait_cacerts(CLUSTERS, step=0)
    wait_for(lambda: readers["cluster-2"].published_roots(), what="cluster-2's roots published")
    roots.hold("cluster-2")
    rotation = hub.client.start_rotation()
    both = sorted([old["id"], rotation["new_root"]])

    status = _status_when(hub, lambda s: s["rotation"]["pending_clusters"] == ["cluster-2"]
                          and _gate(s, "cluster-2")["cacerts_written"],
                          "cluster-1 and cluster-3 confirming step 1, cluster-2 not")
    gate = _gate(status, "cluster-2")
    assert not gate["confirmed"] and gate["published_roots"] == [old["id"]]
    assert gate["waiting_for"].startswith(NOT_RELOADED)
    assert status["rotation"]["waiting_for"] == [f"cluster cluster-2: {gate['waiting_for']}"]
    for name in ("cluster-1", "cluster-3"):
        assert _gate(status, name)["confirmed"]
        assert sorted(_gate(status, name)["published_roots"]) == both
    assert status["rotation"]["intermediate_check"] == INTERMEDIATE_CHECK
    # registered without --istiod-ca: the roots decide, and each gate says the signer was not observed
    assert {_gate(status, n)["intermediate_note"] for n in ("cluster-1", "cluster-2", "cluster-3")} == {NO_ADDRESS}
    # Many keeper passes later (one per 0.25 s while a cluster is awaited) it is still held.
    keeper, seen = hub.service.trust_keeper, hub.service.trust_keeper.passes

    def held_for_passes():
        assert hub.client.trust_status()["rotation"]["step"] == 1
        return keeper.passes >= seen + 6

    wait_for(held_for_passes, what="six more keeper passes")

    roots.release("cluster-2")
    status = _status_when(hub, lambda s: s["rotation"]["step"] == 3 and s["rotation"]["complete"],
                          "the rotation through to a complete step 3")
    assert status["rotation"]["waiting_for"] == []
    for name in CLUSTERS:
        assert _gate(status, name)["published_roots"] == [rotation["new_root"]]


def test_a_member_whose_istiod_does_not_publish_the_hubs_roots_is_named(hub, readers, roots):
    roots.hold("cluster-2")  # no istiod at all: no istio-ca-root-cert
    roots.hold("cluster-3")
    hub.client.init_root()
    readers.wait_cacerts(CLUSTERS, step=0)
    own = certs.create_root()  # what an istiod that started without cacerts publishes
    readers["cluster-3"].publish_roots(own.cert_pem)

    # Shown before any rotation, which would stall on them.
    hub.service.trust_keeper.look_interval = 0.2
    status = _status_when(hub, lambda s: _gate(s, "cluster-1")["confirmed"]
                          and _gate(s, "cluster-3")["published_roots"]
                          and _gate(s, "cluster-2")["cacerts_written"], "step 0 observed")
    assert _gate(status, "cluster-2")["waiting_for"] == NO_CONFIGMAP
    assert _gate(status, "cluster-3")["waiting_for"] == FOREIGN
    assert status["rotation"]["complete"] and status["rotation"]["waiting_for"] == []

    hub.client.start_rotation()

    status = _status_when(hub, lambda s: sorted(s["rotation"]["pending_clusters"]) == ["cluster-2", "cluster-3"]
                          and _gate(s, "cluster-3")["published_roots"]
                          and _gate(s, "cluster-2")["cacerts_written"],
                          "cluster-2 and cluster-3 reported")
    assert _gate(status, "cluster-2")["waiting_for"] == NO_CONFIGMAP
    assert _gate(status, "cluster-3")["waiting_for"] == FOREIGN
    assert _gate(status, "cluster-3")["published_roots"] == [own.id]
    assert f"cluster cluster-3: {FOREIGN}" in status["rotation"]["waiting_for"]
    assert status["rotation"]["step"] == 1 and not status["rotation"]["complete"]


def test_every_step_is_held_for_the_soak_after_everyone_confirmed(hubs, fleet, readers):
    soak = 1.5
    hub = hubs(rotation_soak=soak)
    hub.register(fleet, *CLUSTERS)
    hub.client.init_root()
    readers.wait_cacerts(CLUSTERS, step=0)
    started = time.monotonic()
    hub.client.start_rotation()

    status = _status_when(hub, lambda s: s["rotation"]["step"] == 1 and not s["rotation"]["pending_clusters"],
                          "every cluster confirming step 1")
    rot = status["rotation"]
    assert rot["soak_seconds"] == soak and 0 < rot["soak_left_seconds"] <= soak
    assert rot["waiting_for"] and rot["waiting_for"][0].startswith("soak: ")
    assert not rot["complete"]

    status = _status_when(hub, lambda s: s["rotation"]["complete"], "the rotation complete", 30)
    assert status["rotation"]["step"] == 3 and status["rotation"]["soak_left_seconds"] == 0
    # Three steps, each soaked after its confirmations, which came after the step began.
    assert time.monotonic() - started >= 3 * soak
