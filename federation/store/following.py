"""Following a key prefix: the one watch loop every store consumer uses.

Resumes after a failure from the last revision seen; when that history was
compacted away, the caller reloads its state and says where to resume from.
"""

from __future__ import annotations

import logging
import threading
from typing import Callable

from federation import errors
from federation.store.base import Store, WatchEvent

log = logging.getLogger(__name__)

RETRY_SECONDS = 1.0
BATCH_WAIT = 0.5  # bounds how long a stop waits for the loop


def follow(store: Store, prefix: str, revision: int, on_batch: Callable[[list[WatchEvent]], None],
           reload: Callable[[], int], stop: threading.Event, what: str) -> None:
    """Call ``on_batch`` with each batch of events under ``prefix`` from ``revision``
    until ``stop`` is set. After a compaction, ``reload()`` rebuilds the caller's
    state from a fresh read and returns the store revision it read at."""
    while not stop.is_set():
        watch = None
        try:
            watch = store.watch(prefix, revision)
            while not stop.is_set():
                events = watch.next_batch(timeout=BATCH_WAIT)
                if events:
                    revision = events[-1].mod_revision + 1
                    on_batch(events)
        except errors.RevisionCompacted:
            log.info("store history compacted; reloading", extra={"fields": {"watch": what}})
            try:
                revision = reload() + 1
            except errors.FederationError as exc:
                log.warning("reload failed; retrying", extra={"fields": {"watch": what, "error": str(exc)}})
                stop.wait(RETRY_SECONDS)
        except errors.FederationError as exc:
            log.warning("store watch failed; resuming", extra={"fields": {"watch": what, "error": str(exc)}})
            stop.wait(RETRY_SECONDS)
        finally:
            if watch is not None:
                watch.cancel()
