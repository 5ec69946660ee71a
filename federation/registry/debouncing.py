"""When to flush coalesced changes: after a quiet period, or a max delay at most.

Pure: the caller passes the clock readings.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Debouncer:
    quiet: float = 0.1
    max_delay: float = 1.0
    _first: float | None = None
    _last: float | None = None

    def __post_init__(self) -> None:
        if self.quiet < 0 or self.max_delay < self.quiet:
            raise ValueError("debounce: need 0 <= quiet <= max_delay")

    @property
    def pending(self) -> bool:
        return self._first is not None

    def add(self, now: float) -> None:
        if self._first is None:
            self._first = now
        self._last = now

    def due_at(self) -> float | None:
        """The time the pending batch must be flushed, or None if nothing is pending."""
        if self._first is None or self._last is None:
            return None
        return min(self._last + self.quiet, self._first + self.max_delay)

    def ready(self, now: float) -> bool:
        due = self.due_at()
        return due is not None and now >= due

    def reset(self) -> None:
        self._first = self._last = None
