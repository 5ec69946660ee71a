"""What only the in-memory store has: bounded history."""

from __future__ import annotations

import pytest

from federation import errors
from federation.store.memory import MemoryStore


def test_watch_older_than_retained_history_raises_revision_compacted():
    store = MemoryStore(history_limit=3)
    first = store.put("k", b"0")
    for i in range(1, 5):
        store.put("k", str(i).encode())
    watch = store.watch("", start_revision=first)
    with pytest.raises(errors.RevisionCompacted) as info:
        watch.next_batch(0.1)
    assert info.value.compact_revision > first
    recent = store.watch("", start_revision=info.value.compact_revision)
    assert [e.value for e in recent.next_batch(0.1)] == [b"2", b"3", b"4"]


def test_a_watcher_that_falls_behind_retained_history_raises_revision_compacted():
    store = MemoryStore(history_limit=2)
    watch = store.watch("")
    for i in range(4):
        store.put("k", str(i).encode())
    with pytest.raises(errors.RevisionCompacted):
        watch.next_batch(0.1)


def test_history_limit_must_be_positive():
    with pytest.raises(ValueError):
        MemoryStore(history_limit=0)
