"""The xDS and CA probes against one real member cluster and its real istiod.

One kube-apiserver and one istiod (CA plugged in from a ``cacerts`` Secret made
here) serve the whole module; each test asks istiod what it hands a sidecar or
the east-west gateway, or what its CA signs. The fast tests at the end need no
peers: how the probes fail when istiod is absent, and that ``peers/gen`` is
what ``python -m peers.protogen`` makes.
"""

from __future__ import annotations

import base64
import json
import socket
import time
from collections import Counter
from dataclasses import dataclass

import pytest

from federation.errors import AuthError
from federation.trust.cacerts import build_cacerts
from federation.trust.certificates import create_root, issue_intermediate
from peers import protogen
from peers.ca import Workload, create_certificate, published_root, request_token, verify_chain
from peers.fleet import RealFleet
from peers.member import MemberCluster
from peers.istiod import Istiod
from peers.xds import Locality, Proxy, XdsProbe, XdsRefused, XdsUnavailable, wait_until
from tests.peers.support import peers_etcd, peers_workdir, real_binaries, shared_crds  # noqa: F401  (fixtures)

CLUSTER, NETWORK, REGION, ZONES = "probes-1", "net-probes", "region-p", ("zone-a", "zone-b")
NS, SERVICE, PORT = "shop", "reviews", 9080
HOST = f"{SERVICE}.{NS}.svc.cluster.local"
OUTBOUND = f"outbound|{PORT}||{HOST}"
PUSH_TIMEOUT = 60.0  # istiod's first push after start (informers syncing) can take a while on 2 cores


@dataclass
class Probed:
    member: MemberCluster
    istiod: Istiod
    root_pem: str
    intermediate_subject: str


@pytest.fixture(scope="module")
def probed(shared_crds, peers_etcd, tmp_path_factory):  # noqa: F811
    root = create_root()
    intermediate = issue_intermediate(root, common_name=f"{CLUSTER} intermediate", now=time.time())
    cacerts = build_cacerts(intermediate_cert_pem=intermediate.cert_pem, intermediate_key_pem=intermediate.key_pem(),
                            issuer_root_pem=root.cert_pem, bundle_pems=[root.cert_pem])
    with RealFleet(tmp_path_factory.mktemp("probes"), [(CLUSTER, NETWORK, REGION, ZONES)],
                   etcd_url=peers_etcd.url) as fleet:
        member = fleet.members[CLUSTER]
        member.apply(cacerts.secret())
        # two Ready pods (one per zone) and one not Ready
        member.deploy(NS, SERVICE, ports=[("http", PORT)], pods=[("zone-a", True), ("zone-b", True),
                                                                ("zone-b", False)])
        member.apply({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "sleep", "namespace": NS}})
        fleet.start_istiods(wait_for_cacerts=True)
        yield Probed(member, fleet.istiods[CLUSTER], root.cert_pem,
                     intermediate.cert.subject.rfc4514_string())


def sidecar(probed: Probed, **kw) -> Proxy:
    kw.setdefault("labels", {"app": "sleep"})
    kw.setdefault("service_account", "sleep")
    return Proxy(namespace=NS, cluster_id=CLUSTER, network=NETWORK, locality=Locality(REGION, "zone-a"),
                 name="sleep-0", **kw)


def gateway(probed: Probed) -> Proxy:
    pod = probed.member.gateway.pods[0]  # istiod finds the gateway's Pod (and its labels) by name
    return Proxy.eastwest_gateway(CLUSTER, NETWORK, ip=pod.ip, name=pod.name,
                                  locality=Locality(REGION, pod.zone))


# -- xDS ----------------------------------------------------------------------------

