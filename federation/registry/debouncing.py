"""When to flush coalesced changes: latency first, weights may wait a little longer.

A change arriving after a quiet spell is flushed at once (leading edge); changes
of a burst are coalesced behind it, one flush per ``quiet`` seconds at most.
Availability changes use that pace; weight-only changes are flushed at most
every ``weight_max`` seconds (or with a flush that takes everything), so a
rollout's many count changes never delay an endpoint appearing or going.
Nothing waits longer than ``max_delay``.

Pure: the caller passes the clock readings.
"""

from __future__ import annotations

from dataclasses import dataclass

ALL = "all"
URGENT = "urgent"


@dataclass
class Debouncer:
    quiet: float = 0.1
    max_delay: float = 1.0
    weight_max: float = 0.2
    _urgent: float | None = None  # first pending availability change
    _weight: float | None = None  # first pending weight-only change
    _flushed: float = float("-inf")  # last flush of any kind
    _weights_flushed: float = float("-inf")  # last flush that took the weight changes

    def __post_init__(self) -> None:
        if self.quiet < 0 or self.max_delay < self.quiet:
            raise ValueError("debounce: need 0 <= quiet <= max_delay")
        if self.weight_max < 0:
            raise ValueError("debounce: weight_max must not be negative")

    @property
    def pending(self) -> bool:
        return self._urgent is not None or self._weight is not None

    def add(self, now: float, urgent: bool = True) -> None:
        if urgent:
            self._urgent = now if self._urgent is None else self._urgent
        else:
            self._weight = now if self._weight is None else self._weight

    def _urgent_due(self) -> float | None:
        if self._urgent is None:
            return None
        return min(max(self._urgent, self._flushed + self.quiet), self._urgent + self.max_delay)

    def _weight_due(self) -> float | None:
        if self._weight is None:
            return None
        gap = min(max(self.quiet, self.weight_max), self.max_delay)
        return min(max(self._weight, self._weights_flushed + gap), self._weight + self.max_delay)

    def due_at(self) -> float | None:
        """The time the next flush is due, or None if nothing is pending."""
        dues = [d for d in (self._urgent_due(), self._weight_due()) if d is not None]
        return min(dues) if dues else None

    def ready(self, now: float) -> bool:
        due = self.due_at()
        return due is not None and now >= due

    def take(self, now: float) -> str | None:
        """Start a flush at ``now``: ``ALL`` (every pending change), ``URGENT`` (the
        availability changes only; weight-only ones keep waiting) or None (not due)."""
        weight_due, urgent_due = self._weight_due(), self._urgent_due()
        if weight_due is not None and now >= weight_due:
            self.reset()
            self._flushed = self._weights_flushed = now
            return ALL
        if urgent_due is not None and now >= urgent_due:
            self._urgent = None
            self._flushed = now
            return ALL if self._weight is None else URGENT
        return None

    def reset(self) -> None:
        """Forget what is pending (it was flushed some other way)."""
        self._urgent = self._weight = None
