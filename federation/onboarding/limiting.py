"""Slowing down token guessing without letting one noisy VM block the others.

Two kinds of buckets (``FailureLimiter``): one per peer address, charged by
enrollments with a token the hub never issued (guessing, typos), and one per
token, keyed by its id (the first digits of its SHA-256, as ``vm token list``
shows it), charged by every other failure (a spent, expired or revoked token,
a bad CSR). An empty token bucket refuses that token from anywhere. An empty
address bucket refuses, from that address, only tokens the hub does not know
— one store read, no cryptography — so a guesser (or a broken agent) behind a
NAT address does not block the valid enrollments of the VMs beside it.
"""

from __future__ import annotations

from typing import Callable

from federation.api.limiting import FailureLimiter
from federation.onboarding.records import TOKEN_ID_LENGTH, token_digest
from federation.onboarding.refusals import reason_of

# Refusals that say the token is not one the hub issued: charged to the address.
_GUESSES = frozenset({"token_unknown", "token_malformed"})

__all__ = ["EnrollmentLimiter", "FailureLimiter", "token_bucket"]


def token_bucket(token: str) -> str:
    """The bucket key of a presented token (never the token itself)."""
    text = token if isinstance(token, str) else ""
    return f"token {token_digest(text)[:TOKEN_ID_LENGTH]}"


class EnrollmentLimiter:
    def __init__(self, by_address: FailureLimiter, by_token: FailureLimiter,
                 known: Callable[[str], bool]):
        self.by_address = by_address
        self.by_token = by_token
        self._known = known

    def check(self, peer: str, token: str) -> None:
        """LimitExceeded (reason ``rate_limited``) when this token, or unknown tokens
        from this address, failed too often."""
        self.by_token.check(token_bucket(token))
        if self.by_address.tokens(peer) < 1 and not self._known(token):
            self.by_address.check(peer)

    def failed(self, peer: str, token: str, exc: BaseException) -> None:
        if reason_of(exc) in _GUESSES:
            self.by_address.failed(peer)
        else:
            self.by_token.failed(token_bucket(token))
