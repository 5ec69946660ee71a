"""Fixtures: simulated member clusters over real HTTPS and watchers on them."""

from __future__ import annotations

import threading

import pytest

from federation.kube.client import KubeClient
from kubesim.cluster import SimCluster
from federation.sources.cluster_watching import ClusterWatcher
from tests.sources.support import Sink, fast_settings


def _reflector_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("reflect-") and t.is_alive()]


@pytest.fixture(autouse=True)
def no_reflector_threads_left():
    before = set(_reflector_threads())
    yield
    left = [name for name in _reflector_threads() if name not in before]
    assert not left, f"reflector threads left running: {left}"


@pytest.fixture
def make_sim():
    clusters: list[SimCluster] = []

    def make(name: str = "c1", **kwargs) -> SimCluster:
        sim = SimCluster(name, **kwargs).start()
        clusters.append(sim)
        return sim

    yield make
    for sim in clusters:
        sim.stop()


@pytest.fixture
def watch():
    """Start a ClusterWatcher on a sim cluster; returns (watcher, sink)."""
    started: list[tuple[ClusterWatcher, KubeClient]] = []

    def start(sim: SimCluster, settings=None, name: str | None = None,
              resolve=None) -> tuple[ClusterWatcher, Sink]:
        sink = Sink()
        kube = KubeClient(name or sim.name, sim.kubeconfig_dict(), timeout=5.0)
        # No test sends a DNS query: hostnames resolve only through ``resolve``.
        watcher = ClusterWatcher(name or sim.name, kube, settings or fast_settings(),
                                 emit=sink.emit, on_state=sink.on_state,
                                 resolve=resolve or (lambda host: ()))
        started.append((watcher, kube))
        watcher.start()
        return watcher, sink

    yield start
    for watcher, kube in started:
        assert watcher.stop(), "watcher threads did not stop in time"
        kube.close()
