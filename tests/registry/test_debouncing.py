"""The debouncer: leading edge after a quiet spell, bursts coalesced behind it,
availability ahead of weight-only changes. Pure: the clock is passed in."""

import pytest

from federation.registry import Debouncer
from federation.registry.debouncing import ALL, URGENT


def test_a_change_after_a_quiet_period_is_due_at_once():
    d = Debouncer(quiet=0.1, max_delay=1.0)
    d.add(10.0)
    assert d.due_at() == 10.0 and d.ready(10.0)
    assert d.take(10.0) == ALL
    d.add(10.5)  # long after the last flush: the leading edge again
    assert d.ready(10.5)


def test_a_burst_is_coalesced_behind_the_leading_edge_one_flush_per_quiet_period():
    d = Debouncer(quiet=0.1, max_delay=1.0)
    flushes, t = [], 10.0
    for _ in range(20):  # a change every 20 ms for 400 ms
        d.add(t)
        if d.ready(t):
            flushes.append(t)
            d.take(t)
        t = round(t + 0.02, 3)
    assert flushes[0] == 10.0  # the first change did not wait
    gaps = [round(b - a, 3) for a, b in zip(flushes, flushes[1:])]
    assert gaps and all(g == pytest.approx(0.1) for g in gaps), gaps  # coalesced, never starved
    assert d.pending and d.due_at() == pytest.approx(flushes[-1] + 0.1)


def test_weight_only_changes_wait_up_to_weight_max_while_availability_goes_ahead():
    d = Debouncer(quiet=0.1, max_delay=1.0, weight_max=0.5)
    d.add(10.0, urgent=False)
    assert d.take(10.0) == ALL  # leading edge for weights too
    d.add(10.05, urgent=False)
    assert d.due_at() == pytest.approx(10.5)  # weights coalesce for weight_max
    d.add(10.2, urgent=True)
    assert d.due_at() == pytest.approx(10.2)  # availability does not wait for them
    assert d.take(10.2) == URGENT
    assert d.pending and d.due_at() == pytest.approx(10.5)  # the weights still wait
    assert not d.ready(10.49) and d.take(10.49) is None
    assert d.take(10.5) == ALL and not d.pending


def test_nothing_waits_longer_than_max_delay():
    d = Debouncer(quiet=0.1, max_delay=0.3, weight_max=5.0)
    d.add(10.0, urgent=False)
    assert d.take(10.0) == ALL
    d.add(10.01, urgent=False)
    assert d.due_at() == pytest.approx(10.3)  # not weight_max after the last flush


def test_reset_clears_pending():
    d = Debouncer()
    d.add(1.0)
    d.add(1.0, urgent=False)
    d.reset()
    assert not d.pending and d.due_at() is None and not d.ready(100.0) and d.take(100.0) is None


def test_rejects_inconsistent_settings():
    with pytest.raises(ValueError, match="quiet <= max_delay"):
        Debouncer(quiet=2.0, max_delay=1.0)
    with pytest.raises(ValueError, match="weight_max"):
        Debouncer(weight_max=-1.0)
