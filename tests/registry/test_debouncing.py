"""The debouncer flushes after a quiet period, or at the max delay at the latest."""

import pytest

from federation.registry import Debouncer


def test_flushes_after_quiet_period():
    d = Debouncer(quiet=0.1, max_delay=1.0)
    d.add(10.0)
    assert not d.ready(10.05)
    assert d.ready(10.1)


def test_new_changes_extend_the_quiet_period_up_to_max_delay():
    d = Debouncer(quiet=0.1, max_delay=1.0)
    t = 10.0
    d.add(t)
    for _ in range(20):  # a change every 80 ms never leaves a quiet gap
        t += 0.08
        d.add(t)
        if d.ready(t):
            break
    assert d.due_at() == pytest.approx(11.0)
    assert d.ready(11.0)


def test_reset_clears_pending():
    d = Debouncer()
    d.add(1.0)
    d.reset()
    assert not d.pending and d.due_at() is None and not d.ready(100.0)


def test_rejects_inconsistent_settings():
    with pytest.raises(ValueError):
        Debouncer(quiet=2.0, max_delay=1.0)
