"""A running hub (in-process, real gRPC/TLS) with three simulated member clusters over HTTPS.

cluster-1 (net1, r1/z1) and cluster-2 (net1, r1/z2) share a network; cluster-3
is on net2 in region r2. Namespace ``shop``: ``both`` runs in cluster-1 (3 ready
endpoints) and cluster-2 (2 ready), ``solo`` only in cluster-1.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from federation.serving import HubService, prepare_workdir
from federation.settings import HubSettings
from kubesim.fleet import SimFleet
from kubesim.workloads import Endpoint, seed_cluster, set_endpoints
from federation.store.memory import MemoryStore
from tests.support import shared_dir, wait_for

NS = "shop"
TOPOLOGY = {
    "cluster-1": ("net1", "r1", ["z1"], {"both": 3, "solo": 1}),
    "cluster-2": ("net1", "r1", ["z2"], {"both": 2}),
    "cluster-3": ("net2", "r2", ["z3"], {}),
}
WE = ("networking.istio.io/v1", "WorkloadEntry")
SVC = ("v1", "Service")
DR = ("networking.istio.io/v1", "DestinationRule")
MANAGED = "app.kubernetes.io/managed-by=mesh-federation"


def sharing_replica_id(first: str) -> str:
    """A replica name that, beside ``first``, owns some but not all of the three
    clusters (names are otherwise random, and a random pair leaves one replica
    with every cluster a quarter of the time)."""
    from federation.hub.sharding import owner

    for i in range(1000):
        candidate = f"replica-{i}"
        owners = {owner(c, [first, candidate]) for c in TOPOLOGY}
        if owners == {first, candidate}:
            return candidate
    raise AssertionError(f"no replica name shares the clusters with {first!r}")


def endpoints(cluster: str, zone: str, ready: int, total: int | None = None) -> list[Endpoint]:
    total = ready if total is None else total
    return [Endpoint(f"10.{ord(cluster[-1])}.0.{i + 1}", f"{cluster}-{zone}-0", zone, ready=i < ready)
            for i in range(total)]


@dataclass
class Env:
    fleet: SimFleet
    workdir: Path
    store: MemoryStore
    service: HubService | None = None

    def sim(self, name):
        return self.fleet[name]

    def start_hub(self, **overrides) -> HubService:
        wd = prepare_workdir(self.workdir / "hub", hosts=["127.0.0.1"])
        settings = HubSettings(store_url="memory://", listen="127.0.0.1:0", tls_cert=str(wd.cert),
                               tls_key=str(wd.key), admin_token_file=str(wd.token),
                               kek_file=str(wd.kek), debounce_quiet=0.05, debounce_max=0.5,
                               initial_sync_timeout=5.0, **overrides)
        service = HubService(settings, store=self.store)  # the same store survives a "restart"
        service.start()
        self.service = service
        return service

    def stop_hub(self) -> None:
        if self.service is not None:
            self.service.stop()
            self.service = None

    def register_all(self) -> None:
        for sim in self.fleet:
            self.service.control.add_cluster(sim.name, self.fleet.kubeconfig_path(sim.name).read_text())

    def owned(self, cluster: str, kind=WE, selector: str = MANAGED) -> list[dict]:
        return self.sim(cluster).list(*kind, label_selector=selector)

    def synced(self) -> bool:
        status = self.service.control.status()
        return len(status.clusters) == len(TOPOLOGY) and all(c.synced for c in status.clusters)

    def set_ready(self, cluster: str, service: str, ready: int, total: int | None = None) -> None:
        zone = TOPOLOGY[cluster][2][0]
        set_endpoints(self.sim(cluster), service, NS, endpoints(cluster, zone, ready, total),
                      ports=(("http", 9080),))


@pytest.fixture
def env(tmp_path):
    fleet = SimFleet(len(TOPOLOGY), tmp_path / "sim", schemas_dir=shared_dir())

    def seed(f):
        for name, (network, region, zones, services) in TOPOLOGY.items():
            sim = f[name]
            seed_cluster(sim, network=network, region=region, zones=zones, services=list(services),
                         namespace_name=NS, endpoints_per_service=1, ports=(("http", 9080),))
            for svc, ready in services.items():
                set_endpoints(sim, svc, NS, endpoints(name, zones[0], ready), ports=(("http", 9080),))
            if not services:
                sim.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})

    fleet.start(before_ready=seed)
    e = Env(fleet, tmp_path, MemoryStore(prefix="/mesh-federation/"))
    try:
        yield e
    finally:
        e.stop_hub()
        fleet.stop()
        e.store.close()


@pytest.fixture
def hub(env):
    env.start_hub()
    env.register_all()
    wait_for(env.synced, what="every cluster synced")
    return env
