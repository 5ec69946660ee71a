"""Worker threads stop within their deadline, say whether they did, and can run again."""

import queue
import threading
import time

import pytest

from federation import errors
from federation.workers import Worker, Workers, deadline_in


def test_stop_wakes_a_blocked_loop_and_reports_it_ended():
    items: queue.Queue = queue.Queue()
    seen = []

    def run():
        while not worker.stopping.is_set():
            item = items.get()
            if item is not None:
                seen.append(item)

    worker = Worker("blocked", run, wake=lambda: items.put(None))
    worker.start()
    items.put("a")
    assert worker.stop(deadline_in(5)) is True
    assert seen == ["a"] and not worker.alive and worker.started


def test_stop_says_when_the_thread_is_left_behind():
    release = threading.Event()
    worker = Worker("stubborn", release.wait, 10)
    worker.start()
    started = time.monotonic()
    assert worker.stop(deadline_in(0.2)) is False
    assert time.monotonic() - started < 2 and worker.alive
    release.set()
    assert worker.join(deadline_in(5)) is True


def test_a_running_worker_cannot_be_started_twice_but_an_ended_one_runs_again():
    runs = []
    gate = threading.Event()
    worker = Worker("again", lambda n: (runs.append(n), gate.wait(5)), 1)
    worker.start()
    with pytest.raises(errors.FederationError, match="already running"):
        worker.start()
    gate.set()
    assert worker.join(deadline_in(5))
    worker.start(2)
    assert worker.join(deadline_in(5)) and runs == [1, 2]


def test_workers_share_one_stop_event():
    group = Workers()
    for name in ("one", "two"):
        group.spawn(name, group.stopping.wait, 10)
    assert group.stop(deadline_in(5)) is True
