"""The per-peer failure bucket and peer address parsing (pure)."""

from __future__ import annotations

import pytest

from federation import errors
from federation.onboarding.limiting import FailureLimiter
from federation.onboarding.peers import peer_address


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_after_burst_failures_a_peer_is_refused_until_the_bucket_refills():
    clock = Clock()
    limiter = FailureLimiter(burst=3, refill_seconds=10, clock=clock)
    for _ in range(3):
        limiter.check("10.0.0.1")
        limiter.failed("10.0.0.1")
    with pytest.raises(errors.LimitExceeded, match="too many failed enrollments from 10.0.0.1"):
        limiter.check("10.0.0.1")
    limiter.check("10.0.0.2")  # other peers are not affected
    clock.now += 10
    limiter.check("10.0.0.1")  # one token back
    limiter.failed("10.0.0.1")
    with pytest.raises(errors.LimitExceeded):
        limiter.check("10.0.0.1")


def test_the_number_of_tracked_peers_is_bounded():
    clock = Clock()
    limiter = FailureLimiter(burst=2, refill_seconds=1, max_peers=5, clock=clock)
    for i in range(50):
        limiter.failed(f"10.0.0.{i}")
    assert len(limiter._buckets) == 5


@pytest.mark.parametrize("peer, address", [
    ("ipv4:10.1.2.3:5123", "10.1.2.3"),
    ("ipv6:[::1]:5123", "::1"),
    ("ipv6:[fe80::1%eth0]:80", "fe80::1%eth0"),
    ("unix:/tmp/sock", "unix:/tmp/sock"),
])
def test_peer_addresses_drop_the_port(peer, address):
    assert peer_address(peer) == address


def test_enrollment_buckets_charge_guesses_to_the_address_and_the_rest_to_the_token():
    from federation.onboarding.limiting import EnrollmentLimiter, token_bucket
    from federation.onboarding.refusals import refusal

    clock = Clock()
    issued = {"mfvm_good", "mfvm_spent"}
    limiter = EnrollmentLimiter(FailureLimiter(burst=2, refill_seconds=10, clock=clock),
                                FailureLimiter(burst=2, refill_seconds=10, clock=clock),
                                known=issued.__contains__)
    guess = refusal(errors.AuthError, "unknown", "token_unknown")
    used = refusal(errors.AuthError, "used", "token_used")
    for i in range(2):
        limiter.check("10.0.0.1", f"mfvm_guess{i}")
        limiter.failed("10.0.0.1", f"mfvm_guess{i}", guess)
    with pytest.raises(errors.LimitExceeded, match="from 10.0.0.1"):
        limiter.check("10.0.0.1", "mfvm_guess9")
    limiter.check("10.0.0.1", "mfvm_good")  # an issued token still passes from that address
    for _ in range(2):
        limiter.failed("10.0.0.1", "mfvm_spent", used)
    with pytest.raises(errors.LimitExceeded, match=token_bucket("mfvm_spent")):
        limiter.check("10.0.0.9", "mfvm_spent")  # that token, from anywhere
    limiter.check("10.0.0.9", "mfvm_good")
    assert "mfvm_spent" not in token_bucket("mfvm_spent")
    assert limiter.by_address.tokens("10.0.0.9") == 2
