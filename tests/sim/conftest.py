"""Fixtures for the simulated-cluster tests: schemas, a running cluster, clients, kubectl."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import kubernetes
import pytest

from kubesim import SimCluster
from tests.support import crd_schemas, shared_dir as find_shared_dir

from .helpers import kubectl_runner



def _sim_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name.startswith("sim-")}


@pytest.fixture(autouse=True)
def no_leftover_sim_threads():
    """Every test must stop what it started: no simulator thread may outlive it."""
    before = _sim_threads()
    yield
    deadline = time.monotonic() + 5.0
    while (_sim_threads() - before) and time.monotonic() < deadline:
        time.sleep(0.05)
    leftover = _sim_threads() - before
    assert not leftover, f"simulator threads left running: {sorted(t.name for t in leftover)}"


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    return find_shared_dir()


@pytest.fixture(scope="session")
def schemas():
    return crd_schemas()


@pytest.fixture
def cluster(schemas):
    """A running cluster that validates custom kinds, with fast bookmarks and a short history."""
    sim = SimCluster("sim-test", schemas=schemas, bookmark_interval=0.3, history=50).start()
    try:
        yield sim
    finally:
        assert sim.stop(timeout=5.0), "cluster did not stop within its bound"


@pytest.fixture
def plain_cluster():
    """A running cluster without CRD schemas (custom kinds unvalidated)."""
    sim = SimCluster("sim-plain", bookmark_interval=0.3, history=50).start()
    try:
        yield sim
    finally:
        assert sim.stop(timeout=5.0)


@pytest.fixture
def kubeconfig(cluster, tmp_path) -> Path:
    return cluster.write_kubeconfig(tmp_path / "kubeconfig.yaml")


@pytest.fixture
def api_client(kubeconfig):
    client = kubernetes.config.new_client_from_config(config_file=str(kubeconfig))
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def kubectl(kubeconfig, tmp_path):
    """Run the real kubectl against the cluster; returns the CompletedProcess."""
    return kubectl_runner(kubeconfig, tmp_path / "kube-cache", timeout=20.0)
