"""``federation status --watch``: the status again whenever it changes, stamped with
the time, until stopped (Ctrl-C, SIGTERM, or the caller's ``stop`` event)."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable

from federation import errors


def watch(fetch: Callable[[], str], write: Callable[[str], None], *, interval: float = 2.0,
          stop: threading.Event | None = None, max_prints: int | None = None) -> int:
    """Print ``fetch()`` at once and then each time its text changes, checking every
    ``interval`` seconds; a hub that does not answer is said once and retried. Returns
    how many times it printed."""
    stop = stop or threading.Event()
    last, printed, down = None, 0, ""
    while not stop.is_set():
        try:
            text, down_now = fetch(), ""
        except errors.Transient as exc:
            text, down_now = None, str(exc)
        if down_now and down_now != down:
            write(f"{_now()}  {down_now} (retrying every {interval:g}s)")
        down = down_now
        if text is not None and text != last:
            write(("" if printed == 0 else "\n") + f"{_now()}\n{text}")
            last, printed = text, printed + 1
            if max_prints is not None and printed >= max_prints:
                break
        stop.wait(interval)
    return printed


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
