"""Fixtures of the agent tests: a hub with onboarding for the agent to talk to,
agent processes, and a check that nothing is left running."""

from __future__ import annotations


import pytest

from tests.onboarding.support import Agents, start_hub, stop_hub




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
