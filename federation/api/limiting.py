"""Slowing down guessing: a token bucket of allowed failures per key.

Each failure charged to a key (a peer address, a token's id) takes one token
from that key's bucket; buckets refill at one token per ``refill_seconds`` up
to ``burst``. While a bucket is empty the caller refuses at once
(RESOURCE_EXHAUSTED), before any store access or cryptography. Successes cost
nothing, so a fleet behind one NAT address is not slowed by its own
successes. At most ``max_keys`` buckets are kept: full ones carry no
information and are dropped first.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Callable

from federation import errors


class FailureLimiter:
    def __init__(self, burst: int = 5, refill_seconds: float = 10.0, max_peers: int = 10_000,
                 clock: Callable[[], float] = time.monotonic, what: str = "failed enrollments"):
        if burst < 1 or refill_seconds <= 0 or max_peers < 1:
            raise errors.ConfigError("failure limiter: burst >= 1, refill > 0, max_peers >= 1")
        self.burst = burst
        self.refill_seconds = refill_seconds
        self.what = what
        self._max_peers = max_peers
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # key -> (tokens, at)

    def check(self, key: str) -> None:
        """LimitExceeded (reason ``rate_limited``) while ``key``'s bucket is empty."""
        with self._lock:
            tokens = self._level_locked(key)
        if tokens < 1:
            wait = (1 - tokens) * self.refill_seconds
            exc = errors.LimitExceeded(f"too many {self.what} from {key}; retry in {wait:.0f}s")
            exc.reason = "rate_limited"
            raise exc

    def failed(self, key: str) -> None:
        with self._lock:
            tokens = self._level_locked(key)
            self._buckets[key] = (max(tokens - 1, 0.0), self._clock())
            self._buckets.move_to_end(key)
            self._trim_locked()

    def tokens(self, key: str) -> float:
        with self._lock:
            return self._level_locked(key)

    def _level_locked(self, key: str) -> float:
        found = self._buckets.get(key)
        if found is None:
            return float(self.burst)
        tokens, at = found
        return min(float(self.burst), tokens + (self._clock() - at) / self.refill_seconds)

    def _trim_locked(self) -> None:
        if len(self._buckets) <= self._max_peers:
            return
        for key in [k for k in self._buckets if self._level_locked(k) >= self.burst]:
            del self._buckets[key]
        while len(self._buckets) > self._max_peers:
            self._buckets.popitem(last=False)


def peer_address(peer: str) -> str:
    """The address part of a gRPC peer string (``ipv4:10.0.0.7:5123`` → ``10.0.0.7``,
    ``ipv6:[::1]:5123`` → ``::1``): the key of a caller's bucket."""
    kind, _, rest = peer.partition(":")
    if kind == "ipv6":
        host = rest.rpartition(":")[0] if "]" in rest else rest
        return host.strip("[]") or peer
    if kind == "ipv4":
        return rest.rpartition(":")[0] or peer
    return peer  # unix sockets and unknown forms: the whole string is the identity
