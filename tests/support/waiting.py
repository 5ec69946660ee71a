"""Bounded waiting: poll a condition until it holds, or fail naming what did not happen."""

from __future__ import annotations

import queue
import sys
import threading
import time
from typing import Callable, TypeVar

T = TypeVar("T")

WAIT = 15.0  # the default bound of one wait; the usual wait is well under a second

# Where a thread blocked on a lock, condition or queue has its innermost Python frame.
_WAITING_FILES = frozenset({threading.__file__, queue.__file__})


def wait_for(condition: Callable[[], T], timeout: float = WAIT, what: str = "condition", *,
             interval: float = 0.05) -> T:
    """Poll ``condition`` until it returns something truthy, and return that.

    The condition is evaluated at least once, and once more at the deadline;
    when it never holds, an ``AssertionError`` names ``what`` and the last value.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what} "
                                 f"(last: {str(value)[:300]})")
        time.sleep(interval)


def blocked_in(thread: threading.Thread, function: str) -> bool:
    """True while ``thread`` waits (on a ``threading`` lock or condition, or a
    ``queue``) inside a call of ``function``: the moment a test wants before it
    pulls the rug from under a blocked reader."""
    frame = sys._current_frames().get(thread.ident) if thread.ident is not None else None
    if frame is None or frame.f_code.co_filename not in _WAITING_FILES:
        return False
    while frame is not None:
        if frame.f_code.co_name == function:
            return True
        frame = frame.f_back
    return False