@pytest.mark.peers
def test_sidecar_sees_the_deployed_services_endpoints(probed):
    pods = {p.ip: p for p in probed.member.workload(NS, SERVICE).pods}
    assert sorted(p.ready for p in pods.values()) == [False, True, True]
    with XdsProbe(probed.istiod.xds_address, sidecar(probed)) as probe:
        got = wait_until(lambda: probe.endpoints(OUTBOUND), lambda eps: {e.address for e in eps} == set(pods),
                         timeout=PUSH_TIMEOUT)
        assert got.ok, str(got)
        clusters = probe.clusters()
    per_zone = Counter(p.zone for p in pods.values())
    for ep in got.data:
        pod = pods[ep.address]
        assert ep.port == PORT, ep
        assert ep.locality == Locality(REGION, pod.zone), ep
        assert ep.locality_weight == per_zone[pod.zone], ep  # the sum of its endpoints' weights
        assert (ep.priority, ep.weight) == (0, 1), ep
        # istiod sends the not-Ready pod too, marked so that Envoy does not use it
        assert ep.health == ("HEALTHY" if pod.ready else "UNHEALTHY"), ep
        assert ep.tls_mode == "istio", ep  # the pod's security.istio.io/tlsMode label
        assert ep.metadata["istio"]["workload"] == f"{pod.name};{NS};{SERVICE};;{CLUSTER}", ep
    cluster = clusters[OUTBOUND]
    assert cluster.type == "EDS"
    assert cluster.mtls_for_istio, cluster.transport_socket_matches


@pytest.mark.peers
def test_following_eds_sees_a_pod_become_ready_when_istiod_pushes_it(probed):
    probed.member.deploy(NS, "ratings", ports=[("http", 9080)], pods=[("zone-a", False)])
    ratings = f"outbound|9080||ratings.{NS}.svc.cluster.local"
    with XdsProbe(probed.istiod.xds_address, sidecar(probed)) as probe:
        got = wait_until(lambda: probe.endpoints(ratings), lambda eps: [e.health for e in eps] == ["UNHEALTHY"],
                         timeout=PUSH_TIMEOUT)
        assert got.ok, str(got)
        flipped = time.monotonic()
        probed.member.set_ready(NS, "ratings", 0, True)
        seen = probe.follow_endpoints(ratings, lambda eps: [e.health for e in eps] == ["HEALTHY"],
                                      timeout=PUSH_TIMEOUT)
        assert seen.ok, str(seen)
        print(f"readiness flip to EDS push: {(time.monotonic() - flipped) * 1000:.0f} ms")


@pytest.mark.peers
def test_sidecar_gets_its_listeners(probed):
    with XdsProbe(probed.istiod.xds_address, sidecar(probed)) as probe:
        got = wait_until(probe.listeners, lambda ls: any(li.port == PORT for li in ls.values()),
                         timeout=PUSH_TIMEOUT)
    assert got.ok, str(got)
    by_name = got.data
    assert by_name["virtualOutbound"].port == 15001
    assert by_name["virtualInbound"].port == 15006
    assert by_name["virtualInbound"].filter_chains


@pytest.mark.peers
def test_gateway_gets_auto_passthrough_listener_once_a_gateway_is_applied(probed):
    with XdsProbe(probed.istiod.xds_address, gateway(probed)) as probe:
        before = wait_until(probe.listeners, lambda ls: True, timeout=PUSH_TIMEOUT)
        assert before.ok, str(before)
        assert not [li for li in before.data.values() if li.port == 15443], before.data
        probed.member.apply({
            "apiVersion": "networking.istio.io/v1", "kind": "Gateway",
            "metadata": {"name": "cross-network-gateway", "namespace": "istio-system"},
            "spec": {"selector": {"istio": "eastwestgateway"}, "servers": [{
                "port": {"number": 15443, "name": "tls", "protocol": "TLS"},
                "tls": {"mode": "AUTO_PASSTHROUGH"}, "hosts": ["*.local"]}]},
        })
        got = wait_until(probe.listeners,
                         lambda ls: any(li.port == 15443 and any(HOST in n for n in li.server_names)
                                        for li in ls.values()),
                         timeout=PUSH_TIMEOUT)
        clusters = probe.clusters()
    assert got.ok, str(got)
    listener = next(li for li in got.data.values() if li.port == 15443)
    sni = f"outbound_.{PORT}_._.{HOST}"  # AUTO_PASSTHROUGH: the SNI names the service and port
    chains = [c for c in listener.filter_chains if sni in c.server_names]
    assert len(chains) == 1, listener
    # only Istio mTLS (ALPN "istio") is passed through, to the SNI-DNAT cluster by TCP proxy
    assert "istio" in chains[0].application_protocols, chains[0]
    assert "envoy.filters.network.tcp_proxy" in chains[0].filters, chains[0]
    assert sni in clusters, sorted(clusters)


