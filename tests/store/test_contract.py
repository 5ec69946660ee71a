"""One contract for every Store backend: the in-memory one and a real etcd."""

from __future__ import annotations

import threading
import time

import pytest

from federation import errors
from federation.store import Compare, Delete, Put, WatchEvent
from tests.support import blocked_in, wait_for


def collect(watch, count: int, timeout: float = 5.0) -> list[WatchEvent]:
    """At least ``count`` events from ``watch``, waiting at most ``timeout`` seconds."""
    events: list[WatchEvent] = []
    deadline = time.monotonic() + timeout
    while len(events) < count and time.monotonic() < deadline:
        events.extend(watch.next_batch(max(deadline - time.monotonic(), 0.01)))
    return events


def wait_gone(store, key: str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if store.get(key) is None:
            return True
        time.sleep(0.05)
    return store.get(key) is None


# --- keys ------------------------------------------------------------------
def test_put_get_delete_round_trip(store):
    rev1 = store.put("a", b"one")
    kv = store.get("a")
    assert kv is not None
    assert (kv.key, kv.value, kv.version) == ("a", b"one", 1)
    assert kv.create_revision == kv.mod_revision == rev1

    rev2 = store.put("a", b"two")
    assert rev2 > rev1
    kv = store.get("a")
    assert (kv.value, kv.version, kv.create_revision, kv.mod_revision) == (b"two", 2, rev1, rev2)
    assert store.revision() == rev2

    assert store.delete("a") is True
    assert store.get("a") is None
    assert store.delete("a") is False


def test_get_of_missing_key_is_none(store):
    assert store.get("nothing-here") is None


def test_delete_of_missing_key_keeps_revision(store):
    before = store.revision()
    assert store.delete("never-written") is False
    assert store.revision() == before


def test_range_by_prefix_is_sorted_and_returns_revision(store):
    for key in ("clusters/c", "clusters/a", "policies/x", "clusters/b", "clustersX"):
        last = store.put(key, key.encode())
    kvs, rev = store.range("clusters/")
    assert [kv.key for kv in kvs] == ["clusters/a", "clusters/b", "clusters/c"]
    assert [kv.value for kv in kvs] == [b"clusters/a", b"clusters/b", b"clusters/c"]
    assert rev == last == store.revision()


def test_range_of_empty_prefix_lists_the_whole_store_prefix(store):
    store.put("b", b"2")
    store.put("a", b"1")
    kvs, _ = store.range("")
    assert [kv.key for kv in kvs] == ["a", "b"]


def test_range_with_no_match_still_returns_revision(store):
    rev = store.put("x", b"1")
    kvs, at = store.range("nope/")
    assert kvs == [] and at == rev


def test_values_are_bytes_verbatim(store):
    blob = bytes(range(256))
    store.put("blob", blob)
    assert store.get("blob").value == blob


# --- transactions ----------------------------------------------------------
def test_cas_with_stale_revision_fails_and_changes_nothing(store):
    first = store.put("k", b"v1")
    second = store.put("k", b"v2")
    assert store.compare_and_swap("k", b"v3", first) is False
    kv = store.get("k")
    assert (kv.value, kv.mod_revision, kv.version) == (b"v2", second, 2)
    assert store.revision() == second


def test_cas_with_current_revision_succeeds(store):
    rev = store.put("k", b"v1")
    assert store.compare_and_swap("k", b"v2", rev) is True
    kv = store.get("k")
    assert kv.value == b"v2" and kv.mod_revision > rev


def test_cas_create_if_absent_with_zero(store):
    assert store.compare_and_swap("new", b"first", 0) is True
    assert store.compare_and_swap("new", b"second", 0) is False
    assert store.get("new").value == b"first"


def test_compare_and_delete_needs_the_current_revision(store):
    rev = store.put("k", b"v")
    assert store.compare_and_delete("k", rev - 1 if rev > 1 else 0) is False
    assert store.get("k") is not None
    assert store.compare_and_delete("k", rev) is True
    assert store.get("k") is None


def test_txn_applies_failure_branch_when_a_compare_fails(store):
    rev_a = store.put("a", b"1")
    store.put("b", b"1")
    held = store.txn([Compare("a", rev_a), Compare("b", 0)],
                     on_success=[Put("a", b"success")],
                     on_failure=[Put("a", b"failure"), Delete("b")])
    assert held is False
    assert store.get("a").value == b"failure"
    assert store.get("b") is None


def test_txn_writes_all_keys_at_one_revision(store):
    store.put("gone", b"x")
    held = store.txn([Compare("a", 0)], [Put("a", b"1"), Put("b", b"2"), Delete("gone")])
    assert held is True
    a, b = store.get("a"), store.get("b")
    assert a.mod_revision == b.mod_revision == store.revision()
    assert store.get("gone") is None


# --- watches ---------------------------------------------------------------
def test_watch_from_old_revision_replays_missed_events_then_streams_live(store):
    start = store.put("w/a", b"1")
    store.put("w/b", b"2")
    store.put("other", b"ignored")
    store.delete("w/a")
    watch = store.watch("w/", start_revision=start)
    try:
        replayed = collect(watch, 3)
        assert [(e.type, e.key, e.value) for e in replayed] == [
            ("PUT", "w/a", b"1"), ("PUT", "w/b", b"2"), ("DELETE", "w/a", b"")]
        revs = [e.mod_revision for e in replayed]
        assert revs == sorted(revs) and revs[0] == start

        live_rev = store.put("w/c", b"3")
        live = collect(watch, 1)
        assert [(e.type, e.key, e.value, e.mod_revision) for e in live] == [
            ("PUT", "w/c", b"3", live_rev)]
    finally:
        watch.cancel()


def test_watch_without_start_revision_sees_only_new_events(store):
    store.put("w/old", b"0")
    watch = store.watch("w/")
    try:
        rev = store.put("w/new", b"1")
        events = collect(watch, 1)
        assert [(e.key, e.mod_revision) for e in events] == [("w/new", rev)]
    finally:
        watch.cancel()


def test_watch_next_batch_returns_empty_on_timeout(store):
    watch = store.watch("quiet/")
    try:
        assert watch.next_batch(0.2) == []
    finally:
        watch.cancel()


def test_watch_after_compaction_raises_revision_compacted(store):
    old = store.put("c/a", b"1")
    store.put("c/a", b"2")
    now = store.put("c/a", b"3")
    store.compact(now)
    watch = store.watch("c/", start_revision=old)
    try:
        with pytest.raises(errors.RevisionCompacted) as info:
            collect(watch, 1)
        assert info.value.compact_revision >= now
    finally:
        watch.cancel()


def test_compact_twice_at_the_same_revision_is_harmless(store):
    rev = store.put("k", b"v")
    store.compact(rev)
    store.compact(rev)
    assert store.get("k").value == b"v"


def test_watch_cancel_stops_a_blocked_reader_promptly(store):
    watch = store.watch("w/")
    returned: list = []
    reader = threading.Thread(target=lambda: returned.append(watch.next_batch(30.0)))
    reader.start()
    wait_for(lambda: blocked_in(reader, "next_batch"), what="the reader blocked in next_batch")
    watch.cancel()
    reader.join(5.0)
    assert not reader.is_alive(), "next_batch did not return after cancel"
    assert returned == [[]]
    assert watch.next_batch(0.1) == []


def test_watch_iterator_yields_events(store):
    watch = store.watch("it/")
    try:
        store.put("it/x", b"1")
        it = iter(watch)
        event = next(it)
        assert (event.type, event.key) == ("PUT", "it/x")
    finally:
        watch.cancel()


# --- leases ----------------------------------------------------------------
def test_leased_key_vanishes_after_expiry_with_a_delete_event(store):
    lease = store.grant_lease(1)
    assert lease.ttl >= 1 and lease.id != 0
    watch = store.watch("l/")
    try:
        store.put("l/member", b"me", lease=lease.id)
        assert store.get("l/member").lease == lease.id
        assert wait_gone(store, "l/member", lease.ttl + 4.0)
        events = collect(watch, 2)
        assert [(e.type, e.key) for e in events] == [("PUT", "l/member"), ("DELETE", "l/member")]
    finally:
        watch.cancel()


def test_keep_alive_keeps_the_lease_past_its_ttl(store):
    lease = store.grant_lease(1)
    store.put("l/member", b"me", lease=lease.id)
    deadline = time.monotonic() + lease.ttl * 2.5
    while time.monotonic() < deadline:
        assert store.keep_alive(lease.id) >= 1
        time.sleep(lease.ttl / 4)
    assert store.get("l/member") is not None
    store.revoke_lease(lease.id)


def test_keep_alive_of_an_expired_lease_raises_lease_lost(store):
    lease = store.grant_lease(1)
    store.put("l/member", b"me", lease=lease.id)
    assert wait_gone(store, "l/member", lease.ttl + 4.0)
    with pytest.raises(errors.LeaseLost):
        store.keep_alive(lease.id)


def test_keep_alive_of_an_unknown_lease_raises_lease_lost(store):
    with pytest.raises(errors.LeaseLost):
        store.keep_alive(0x7E57)


def test_put_on_an_unknown_lease_raises_lease_lost_and_writes_nothing(store):
    with pytest.raises(errors.LeaseLost):
        store.put("l/orphan", b"x", lease=0x7E57)
    assert store.get("l/orphan") is None


def test_revoke_deletes_the_lease_keys(store):
    lease = store.grant_lease(30)
    store.put("l/a", b"1", lease=lease.id)
    store.put("l/b", b"2", lease=lease.id)
    store.put("l/kept", b"3")
    store.revoke_lease(lease.id)
    kvs, _ = store.range("l/")
    assert [kv.key for kv in kvs] == ["l/kept"]
    with pytest.raises(errors.LeaseLost):
        store.keep_alive(lease.id)
    store.revoke_lease(lease.id)  # revoking again is a no-op


def test_rewriting_a_key_without_lease_detaches_it(store):
    lease = store.grant_lease(30)
    store.put("l/a", b"1", lease=lease.id)
    store.put("l/a", b"2")
    store.revoke_lease(lease.id)
    kv = store.get("l/a")
    assert kv is not None and kv.value == b"2" and kv.lease == 0


# --- concurrency and misuse ------------------------------------------------
def test_concurrent_cas_increments_lose_no_update(store):
    store.put("counter", b"0")
    workers, per_worker = 4, 10
    failures: list[BaseException] = []

    def increment() -> None:
        try:
            done = 0
            for _attempt in range(per_worker * 50):  # bounded retries under contention
                if done == per_worker:
                    return
                kv = store.get("counter")
                if store.compare_and_swap("counter", str(int(kv.value) + 1).encode(),
                                          kv.mod_revision):
                    done += 1
            raise AssertionError("too many CAS conflicts")
        except BaseException as exc:  # surfaced to the test thread below
            failures.append(exc)

    threads = [threading.Thread(target=increment) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30.0)
    assert not failures and not any(t.is_alive() for t in threads)
    assert store.get("counter").value == str(workers * per_worker).encode()


def test_compact_at_a_future_revision_is_a_store_error(store):
    with pytest.raises(errors.StoreError):
        store.compact(store.revision() + 1000)


def test_a_closed_store_refuses_calls(store):
    store.close()
    with pytest.raises(errors.StoreError):
        store.get("k")
