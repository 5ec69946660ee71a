"""Fixtures: simulated member clusters over real HTTPS, hubs with their admin API
over real TLS, readers of the clusters' cacerts, openssl, and a thread-leak check."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from federation.serving import prepare_workdir
from kubesim import SimFleet
from kubesim.workloads import istio_system_namespace
from tests.trust.helpers import OpenSSL

from .support import Readers, RootPublisher, start_hub

FLEET_SIZE = 4  # three registered at once, one to register later




@pytest.fixture(autouse=True)
def restore_logging():
    """``federation.cli.main`` configures the root logger; put it back after each test."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level,
             {n: logging.getLogger(n).level for n in ("urllib3", "kubernetes", "grpc")})
    yield
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])
    for name, level in saved[2].items():
        logging.getLogger(name).setLevel(level)


@pytest.fixture
def wd(tmp_path):
    return prepare_workdir(tmp_path / "hub", hosts=["127.0.0.1", "localhost"])


@pytest.fixture
def fleet(tmp_path):
    """Simulated members with ``istio-system`` (where istiod and its cacerts live)."""
    with SimFleet(FLEET_SIZE, tmp_path / "fleet") as running:
        for cluster in running:
            cluster.create(istio_system_namespace("network-1"))
        yield running


@pytest.fixture(autouse=True)
def roots(fleet):
    """Every member's roots published as its istiod would (``roots.hold(name)`` stops it)."""
    publisher = RootPublisher(fleet)
    yield publisher
    publisher.close()


@pytest.fixture
def readers(fleet):
    r = Readers(fleet)
    yield r
    r.close()


@pytest.fixture
def hubs(wd, fleet):
    """``hubs(**settings)`` starts a hub; every hub started is stopped at the end,
    before the fleet it talks to."""
    started = []

    def start(**settings):
        hub = start_hub(wd, **settings)
        started.append(hub)
        return hub

    yield start
    for hub in reversed(started):
        hub.stop()


@pytest.fixture
def hub(hubs, fleet):
    """A hub (memory store) with the first three sim clusters registered."""
    running = hubs()
    running.register(fleet, "cluster-1", "cluster-2", "cluster-3")
    return running


@pytest.fixture
def openssl():
    if shutil.which("openssl") is None:
        reason = "the openssl binary is not on PATH"
        if os.environ.get("CI"):
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    workdir = Path(tempfile.mkdtemp(prefix="trust-it-openssl-"))
    try:
        yield OpenSSL(workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
