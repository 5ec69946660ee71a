"""Pytest fixtures for real peers; a conftest re-exports them
(``from tests.peers.support import real_binaries, kube_apiserver, real_fleet_factory  # noqa: F401``).

``real_binaries`` skips a test when ``make peers`` has not run, and fails it
when ``CI`` is set (CI must not silently skip its real-peer tests). One etcd
serves the whole session; every API server keeps its own prefix in it.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

import pytest

from peers.apiserver import KubeAPIServer
from peers.binaries import PeerBinaries, find_binaries
from peers.errors import PeersMissing
from peers.etcd import EtcdProcess
from peers.fleet import MemberSpec, RealFleet
from peers.member import SHARED_DIR

_counter = iter(range(1, 1_000_000))


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def real_binaries() -> PeerBinaries:
    try:
        return find_binaries()
    except PeersMissing as exc:
        _unavailable(str(exc))
        raise  # unreachable: skip/fail raise


@pytest.fixture(scope="session")
def shared_crds() -> Path:
    if not (SHARED_DIR / "istio" / "crds.gen.yaml").is_file():
        _unavailable(f"CRD schemas not found at {SHARED_DIR} (../shared is absent in this checkout)")
    return SHARED_DIR


@pytest.fixture(scope="session")
def peers_workdir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="peers-") as tmp:
        yield Path(tmp)


@pytest.fixture(scope="session")
def peers_etcd(real_binaries: PeerBinaries, peers_workdir: Path) -> Iterator[EtcdProcess]:
    """One etcd for every real API server of the session."""
    with EtcdProcess(peers_workdir / "etcd", binary=real_binaries.etcd) as etcd:
        yield etcd


def unique_name(prefix: str = "peer") -> str:
    return f"{prefix}-{next(_counter)}"


@pytest.fixture(scope="session")
def kube_apiserver(real_binaries: PeerBinaries, peers_etcd: EtcdProcess, peers_workdir: Path
                   ) -> Iterator[KubeAPIServer]:
    """One real API server shared by the session (give each test its own namespaces)."""
    name = unique_name("shared")
    with KubeAPIServer(name, peers_workdir / name, peers_etcd.url, binary=real_binaries.kube_apiserver) as server:
        yield server


@pytest.fixture
def real_fleet_factory(real_binaries: PeerBinaries, shared_crds: Path, peers_etcd: EtcdProcess,
                       peers_workdir: Path) -> Iterator[Callable[..., RealFleet]]:
    """``factory(topology, **kwargs)`` → a started ``RealFleet`` on the session's etcd;
    every fleet is stopped when the test ends (each API server has its own etcd prefix,
    so cluster names may repeat between tests)."""
    fleets: list[RealFleet] = []

    def factory(topology: Iterable[MemberSpec | Sequence], **kwargs) -> RealFleet:
        fleet = RealFleet(peers_workdir / unique_name("fleet"), topology, etcd_url=peers_etcd.url, **kwargs)
        fleets.append(fleet)
        fleet.start()
        return fleet

    yield factory
    for fleet in reversed(fleets):
        fleet.stop()


