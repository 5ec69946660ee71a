"""The hub federating three real member clusters, each with its own istiod.

cluster-1 and cluster-2 are on network ``net-east`` in region ``us-east``,
cluster-3 on ``net-west`` in ``eu-west``. Each member is a real kube-apiserver
(RBAC on), registered with a kubeconfig made by ``make_member_kubeconfig`` after
``kubectl apply -k deploy/member``, so the hub works with exactly the member
permissions a user grants. Each istiod reads only its own cluster and plugs in
the ``cacerts`` the hub writes; the tests ask it over xDS and through its CA.

Workloads (namespace ``bookinfo`` unless said otherwise):

* ``reviews`` (port http 9080): cluster-1 two ready pods in us-east-1a and one in
  us-east-1b, cluster-2 one pod, cluster-3 two pods;
* ``details``: cluster-1 and cluster-2, its port's targetPort is the named
  container port ``http-web``;
* ``ratings``: only in cluster-3, an HTTP port and a TCP port;
* ``shop/legacy``: a single unnamed port, only in cluster-2;
* ``stateful``: a headless Service, only in cluster-1.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from federation.kube.member_access import make_member_kubeconfig
from federation.serving import HubService, prepare_workdir
from federation.settings import HubSettings
from federation.trust.client import TrustClient
from peers.fleet import RealFleet
from peers.passthrough import Passthrough
from peers.workload import PortSpec as PeerPort
from peers.xds import Locality, Proxy, XdsProbe
from tests.peers.support import (  # noqa: F401  (fixtures)
    peers_etcd, peers_workdir, real_binaries, shared_crds, unique_name,
)
from tests.support import wait_for

ROOT = Path(__file__).resolve().parents[2]
NS = "bookinfo"
TOPOLOGY = [
    ("cluster-1", "net-east", "us-east", ("us-east-1a", "us-east-1b")),
    ("cluster-2", "net-east", "us-east", ("us-east-1c",)),
    ("cluster-3", "net-west", "eu-west", ("eu-west-1a",)),
]
NETWORK = {name: network for name, network, _, _ in TOPOLOGY}
REGION = {name: region for name, _, region, _ in TOPOLOGY}
ZONES = {name: zones for name, _, _, zones in TOPOLOGY}
GATEWAY_PORT = 15443
MANAGED = "app.kubernetes.io/managed-by=mesh-federation"


def host(name: str, namespace: str = NS) -> str:
    return f"{name}.{namespace}.svc.cluster.local"


def outbound(name: str, port: int, namespace: str = NS) -> str:
    return f"outbound|{port}||{host(name, namespace)}"


@dataclass
class Mesh:
    fleet: RealFleet
    hub: HubService
    trust: TrustClient
    workdir: Path
    probes: list = field(default_factory=list)
    # per member, the east-west gateway's passthrough to istiod's 15012 (registered as --istiod-ca)
    gateways: dict[str, Passthrough] = field(default_factory=dict)

    def hub_root(self, cluster: str) -> str:
        """The mesh root as the hub wrote it into ``cluster`` (``cacerts``' root-cert.pem)."""
        secret = self.member(cluster).get("v1", "Secret", "istio-system", "cacerts")
        return base64.b64decode(secret["data"]["root-cert.pem"]).decode()

    def member(self, name: str):
        return self.fleet.members[name]

    def istiod(self, name: str):
        return self.fleet.istiods[name]

    def gateway_ip(self, name: str) -> str:
        return self.member(name).gateway_address

    def sidecar(self, cluster: str, namespace: str = NS, zone: str | None = None, **kw) -> XdsProbe:
        """An xDS probe posing as a sidecar of ``namespace`` in ``cluster``."""
        proxy = Proxy(kind="sidecar", namespace=namespace, cluster_id=cluster, network=NETWORK[cluster],
                      locality=Locality(REGION[cluster], zone or ZONES[cluster][0]),
                      ip=f"10.250.{cluster[-1]}.{len(self.probes) + 1}", labels={"app": "probe"},
                      name=f"probe-{len(self.probes) + 1}", **kw)
        probe = XdsProbe(self.istiod(cluster).xds_address, proxy, timeout=15.0)
        self.probes.append(probe)
        return probe

    def router(self, cluster: str) -> XdsProbe:
        probe = XdsProbe(self.istiod(cluster).xds_address,
                         Proxy.eastwest_gateway(cluster, NETWORK[cluster], ip=f"10.251.{cluster[-1]}.1"),
                         timeout=15.0)
        self.probes.append(probe)
        return probe

    def owned(self, cluster: str, api_version: str, kind: str, namespace: str | None = None) -> list[dict]:
        member = self.member(cluster)
        rtype = member.resource_type(api_version, kind)
        return member.client.list(rtype, namespace=namespace, label_selector=MANAGED).get("items", [])

    def status(self, cluster: str):
        return {c.name: c for c in self.hub.control.status().clusters}[cluster]


def deploy_workloads(fleet: RealFleet) -> None:
    c1, c2, c3 = (fleet.members[n] for n in ("cluster-1", "cluster-2", "cluster-3"))
    http = [("http", 9080)]
    c1.deploy(NS, "reviews", http, [("us-east-1a", True), ("us-east-1a", True), ("us-east-1b", True)])
    c2.deploy(NS, "reviews", http, [("us-east-1c", True)])
    c3.deploy(NS, "reviews", http, [("eu-west-1a", True), ("eu-west-1a", True)])
    named = [PeerPort("http", 9080, target_port="http-web", container_port=8080)]
    c1.deploy(NS, "details", named, [("us-east-1a", True)])
    c2.deploy(NS, "details", named, [("us-east-1c", True), ("us-east-1c", True)])
    c3.deploy(NS, "ratings", [("http", 9080), ("tcp-db", 5432)], [("eu-west-1a", True)])
    c2.deploy("shop", "legacy", [8080], [("us-east-1c", True)])
    c1.deploy(NS, "stateful", http, [("us-east-1a", True)], headless=True)


def register(hub: HubService, fleet: RealFleet, workdir: Path,
             gateways: dict[str, Passthrough] | None = None,
             labels: dict[str, dict[str, str]] | None = None) -> None:
    """What a user does per member: grant the hub least privilege, issue its kubeconfig, add it
    (with the address of its istiod's 15012 behind ``gateways``, and its ``labels``, when given)."""
    for name, member in fleet.members.items():
        member.kubectl("apply", "-k", str(ROOT / "deploy" / "member"))
        kubeconfig = make_member_kubeconfig(context=name, kubeconfig_path=member.kubeconfig,
                                            duration_seconds=3600)
        assert "client-key-data" not in kubeconfig  # the hub holds a token, not the admin's key
        hub.control.add_cluster(name, kubeconfig,
                                istiod_ca=gateways[name].address if gateways else "",
                                labels=(labels or {}).get(name))


def all_synced(hub: HubService):
    """True once every member is synced with nothing failing; else what each one says."""
    clusters = hub.control.status().clusters
    if len(clusters) == len(TOPOLOGY) and all(c.synced and not c.error for c in clusters):
        return True
    return None if not clusters else _NotYet([(c.name, c.state, c.error) for c in clusters])


class _NotYet(list):
    """A falsy description of what is not there yet (for wait_for's failure message)."""

    def __bool__(self) -> bool:
        return False


@pytest.fixture(scope="module")
def mesh_labels() -> dict[str, dict[str, str]]:
    """Registration labels per member: none here; a module overrides this fixture to
    have its fleet registered with labels (``cluster add --label``)."""
    return {}


@pytest.fixture(scope="module")
def mesh(real_binaries, shared_crds, peers_etcd, peers_workdir, mesh_labels):  # noqa: F811
    workdir = peers_workdir / unique_name("mesh")
    fleet = RealFleet(workdir / "fleet", TOPOLOGY, etcd_url=peers_etcd.url)
    hub = trust = None
    gateways = {name: Passthrough() for name, _, _, _ in TOPOLOGY}
    try:
        fleet.start()
        deploy_workloads(fleet)
        wd = prepare_workdir(workdir / "hub", hosts=["127.0.0.1"])
        settings = HubSettings(store_url="memory://", listen="127.0.0.1:0", tls_cert=str(wd.cert),
                               tls_key=str(wd.key), admin_token_file=str(wd.token), kek_file=str(wd.kek),
                               debounce_quiet=0.05, debounce_max=0.5, initial_sync_timeout=10.0,
                               cluster_timeout=10.0)
        hub = HubService(settings)
        hub.start()
        trust = TrustClient(hub.api.address, ca_file=wd.ca, token=wd.token.read_text().strip(), timeout=20)
        register(hub, fleet, workdir, gateways, labels=mesh_labels)
        trust.init_root()
        wait_for(lambda: all_synced(hub), 90, "every member synced")
        for name, istiod in fleet.start_istiods(wait_for_cacerts=True).items():
            gateways[name].point_at(istiod.secure_address)
        m = Mesh(fleet, hub, trust, workdir, gateways=gateways)
        yield m
        for probe in m.probes:
            probe.close()
    finally:
        if trust is not None:
            trust.close()
        if hub is not None:
            hub.stop()
        fleet.stop()
        for gateway in gateways.values():
            gateway.close()
