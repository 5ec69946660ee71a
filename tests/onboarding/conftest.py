"""Fixtures of the onboarding tests: hubs with onboarding over real gRPC and TLS,
simulated member clusters, agent processes, and a check that nothing is left running."""

from __future__ import annotations

import shutil

import pytest

from kubesim import SimFleet
from kubesim.workloads import seed_cluster
from tests.support.fixtures import schemas  # noqa: F401  (fixture)

from .support import Agents, start_hub, stop_hub





@pytest.fixture
def make_hub(tmp_path):
    """Start hubs (``make_hub(**settings)``); all are stopped after the test."""
    hubs = []

    def make(**overrides):
        hub = start_hub(tmp_path / f"hub{len(hubs)}", **overrides)
        hubs.append(hub)
        return hub

    yield make
    for hub in hubs:
        stop_hub(hub)


@pytest.fixture
def hub(make_hub):
    return make_hub()


@pytest.fixture
def fleet(tmp_path, schemas):
    """Two simulated member clusters on their own networks, each with an east-west gateway."""

    def seed(started):
        for index, sim in enumerate(started, start=1):
            seed_cluster(sim, f"net-{index}", "us-east", ["us-east-1a"], 0)

    sims = SimFleet(2, tmp_path / "fleet", schemas=schemas).start(before_ready=seed)
    try:
        yield sims
    finally:
        sims.stop()


@pytest.fixture
def agents(tmp_path):
    started = Agents(tmp_path / "vms")
    started.root.mkdir()
    try:
        yield started
    finally:
        started.cleanup()


@pytest.fixture
def openssl():
    path = shutil.which("openssl")
    if path is None:
        pytest.skip("the openssl binary is not on PATH")
    return path
