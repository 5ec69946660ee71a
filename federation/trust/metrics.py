"""The ``federation_cert_expiry_seconds`` gauge, served from memory.

The keeper records each CA certificate's remaining life when it looks at the
store; a scrape only subtracts the time passed since, so it never touches the
store or does any crypto.
"""

from __future__ import annotations

import threading
import time
from typing import Callable, Iterable

from federation.trust.authority import ExpiryItem

METRIC = "federation_cert_expiry_seconds"


class ExpiryGauge:
    """Remaining seconds per CA certificate, labelled ``kind`` and ``name``."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self._lock = threading.Lock()
        self._items: tuple[ExpiryItem, ...] = ()
        self._at = 0.0

    def record(self, items: Iterable[ExpiryItem]) -> None:
        items = tuple(items)
        with self._lock:
            self._items, self._at = items, self._clock()

    def clear(self) -> None:
        self.record(())

    def observe(self) -> list[tuple[float, dict]]:
        """(seconds, attributes) pairs, as ``Telemetry.gauge`` wants them."""
        with self._lock:
            items, at = self._items, self._at
        passed = self._clock() - at
        return [(item.seconds - passed, {"kind": item.kind, "name": item.name}) for item in items]