@pytest.mark.peers
def test_following_lds_ends_with_the_last_data_when_the_condition_never_holds(probed):
    with XdsProbe(probed.istiod.xds_address, sidecar(probed)) as probe:
        seen = probe.follow_listeners(lambda ls: "no-such-listener" in ls, timeout=2.0)
    assert not seen.ok and seen.attempts >= 1, str(seen)
    assert "virtualOutbound" in seen.data and "within 2.0s" in seen.error, str(seen)


@pytest.mark.peers
def test_dns_resolved_cluster_endpoints_come_from_its_load_assignment(probed):
    host = "payments.example.com"
    probed.member.apply({
        "apiVersion": "networking.istio.io/v1", "kind": "ServiceEntry",
        "metadata": {"name": "payments", "namespace": NS},
        "spec": {"hosts": [host], "location": "MESH_INTERNAL", "resolution": "DNS",
                 "ports": [{"number": 8443, "name": "tls", "protocol": "TLS"}],
                 "endpoints": [{"address": "gw.payments.example.com", "locality": f"{REGION}/zone-b",
                                "labels": {"security.istio.io/tlsMode": "istio"}}]},
    })
    name = f"outbound|8443||{host}"
    with XdsProbe(probed.istiod.xds_address, sidecar(probed)) as probe:
        got = wait_until(lambda: probe.endpoints(name), lambda eps: len(eps) == 1, timeout=PUSH_TIMEOUT)
        assert got.ok, str(got)
        cluster = probe.clusters()[name]
    assert cluster.type == "STRICT_DNS", cluster
    (ep,) = got.data
    assert (ep.address, ep.port, ep.locality) == ("gw.payments.example.com", 8443, Locality(REGION, "zone-b")), ep
    assert ep.tls_mode == "istio", ep


@pytest.mark.peers
def test_dns_table_of_a_dns_capture_proxy_names_the_service(probed):
    service = probed.member.kubectl("get", "service", SERVICE, "-n", NS, "-o", "json")
    cluster_ip = json.loads(service)["spec"]["clusterIP"]
    with XdsProbe(probed.istiod.xds_address, sidecar(probed, dns_capture=True)) as probe:
        got = wait_until(probe.dns_table, lambda table: HOST in table, timeout=PUSH_TIMEOUT)
    assert got.ok, str(got)
    info = got.data[HOST]
    assert info.ips == (cluster_ip,), info
    assert (info.registry, info.shortname, info.namespace) == ("Kubernetes", SERVICE, NS), info


@pytest.mark.peers
def test_dns_table_needs_dns_capture(probed):
    with XdsProbe(probed.istiod.xds_address, sidecar(probed)) as probe:
        with pytest.raises(ValueError, match="dns_capture=True"):
            probe.dns_table()


# -- CA -------------------------------------------------------------------------------

def istiod_root(probed: Probed) -> str:
    got = wait_until(lambda: published_root(probed.member.kubectl), lambda root: bool(root), timeout=PUSH_TIMEOUT)
    assert got.ok, str(got)
    return got.data


