"""Fixtures of the agent tests: a hub with onboarding for the agent to talk to,
agent processes, and a check that nothing is left running."""

from __future__ import annotations

import threading
import time

import pytest

from tests.onboarding.support import Agents, start_hub, stop_hub


@pytest.fixture(autouse=True)
def no_threads_left():
    before = set(threading.enumerate())
    yield
    deadline = time.monotonic() + 5.0
    while True:
        left = [t for t in threading.enumerate() if t not in before and t.is_alive()]
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert not left, f"threads left behind: {[t.name for t in left]}"


@pytest.fixture
def hub(tmp_path):
    started = start_hub(tmp_path / "hub")
    try:
        yield started
    finally:
        stop_hub(started)


@pytest.fixture
def agents(tmp_path):
    started = Agents(tmp_path / "vms")
    started.root.mkdir()
    try:
        yield started
    finally:
        started.cleanup()
