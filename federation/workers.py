"""Worker threads: the one way the hub runs a loop beside the caller.

A ``Worker`` is one named daemon thread running ``target(*args)``, with the loop's
stop event (the loop watches it; ``wake`` is how a stop reaches a loop blocked on
something else: a queue, a condition, an open stream). ``stop(deadline)`` asks and
then waits until ``deadline`` (a ``time.monotonic()`` value), and says whether the
thread ended: a stop is honoured within a bound, and a thread left behind is seen.
``Workers`` is a set of them stopped together. Once the thread has ended,
``start`` runs the target again (the owner clears its stop event first).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from federation import errors


def deadline_in(seconds: float) -> float:
    """The ``time.monotonic()`` deadline ``seconds`` from now."""
    return time.monotonic() + seconds


class Worker:
    def __init__(self, name: str, target: Callable[..., object], *args: object,
                 stop: threading.Event | None = None, wake: Callable[[], object] | None = None):
        self.name = name
        self.stopping = stop if stop is not None else threading.Event()
        self._target, self._args, self._wake = target, args, wake
        self._thread: threading.Thread | None = None

    @property
    def started(self) -> bool:
        """A thread was started (it may have ended since)."""
        return self._thread is not None

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def is_current(self) -> bool:
        """Whether the caller runs in this worker's thread (which cannot wait for itself)."""
        return self._thread is not None and threading.current_thread() is self._thread

    def start(self, *args: object) -> None:
        """Run the target in a new thread (``args`` replace the constructor's when given)."""
        if self.alive:
            raise errors.FederationError(f"worker {self.name} is already running")
        if args:
            self._args = args
        self._thread = threading.Thread(target=self._target, args=self._args, name=self.name, daemon=True)
        self._thread.start()

    def request_stop(self) -> None:
        """Ask the loop to stop; do not wait."""
        self.stopping.set()
        if self._wake is not None:
            self._wake()

    def join(self, deadline: float) -> bool:
        """Wait until ``deadline`` for the thread to end; True when it has (or never ran)."""
        thread = self._thread
        if thread is None:
            return True
        thread.join(max(0.0, deadline - time.monotonic()))
        return not thread.is_alive()

    def stop(self, deadline: float) -> bool:
        """``request_stop``, then ``join(deadline)``."""
        self.request_stop()
        return self.join(deadline)


class Workers:
    """Threads started one by one and stopped together, sharing one stop event."""

    def __init__(self, stop: threading.Event | None = None):
        self.stopping = stop if stop is not None else threading.Event()
        self._workers: list[Worker] = []

    def spawn(self, name: str, target: Callable[..., object], *args: object) -> Worker:
        worker = Worker(name, target, *args, stop=self.stopping)
        worker.start()
        self._workers.append(worker)
        return worker

    def stop(self, deadline: float) -> bool:
        """Stop every worker; True when all ended by ``deadline``."""
        self.stopping.set()
        return all([worker.stop(deadline) for worker in self._workers])