@pytest.mark.peers
def test_ca_signs_a_chain_openssl_accepts_against_the_mesh_root(probed):
    root = istiod_root(probed)
    assert root.strip() == probed.root_pem.strip()  # istiod publishes the plugged-in mesh root
    token = request_token(probed.member.kubectl, NS, SERVICE)
    issued = create_certificate(probed.istiod.secure_address, root, token, CLUSTER, Workload(NS, SERVICE))
    assert issued.uris == [f"spiffe://cluster.local/ns/{NS}/sa/{SERVICE}"]
    assert issued.leaf.issuer.rfc4514_string() == probed.intermediate_subject
    verdict = verify_chain(issued.chain, probed.root_pem)
    assert verdict.ok, verdict.output
    # istiod signs the caller's identity, whatever the CSR asks for
    other = create_certificate(probed.istiod.secure_address, root, request_token(probed.member.kubectl, NS, "sleep"),
                               CLUSTER, Workload(NS, SERVICE))
    assert other.uris == [f"spiffe://cluster.local/ns/{NS}/sa/sleep"]
    # the verdict can fail: the same chain against an unrelated root
    wrong = verify_chain(issued.chain, create_root().cert_pem)
    assert not wrong.ok, wrong.output
    assert "unable to get" in wrong.output or "error" in wrong.output, wrong.output


@pytest.mark.peers
def test_ca_refuses_forged_and_absent_tokens(probed):
    root = istiod_root(probed)
    header, payload, signature = request_token(probed.member.kubectl, NS, SERVICE).split(".")
    forged_sig = base64.urlsafe_b64encode(b"\x00" * 256).decode().rstrip("=")
    for token in (f"{header}.{payload}.{forged_sig}", ""):
        with pytest.raises(AuthError, match="refused the certificate request.*UNAUTHENTICATED"):
            create_certificate(probed.istiod.secure_address, root, token, CLUSTER, Workload(NS, SERVICE))


@pytest.mark.peers
def test_secure_xds_takes_only_a_token_of_the_proxys_own_service_account(probed):
    root = istiod_root(probed)
    proxy = sidecar(probed, service_account=SERVICE)
    own = request_token(probed.member.kubectl, NS, SERVICE)
    with XdsProbe(probed.istiod.secure_address, proxy, root_pem=root, token=own) as probe:
        assert OUTBOUND in probe.clusters()
    other = request_token(probed.member.kubectl, NS, "sleep")
    for token, why in ((other, r"PERMISSION_DENIED.*sa/sleep.*matched shop/reviews"), (None, "UNAUTHENTICATED")):
        with XdsProbe(probed.istiod.secure_address, proxy, root_pem=root, token=token) as probe:
            with pytest.raises(XdsRefused, match=f"refused the xDS stream \\({why}"):
                probe.clusters()


# -- without peers --------------------------------------------------------------------

def test_xds_probe_names_an_unreachable_istiod():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{s.getsockname()[1]}"
    start = time.monotonic()
    with XdsProbe(address, Proxy(), timeout=5.0) as probe:
        with pytest.raises(XdsUnavailable, match=address):
            probe.clusters()
    assert time.monotonic() - start < 5.0


def test_wait_until_returns_the_last_data_when_the_condition_never_holds():
    asks = iter(range(1000))
    got = wait_until(lambda: next(asks), lambda n: n < 0, timeout=0.3, interval=0.05)
    assert not got.ok and got.attempts >= 2 and got.data == got.attempts - 1
    assert "did not hold" in str(got)


def test_proxy_rejects_bad_identity():
    with pytest.raises(ValueError, match="kind"):
        Proxy(kind="ingress")
    with pytest.raises(ValueError, match="not an IP"):
        Proxy(ip="pod-1")
    assert Proxy(name="p", namespace="ns", ip="10.0.0.7").node_id == "sidecar~10.0.0.7~p.ns~ns.svc.cluster.local"


def test_generated_protos_are_current():
    try:
        rendered = protogen.render()
    except protogen.ConfigError as exc:
        pytest.skip(f"Istio's module sources are absent ({exc})")
    assert rendered == protogen.read_generated(), "peers/gen is stale: run `python -m peers.protogen`"
