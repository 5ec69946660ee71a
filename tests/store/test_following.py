"""Following a prefix: batches in order, a compacted history reloads and resumes."""

from __future__ import annotations

import threading

from federation.store.following import follow
from federation.store.memory import MemoryStore
from tests.support import wait_for


def test_follow_delivers_events_and_reloads_after_compaction():
    store = MemoryStore(prefix="/follow/")
    seen: list[str] = []
    reloads: list[int] = []
    stop = threading.Event()

    def reload():
        items, revision = store.range("k/")
        seen[:] = [f"PUT {kv.key}" for kv in items]
        reloads.append(revision)
        return revision

    store.put("k/a", b"1")
    start = store.revision()
    store.put("k/b", b"2")
    store.compact(store.revision())  # the follower's start revision is gone
    thread = threading.Thread(target=follow, args=(store, "k/", start, lambda events: seen.extend(
        f"{e.type} {e.key}" for e in events), reload, stop, "test"))
    thread.start()
    try:
        wait_for(lambda: reloads, what="a reload after the compaction")
        assert seen == ["PUT k/a", "PUT k/b"]
        store.delete("k/a")
        store.put("other/x", b"ignored")
        wait_for(lambda: seen[-1:] == ["DELETE k/a"], what="the delete delivered")
        assert "PUT other/x" not in seen
    finally:
        stop.set()
        thread.join(5)
        store.close()
    assert not thread.is_alive()
