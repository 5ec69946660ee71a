"""The simulated mesh: which cluster is where, which service runs where, and what
the hub must therefore write into each cluster."""

from __future__ import annotations

from bench.settings import BenchConfig
from kubesim.fleet import SimFleet
from kubesim.workloads import Endpoint, pod_address, seed_cluster, set_endpoints

NAMESPACE = "bench"
PORTS = (("http", 8080),)
WE = ("networking.istio.io/v1", "WorkloadEntry")
SERVICE = ("v1", "Service")
HUB_OWNED = "app.kubernetes.io/managed-by=mesh-federation"
# The hub's objects per cluster. Only the hub writes the Istio kinds into the
# benchmark's clusters; of the Services only its stubs carry its label.
KINDS = {
    "WorkloadEntry": WE,
    "Service": SERVICE,
    "DestinationRule": ("networking.istio.io/v1", "DestinationRule"),
    "Gateway.networking.istio.io": ("networking.istio.io/v1", "Gateway"),
}


class Topology:
    """Clusters round-robin over networks (a region per network, one zone per
    cluster); service i runs in clusters i, i+1, ... (mod N), so each service spans
    networks and every cluster runs the same number of services (± 1)."""

    def __init__(self, config: BenchConfig):
        self.clusters = [f"cluster-{i}" for i in range(1, config.clusters + 1)]
        self._index = {name: i for i, name in enumerate(self.clusters)}
        self.networks = config.networks
        self.services = [f"svc-{i}" for i in range(config.services)]
        n = len(self.clusters)
        self.placement = {svc: tuple(self.clusters[(i + k) % n] for k in range(config.replicas_per_service))
                          for i, svc in enumerate(self.services)}

    def network(self, cluster: str) -> str:
        return f"net-{self._index[cluster] % self.networks + 1}"

    def region(self, cluster: str) -> str:
        return f"region-{self._index[cluster] % self.networks + 1}"

    def zone(self, cluster: str) -> str:
        return f"zone-{self._index[cluster] + 1}"

    def services_in(self, cluster: str) -> list[str]:
        return [svc for svc in self.services if cluster in self.placement[svc]]

    def expected(self, target: str) -> dict[str, int]:
        """What the hub must write into ``target``: per service with endpoints elsewhere a
        WorkloadEntry per remote cluster (one gateway each), a DestinationRule, and a stub
        Service where the target lacks the Service; the cross-network Gateway."""
        counts = dict.fromkeys(KINDS, 0)
        for where in self.placement.values():
            remote = [c for c in where if c != target]
            if remote:
                counts["WorkloadEntry"] += len(remote)
                counts["DestinationRule"] += 1
                counts["Service"] += target not in where
        counts["Gateway.networking.istio.io"] = 1
        return counts

    def service_objects(self, target: str, service: str, live: set[str]) -> set[tuple[str, str]]:
        """The hub's objects of ``service`` in ``target`` while ``live`` clusters have ready
        endpoints: nothing without a live remote; else an entry per live remote, the rule,
        and a stub Service where the target lacks the Service."""
        remote = live - {target}
        if not remote:
            return set()
        out = {("WorkloadEntry", c) for c in remote} | {("DestinationRule", "")}
        if target not in self.placement[service]:
            out.add(("Service", ""))
        return out

    def writes_for(self, service: str, source: str, live_before: set[str], live_after: set[str]) -> int:
        """The writes a change of ``source``'s endpoints of ``service`` calls for: every object
        that appears or goes, and, when ``source`` stays live, its entry's new weight."""
        writes = 0
        for target in self.clusters:
            before = self.service_objects(target, service, live_before)
            after = self.service_objects(target, service, live_after)
            writes += len(before ^ after) + (("WorkloadEntry", source) in before & after)
        return writes

    def endpoints(self, cluster: str, count: int, not_ready: int = 0) -> list[Endpoint]:
        """``count`` endpoints on the cluster's one node; the first ``not_ready`` are not ready."""
        zone = self.zone(cluster)
        return [Endpoint(pod_address(cluster, i + 1), f"{cluster}-{zone}-0", zone, ready=i >= not_ready)
                for i in range(count)]

    def seed(self, fleet: SimFleet, endpoints: int) -> None:
        """Write every cluster's namespaces, node, gateway, Services and EndpointSlices."""
        for sim in fleet:  # all of them, or a worker's share (each keeps its number)
            name = sim.name
            seed_cluster(sim, network=self.network(name), region=self.region(name), zones=[self.zone(name)],
                         services=self.services_in(name), namespace_name=NAMESPACE, endpoints_per_service=1,
                         ports=PORTS, gateway_address=f"172.18.{self._index[name] + 1}.10")
            for svc in self.services_in(name):
                self.set_endpoints(sim, svc, self.endpoints(name, endpoints))

    @staticmethod
    def set_endpoints(sim, service: str, endpoints: list[Endpoint]) -> None:
        set_endpoints(sim, service, NAMESPACE, endpoints, ports=PORTS)
