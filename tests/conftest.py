"""Shared fixtures: a real etcd server for the session, and a guard that fails any
test leaving a thread behind (every stop must be honoured within a bound)."""

from __future__ import annotations

import threading
import time

import pytest

from tests.etcd_server import etcd_server  # noqa: F401  (session fixture)

THREAD_GRACE = 5.0  # gRPC and HTTP servers finish their own threads shortly after stop()


@pytest.fixture(autouse=True)
def no_thread_left_behind():
    before = set(threading.enumerate())
    yield
    deadline = time.monotonic() + THREAD_GRACE
    while True:
        left = [t for t in threading.enumerate() if t not in before and t.is_alive()]
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    assert not left, f"threads left behind: {sorted(t.name for t in left)}"
