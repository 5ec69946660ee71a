"""Bootstrap tokens on a real store: hashed at rest, expiring, limited uses, race-safe."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from federation import errors
from federation.onboarding.records import token_digest
from federation.onboarding.tokens import BootstrapTokens
from federation.store.keys import Keys
from federation.store.memory import MemoryStore


class Clock:
    def __init__(self, now: float = 1_800_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def store():
    s = MemoryStore()
    yield s
    s.close()


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def tokens(store, clock):
    return BootstrapTokens(store, clock=clock)


def test_a_token_is_random_and_stored_only_as_its_hash(tokens, store):
    token, record = tokens.create("default", "ratings", ttl=600, uses=2)
    assert len(token) >= 43  # 32 random bytes, URL-safe base64
    kvs, _ = store.range("")
    assert [kv.key for kv in kvs] == [Keys.VM_TOKENS + token_digest(token)]
    assert token.encode() not in kvs[0].value and token not in kvs[0].key
    assert record.token_id == token_digest(token)[:16]
    assert kvs[0].lease, "a token lives on a lease, so the store forgets it"
    other, _ = tokens.create("default", "ratings")
    assert other != token


def test_uses_are_counted_and_a_replay_is_refused(tokens):
    token, _ = tokens.create("default", "ratings", uses=2)
    assert tokens.consume(token).uses_left == 2
    assert tokens.consume(token).uses_left == 1
    with pytest.raises(errors.AuthError, match="already used") as caught:
        tokens.consume(token)
    assert caught.value.reason == "token_used"


def test_an_expired_token_is_refused_and_nothing_is_written(tokens, store, clock):
    token, _ = tokens.create("default", "ratings", ttl=60)
    before = store.range("")
    clock.now += 61
    with pytest.raises(errors.AuthError, match="expired"):
        tokens.consume(token)
    assert store.range("") == before


def test_revoked_and_forged_tokens_are_refused(tokens):
    token, record = tokens.create("default", "ratings")
    tokens.revoke(record.token_id)
    with pytest.raises(errors.AuthError, match="revoked"):
        tokens.inspect(token)
    with pytest.raises(errors.AuthError, match="unknown"):
        tokens.consume(token[:-2] + "xx")
    with pytest.raises(errors.AuthError, match="malformed"):
        tokens.consume("x" * 1000)
    with pytest.raises(errors.NotFound):
        tokens.revoke("0" * 16)


@pytest.mark.parametrize("ttl, uses", [(0.5, 1), (8 * 86400, 1), (60, -1), (60, 10_001)])
def test_out_of_range_ttl_or_uses_are_refused(tokens, ttl, uses):
    with pytest.raises(errors.ValidationError):
        tokens.create("default", "ratings", ttl=ttl, uses=uses)


@pytest.mark.parametrize("uses", [1, 3])
def test_racing_enrollments_use_a_token_exactly_uses_times(tokens, uses):
    token, _ = tokens.create("default", "ratings", uses=uses)
    start = threading.Barrier(10)

    def attempt(_):
        start.wait(5)
        try:
            tokens.consume(token)
            return True
        except errors.AuthError:
            return False

    with ThreadPoolExecutor(10) as pool:
        results = list(pool.map(attempt, range(10)))
    assert results.count(True) == uses


def test_a_refund_gives_a_use_back(tokens):
    token, _ = tokens.create("default", "ratings")
    used = tokens.consume(token)
    tokens.refund(used)
    assert tokens.consume(token).uses_left == 1
