"""Slowing down guessing: a token bucket of allowed failures per peer address.

Each failed enrollment from an address takes one token from that address's
bucket; buckets refill at one token per ``refill_seconds`` up to ``burst``.
While a bucket is empty, every enrollment from the address is refused at once
(RESOURCE_EXHAUSTED), before any store access or cryptography. Successful
enrollments cost nothing, so a fleet enrolling from one NAT address is not
slowed by its own successes. At most ``max_peers`` buckets are kept: full ones
carry no information and are dropped first.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Callable

from federation import errors
from federation.onboarding.refusals import refusal


class FailureLimiter:
    def __init__(self, burst: int = 5, refill_seconds: float = 10.0, max_peers: int = 10_000,
                 clock: Callable[[], float] = time.monotonic):
        if burst < 1 or refill_seconds <= 0 or max_peers < 1:
            raise errors.ConfigError("failure limiter: burst >= 1, refill > 0, max_peers >= 1")
        self.burst = burst
        self.refill_seconds = refill_seconds
        self._max_peers = max_peers
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # peer -> (tokens, at)

    def check(self, peer: str) -> None:
        """LimitExceeded (reason ``rate_limited``) while ``peer``'s bucket is empty."""
        with self._lock:
            tokens = self._level_locked(peer)
        if tokens < 1:
            wait = (1 - tokens) * self.refill_seconds
            raise refusal(errors.LimitExceeded,
                          f"too many failed enrollments from {peer}; retry in {wait:.0f}s",
                          "rate_limited")

    def failed(self, peer: str) -> None:
        with self._lock:
            tokens = self._level_locked(peer)
            self._buckets[peer] = (max(tokens - 1, 0.0), self._clock())
            self._buckets.move_to_end(peer)
            self._trim_locked()

    def tokens(self, peer: str) -> float:
        with self._lock:
            return self._level_locked(peer)

    def _level_locked(self, peer: str) -> float:
        found = self._buckets.get(peer)
        if found is None:
            return float(self.burst)
        tokens, at = found
        return min(float(self.burst), tokens + (self._clock() - at) / self.refill_seconds)

    def _trim_locked(self) -> None:
        if len(self._buckets) <= self._max_peers:
            return
        for peer in [p for p in self._buckets if self._level_locked(p) >= self.burst]:
            del self._buckets[peer]
        while len(self._buckets) > self._max_peers:
            self._buckets.popitem(last=False)

