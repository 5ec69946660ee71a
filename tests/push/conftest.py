"""Fixtures: simulated member clusters over real HTTPS, clients and pushers on them."""

from __future__ import annotations

import threading
import time

import pytest

from federation.kube.client import KubeClient
from federation.push import ClusterPusher, PushFleet
from kubesim import SimCluster
from tests.push.support import FAST_RETRY
from tests.support.fixtures import schemas  # noqa: F401  (fixture)


def _push_threads() -> set[str]:
    return {t.name for t in threading.enumerate() if t.name.startswith("push-") and t.is_alive()}


@pytest.fixture(autouse=True)
def no_push_threads_left():
    before = _push_threads()
    yield
    deadline = time.monotonic() + 5.0
    while (_push_threads() - before) and time.monotonic() < deadline:
        time.sleep(0.05)
    left = _push_threads() - before
    assert not left, f"pusher threads left running: {sorted(left)}"


@pytest.fixture
def make_cluster(schemas):
    """Start a simulated cluster with an istio-system namespace."""
    started: list[SimCluster] = []

    def make(name: str) -> SimCluster:
        sim = SimCluster(name, schemas=schemas).start()
        started.append(sim)
        sim.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "istio-system"}})
        return sim

    yield make
    for sim in started:
        assert sim.stop(timeout=5.0), f"simulated cluster {sim.name} did not stop"


@pytest.fixture
def make_kube():
    clients: list[KubeClient] = []

    def make(sim: SimCluster) -> KubeClient:
        kube = KubeClient(sim.name, sim.kubeconfig_dict(), timeout=2.0)
        clients.append(kube)
        return kube

    yield make
    for kube in clients:
        kube.close()


@pytest.fixture
def make_pusher(make_kube):
    """Start a ClusterPusher on a simulated cluster; every one is stopped (and
    must stop in time) at the end of the test."""
    pushers: list[ClusterPusher] = []

    def make(sim: SimCluster, **kwargs) -> ClusterPusher:
        kwargs.setdefault("retry", FAST_RETRY)
        pusher = ClusterPusher(sim.name, make_kube(sim), **kwargs)
        pushers.append(pusher)
        pusher.start()
        return pusher

    yield make
    for pusher in pushers:
        assert pusher.stop(timeout=5.0), f"pusher of {pusher.cluster} did not stop"


@pytest.fixture
def fleet():
    fleet = PushFleet(retry=FAST_RETRY)
    yield fleet
    assert fleet.stop_all(timeout=5.0)
