"""Gateway-aware failover's decision (pure, on an injected clock) and how a
``GatewayChange`` enters the snapshot: withdrawn after the bound and not before,
restored on answering, never a majority at once, kept across the watcher's updates."""

from __future__ import annotations

from dataclasses import replace

import pytest

from federation.model import ChangeSet, ClusterChange, ClusterInfo, GatewayChange, Snapshot
from federation.model.gateway_health import (
    HOLDING, REACHABLE, UNREACHABLE, WITHDRAWN, Bounds, Decision, decide,
)

BOUNDS = Bounds(withdraw_after=10.0)
FLEET = ("a", "b", "c")


class Rounds:
    """Probe rounds every ``interval`` seconds on a clock of its own."""

    def __init__(self, bounds: Bounds = BOUNDS, interval: float = 3.0, clusters=FLEET):
        self.bounds, self.interval, self.now = bounds, interval, 0.0
        self.up = {name: True for name in clusters}
        self.decision = decide(Decision(), self.up, self.now, bounds)

    def run(self, seconds: float) -> Decision:
        end = self.now + seconds
        while self.now + self.interval <= end + 1e-9:
            self.now += self.interval
            self.decision = decide(self.decision, self.up, self.now, self.bounds)
        return self.decision


def test_withdrawn_once_silent_for_the_bound_and_not_before():
    rounds = Rounds()
    rounds.up["c"] = False
    assert rounds.run(9).withdrawn == frozenset()  # rounds at 3, 6, 9: 9 s since it answered
    assert rounds.decision.state("c") == UNREACHABLE
    assert rounds.decision.clusters["c"].failing_since == 3.0
    assert rounds.run(3).withdrawn == {"c"}  # 12 s
    assert rounds.decision.state("c") == WITHDRAWN
    assert rounds.decision.state("a") == REACHABLE and not rounds.decision.holding


def test_one_failed_round_is_not_an_outage_however_long_the_gap():
    decision = decide(Decision(), {"a": True, "b": True, "c": True}, 0.0, BOUNDS)
    # the hub was paused for a minute: one failed round after it does not withdraw
    decision = decide(decision, {"a": True, "b": True, "c": False}, 60.0, BOUNDS)
    assert decision.withdrawn == frozenset() and decision.state("c") == UNREACHABLE
    decision = decide(decision, {"a": True, "b": True, "c": False}, 63.0, BOUNDS)
    assert decision.withdrawn == {"c"}


def test_restored_on_the_first_round_that_reaches_it():
    rounds = Rounds()
    rounds.up["c"] = False
    assert rounds.run(12).withdrawn == {"c"}
    rounds.up["c"] = True
    assert rounds.run(3).withdrawn == frozenset()
    assert rounds.decision.state("c") == REACHABLE
    assert rounds.decision.clusters["c"].failing_since is None


def test_restore_after_asks_for_answers_over_that_long_and_a_failure_starts_it_again():
    rounds = Rounds(Bounds(withdraw_after=10.0, restore_after=6.0))
    rounds.up["c"] = False
    rounds.run(12)
    rounds.up["c"] = True
    assert rounds.run(6).withdrawn == {"c"}  # answered at 15 and 18: 3 s of answering
    rounds.up["c"] = False
    assert rounds.run(3).withdrawn == {"c"}  # still down: no new bound to wait for
    rounds.up["c"] = True
    assert rounds.run(6).withdrawn == {"c"}
    assert rounds.run(3).withdrawn == frozenset()  # 6 s of answering in a row


def test_a_gateway_never_reached_is_withdrawn_one_bound_after_it_was_first_probed():
    rounds = Rounds()
    rounds.decision = decide(rounds.decision, {**rounds.up, "d": False}, rounds.now, BOUNDS)
    rounds.up["d"] = False
    assert rounds.run(9).withdrawn == frozenset()
    assert rounds.run(3).withdrawn == {"d"}


def test_never_a_majority_at_once_the_hub_holds_and_says_so():
    rounds = Rounds()
    rounds.up["b"] = rounds.up["c"] = False
    decision = rounds.run(30)
    assert decision.holding and decision.withdrawn == frozenset()
    assert {decision.state(n) for n in ("b", "c")} == {UNREACHABLE}
    assert HOLDING == "hub cannot reach most gateways; not withdrawing"
    rounds.up["b"] = True  # one of three down: a minority again
    assert rounds.run(3).withdrawn == {"c"} and not rounds.decision.holding


def test_every_gateway_down_withdraws_nothing():
    rounds = Rounds()
    rounds.up = {name: False for name in FLEET}
    assert rounds.run(60).withdrawn == frozenset() and rounds.decision.holding
    single = Rounds(clusters=("a",))
    single.up["a"] = False
    assert single.run(60).withdrawn == frozenset()  # the only one is every one


def test_half_may_be_withdrawn_so_one_of_two():
    rounds = Rounds(clusters=("a", "b"))
    rounds.up["b"] = False
    assert rounds.run(12).withdrawn == {"b"}


def test_clusters_no_longer_probed_are_dropped_and_not_withdrawn():
    rounds = Rounds()
    rounds.up["c"] = False
    rounds.run(12)
    del rounds.up["c"]  # its gateway lost its address (or it left)
    assert rounds.run(3).withdrawn == frozenset()
    assert rounds.decision.state("c") == ""


@pytest.mark.parametrize("withdraw, restore", [(0.0, 0.0), (5.0, 6.0), (5.0, -1.0)])
def test_bounds_are_checked(withdraw, restore):
    with pytest.raises(ValueError):
        Bounds(withdraw, restore)


# -- the snapshot ------------------------------------------------------------------------
def fleet() -> Snapshot:
    snap, _ = Snapshot().apply(ChangeSet(tuple(
        ClusterChange(name, ClusterInfo(name, gateways=(f"10.0.0.{i}",))) for i, name in enumerate(FLEET))))
    return snap


def test_a_gateway_change_marks_the_cluster_and_names_it_in_the_delta():
    snap = fleet()
    withdrawn, delta = snap.apply(ChangeSet((GatewayChange("c", False),)))
    assert withdrawn.clusters["c"].gateway_reachable is False
    assert delta.clusters == {"c"} and not delta.services
    assert snap.clusters["c"].gateway_reachable is True  # snapshots are immutable
    same, delta = withdrawn.apply(ChangeSet((GatewayChange("c", False), GatewayChange("x", False))))
    assert same is withdrawn and not delta  # no change, and no such cluster: nothing
    restored, delta = withdrawn.apply(ChangeSet((GatewayChange("c", True),)))
    assert restored.clusters["c"] == snap.clusters["c"] and delta.clusters == {"c"}


def test_the_watchers_cluster_info_keeps_the_probers_verdict():
    withdrawn, _ = fleet().apply(ChangeSet((GatewayChange("c", False),)))
    info = replace(ClusterInfo("c", gateways=("10.0.0.2",)), region="r9")  # as a watcher emits it
    after, delta = withdrawn.apply(ChangeSet((ClusterChange("c", info),)))
    assert after.clusters["c"].region == "r9" and after.clusters["c"].gateway_reachable is False
    again, delta = after.apply(ChangeSet((ClusterChange("c", info),)))
    assert again is after and not delta
    gone, _ = after.apply(ChangeSet((ClusterChange("c", None),)))
    back, _ = gone.apply(ChangeSet((ClusterChange("c", info),)))
    assert back.clusters["c"].gateway_reachable is True  # a new registration starts reachable
