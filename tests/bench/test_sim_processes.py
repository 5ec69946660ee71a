"""The benchmark's fleet over worker processes: clusters dealt round-robin, seeded,
reachable over real TLS with their kubeconfigs; the counts, write counts and
arrivals the benchmark reads come back from every worker; a worker that dies
is named, and nothing is left running."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from bench.measuring import Arrival
from bench.settings import BenchConfig
from bench.sim_processes import SimProcesses
from bench.topology import HUB_OWNED, NAMESPACE, Topology
from federation import errors
from federation.kube.client import KubeClient, resource_type_of
from federation.model.ids import SERVICE_NAME_LABEL, SOURCE_CLUSTER_LABEL

HUB_LABEL = HUB_OWNED.split("=")[0]
CONFIG = BenchConfig(clusters=3, networks=2, services=4, replicas_per_service=2, endpoints=3)


@pytest.fixture
def fleet(tmp_path: Path):
    fleet = SimProcesses(CONFIG, tmp_path / "sim", "", history=1000, processes=2)
    fleet.start()
    try:
        yield fleet
    finally:
        fleet.stop()
    assert fleet._workers == []


def entry(name: str, service: str, source: str, weight: int) -> dict:
    return {"apiVersion": "networking.istio.io/v1", "kind": "WorkloadEntry",
            "metadata": {"name": name, "namespace": NAMESPACE,
                         "labels": {SERVICE_NAME_LABEL: service, SOURCE_CLUSTER_LABEL: source}},
            "spec": {"address": "172.18.1.10", "weight": weight, "ports": {"http": 15443}}}


def client(fleet: SimProcesses, name: str) -> KubeClient:
    return KubeClient(name, fleet.kubeconfig_path(name).read_text())


def test_clusters_are_dealt_round_robin_and_seeded(fleet):
    assert fleet._shares == [[1, 3], [2]]
    assert {w.proc.pid for w in fleet._workers} == {fleet._owner[n].proc.pid for n in fleet.names}
    assert fleet._owner["cluster-1"] is fleet._owner["cluster-3"] is not fleet._owner["cluster-2"]
    topology = Topology(CONFIG)
    for name in fleet.names:
        kube = client(fleet, name)
        try:
            services = kube.list(resource_type_of({"apiVersion": "v1", "kind": "Service"}), NAMESPACE)["items"]
        finally:
            kube.close()
        assert sorted(s["metadata"]["name"] for s in services) == sorted(topology.services_in(name))
    # nothing of the hub's yet
    assert fleet.counts() == {name: {"WorkloadEntry": 0, "Service": 0, "DestinationRule": 0,
                                     "Gateway.networking.istio.io": 0} for name in fleet.names}


def test_writes_and_arrivals_come_back_from_every_worker(fleet):
    seen: list[Arrival] = []
    got = threading.Condition()

    def arrived(a: Arrival) -> None:
        with got:
            seen.append(a)
            got.notify_all()

    marks = fleet.marks()
    fleet.watch(arrived)
    before = time.monotonic()
    for name, weight in (("cluster-2", 7), ("cluster-3", 9)):  # one in each worker
        kube = client(fleet, name)
        try:
            kube.apply(resource_type_of(entry("we-1", "svc-0", "cluster-1", 1)),
                       entry("we-1", "svc-0", "cluster-1", weight), "mesh-federation")
        finally:
            kube.close()
    after = time.monotonic()
    with got:
        assert got.wait_for(lambda: len(seen) >= 2, timeout=10.0)
    fleet.unwatch()
    assert sorted((a.cluster, a.service, a.source, a.weight) for a in seen) == [
        ("cluster-2", "svc-0", "cluster-1", 7), ("cluster-3", "svc-0", "cluster-1", 9)]
    # timed where stored, on the clock this process reads
    assert all(before <= a.at <= after for a in seen)

    counted = fleet.writes_since(marks)
    assert counted["committed"] == 2 and counted["write_requests"] == 2
    assert counted["by_kind"] == {"WorkloadEntry.networking.istio.io": 2}
    assert fleet.counts()["cluster-2"]["WorkloadEntry"] == 1

    fleet.set_endpoints("cluster-1", "svc-0", 2)  # in-process, not a request
    counted = fleet.writes_since(marks)
    assert counted["committed"] == 3 and counted["write_requests"] == 2
    assert counted["by_kind"]["EndpointSlice.discovery.k8s.io"] == 1
    kube = client(fleet, "cluster-1")
    try:
        [slice_] = kube.list(resource_type_of({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice"}),
                             NAMESPACE, label_selector="kubernetes.io/service-name=svc-0")["items"]
    finally:
        kube.close()
    assert [e["conditions"]["ready"] for e in slice_["endpoints"]] == [False, False, True]


def test_counts_follow_the_hubs_objects_as_they_come_and_go(fleet):
    kube = client(fleet, "cluster-3")
    service = resource_type_of({"apiVersion": "v1", "kind": "Service"})
    we = resource_type_of(entry("we-1", "svc-0", "cluster-1", 1))
    try:
        for name, labels in (("stub", {HUB_LABEL: "mesh-federation"}), ("users", {"app": "x"})):
            kube.apply(service, {"apiVersion": "v1", "kind": "Service",
                                 "metadata": {"name": name, "namespace": NAMESPACE, "labels": labels},
                                 "spec": {"ports": [{"port": 80}]}}, "mesh-federation")
        for i in range(3):
            kube.apply(we, entry(f"we-{i}", "svc-0", "cluster-1", 1), "mesh-federation")
        assert fleet.counts()["cluster-3"] == {"WorkloadEntry": 3, "Service": 1, "DestinationRule": 0,
                                               "Gateway.networking.istio.io": 0}
        kube.delete(we, NAMESPACE, "we-1")
        kube.delete(service, NAMESPACE, "stub")
        kube.delete(service, NAMESPACE, "users")
        kube.apply(we, entry("we-2", "svc-0", "cluster-1", 5), "mesh-federation")  # a change counts once
    finally:
        kube.close()
    assert fleet.counts()["cluster-3"] == {"WorkloadEntry": 2, "Service": 0, "DestinationRule": 0,
                                           "Gateway.networking.istio.io": 0}
    assert fleet.counts()["cluster-1"]["WorkloadEntry"] == 0


def test_the_floor_target_carries_the_clusters_address_and_credentials(fleet):
    target = fleet.floor_target("cluster-2")
    assert target.cluster == "cluster-2" and target.url.startswith("https://127.0.")
    assert target.bodies == []  # no hub-owned WorkloadEntry there
    assert target.token in fleet.kubeconfig_path("cluster-2").read_text()


def test_a_worker_that_dies_is_named(fleet):
    worker = fleet._owner["cluster-2"]
    worker.proc.kill()
    worker.proc.join(10.0)
    with pytest.raises(errors.FederationError, match=r"worker 1 \(clusters \[2\]\) .*asked counts.*exit status -9"):
        fleet.counts()


def test_too_few_processes_are_refused(tmp_path: Path):
    with pytest.raises(errors.ConfigError, match="at least 1 process"):
        SimProcesses(CONFIG, tmp_path, "", history=1000, processes=0)
