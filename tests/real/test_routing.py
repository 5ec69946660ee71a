"""What a real istiod makes of what the hub writes, asked over xDS and through its CA.

Every assertion is about the configuration istiod hands a sidecar (or the
east-west gateway), never about the hub's objects alone: endpoints of remote
services at the remote clusters' gateways with mTLS, weights as the ready
counts, listeners an unmodified pod reaches through kube-dns, SNI chains on the
gateway, priorities from a FailoverPolicy, and workload certificates chained to
the hub's root.
"""

from __future__ import annotations

import json
import subprocess
from collections import defaultdict

import pytest
import yaml
from cryptography import x509

from federation.kube.client import MERGE_PATCH
from peers.binaries import find_binaries
from peers.xds import XdsError
from peers.ca import Workload, create_certificate, published_root, request_token, verify_chain
from tests.real.conftest import GATEWAY_PORT, NS, host, outbound
from tests.support import wait_for

pytestmark = [pytest.mark.peers, pytest.mark.timeout(900)]


def patch_status(member, api_version, kind, namespace, name, status):
    """Replace an object's status through its status subresource (as a controller would)."""
    rtype = member.resource_type(api_version, kind)
    member.client.request("PATCH", rtype.path(namespace, name) + "/status",
                          body=json.dumps({"status": status}).encode(), content_type=MERGE_PATCH)


def by_address(endpoints):
    out = defaultdict(list)
    for ep in endpoints:
        out[ep.address].append(ep)
    return out


def remote_view(probe, cluster_name):
    """{address: endpoint} of one outbound cluster ({} while istiod has no such cluster);
    one endpoint per address asserted."""
    try:
        endpoints = probe.endpoints(cluster_name)
    except XdsError as exc:
        if "no cluster" not in str(exc):
            raise
        return {}
    grouped = by_address(endpoints)
    assert all(len(eps) == 1 for eps in grouped.values()), f"duplicate hosts: {endpoints}"
    return {address: eps[0] for address, eps in grouped.items()}


def pod_ips(mesh, cluster, name, namespace=NS, ready_only=True):
    return {p.ip for p in mesh.member(cluster).workload(namespace, name).pods if p.ready or not ready_only}


def test_sidecars_reach_remote_endpoints_through_the_gateway_that_has_them(mesh):
    """From cluster-3: its own pods, and one mTLS endpoint per remote cluster at that
    cluster's gateway on 15443, weighted by its ready endpoints."""
    probe = mesh.sidecar("cluster-3")
    gw1, gw2 = mesh.gateway_ip("cluster-1"), mesh.gateway_ip("cluster-2")
    local = pod_ips(mesh, "cluster-3", "reviews")

    def settled():
        view = remote_view(probe, outbound("reviews", 9080))
        return view if set(view) == local | {gw1, gw2} else None

    view = wait_for(settled, 90, "reviews endpoints in cluster-3")
    assert {(a, e.port) for a, e in view.items() if a in local} == {(a, 9080) for a in local}
    one, two = view[gw1], view[gw2]
    assert (one.port, two.port) == (GATEWAY_PORT, GATEWAY_PORT)
    assert (one.tls_mode, two.tls_mode) == ("istio", "istio")
    # weights are the ready counts behind each gateway (3 in cluster-1, 1 in cluster-2)
    assert (one.weight, two.weight) == (3, 1)
    assert (one.locality.region, one.locality.zone) == ("us-east", "us-east-1a")
    assert (two.locality.region, two.locality.zone) == ("us-east", "us-east-1c")
    # mTLS is what the sidecar uses for those endpoints
    assert probe.clusters()[outbound("reviews", 9080)].mtls_for_istio


def test_same_network_remote_cluster_is_reached_through_its_gateway_with_mtls(mesh):
    """cluster-1 and cluster-2 share net-east: still one mTLS endpoint at cluster-2's gateway."""
    probe = mesh.sidecar("cluster-1")
    gw2, gw3 = mesh.gateway_ip("cluster-2"), mesh.gateway_ip("cluster-3")
    view = wait_for(lambda: (v := remote_view(probe, outbound("reviews", 9080))) and
                    {gw2, gw3} <= set(v) and v, 90, "reviews endpoints in cluster-1")
    assert (view[gw2].tls_mode, view[gw2].port, view[gw2].weight) == ("istio", GATEWAY_PORT, 1)
    assert (view[gw3].tls_mode, view[gw3].port, view[gw3].weight) == ("istio", GATEWAY_PORT, 2)


def test_a_cluster_with_zero_ready_endpoints_gets_no_traffic_and_returns(mesh):
    probe = mesh.sidecar("cluster-3")
    gw2 = mesh.gateway_ip("cluster-2")
    wait_for(lambda: gw2 in remote_view(probe, outbound("reviews", 9080)), 90, "cluster-2 in the view")
    mesh.member("cluster-2").set_ready(NS, "reviews", 0, False)
    try:
        wait_for(lambda: gw2 not in remote_view(probe, outbound("reviews", 9080)), 60,
                 "cluster-2's gateway gone after its only pod became unready")
    finally:
        mesh.member("cluster-2").set_ready(NS, "reviews", 0, True)
    view = wait_for(lambda: remote_view(probe, outbound("reviews", 9080)).get(gw2), 60,
                    "cluster-2's gateway back")
    assert view.weight == 1


def test_an_unmodified_pod_reaches_a_service_that_runs_only_elsewhere(mesh):
    """ratings runs only in cluster-3: cluster-1 has a stub Service (what kube-dns answers
    with), a listener on its ClusterIP for the HTTP and the TCP port, and endpoints at
    cluster-3's gateway behind both."""
    stub = wait_for(lambda: mesh.member("cluster-1").get("v1", "Service", NS, "ratings"), 60, "stub Service")
    cluster_ip = stub["spec"]["clusterIP"]
    assert cluster_ip and cluster_ip != "None"
    probe = mesh.sidecar("cluster-1")
    gw3 = mesh.gateway_ip("cluster-3")
    for port in (9080, 5432):
        view = wait_for(lambda p=port: remote_view(probe, outbound("ratings", p)).get(gw3), 60,
                        f"ratings:{port} endpoints")
        assert (view.port, view.tls_mode) == (GATEWAY_PORT, "istio")
    listeners = probe.listeners()
    # HTTP ports share the 0.0.0.0_9080 listener; the TCP port gets its own on the ClusterIP
    assert f"{cluster_ip}_5432" in listeners, sorted(listeners)
    assert "0.0.0.0_9080" in listeners, sorted(listeners)


def test_named_target_port_is_mapped_onto_the_gateway(mesh):
    """details' port targets the named container port http-web: the entry must be keyed by
    that name, else istiod drops it (findServiceTargetPort)."""
    probe = mesh.sidecar("cluster-1")
    gw2 = mesh.gateway_ip("cluster-2")
    view = wait_for(lambda: remote_view(probe, outbound("details", 9080)).get(gw2), 60,
                    "details endpoint at cluster-2's gateway")
    assert (view.port, view.tls_mode, view.weight) == (GATEWAY_PORT, "istio", 2)
    # and the local pod on its container port
    assert {(e.address, e.port) for e in probe.endpoints(outbound("details", 9080))
            if e.address != gw2} == {(ip, 8080) for ip in pod_ips(mesh, "cluster-1", "details")}


def test_an_unnamed_port_is_named_on_the_stub_and_reached(mesh):
    """shop/legacy has one unnamed port, only in cluster-2: elsewhere the stub names it."""
    probe = mesh.sidecar("cluster-3", namespace="shop")
    gw2 = mesh.gateway_ip("cluster-2")
    view = wait_for(lambda: remote_view(probe, outbound("legacy", 8080, "shop")).get(gw2), 60,
                    "legacy endpoint at cluster-2's gateway")
    assert (view.port, view.tls_mode) == (GATEWAY_PORT, "istio")
    stub = mesh.member("cluster-3").get("v1", "Service", "shop", "legacy")
    assert [p["name"] for p in stub["spec"]["ports"]] == ["tcp-8080"]
    # the namespace did not exist in cluster-3: the hub created it and owns it
    namespace = mesh.member("cluster-3").get("v1", "Namespace", None, "shop")
    assert namespace["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "mesh-federation"


def test_a_headless_service_is_reported_not_federated(mesh):
    wait_for(lambda: any("stateful" in c and "headless" in c for c in mesh.status("cluster-2").conflicts),
             60, "headless stateful reported for cluster-2")
    for cluster in ("cluster-2", "cluster-3"):
        assert mesh.member(cluster).get("v1", "Service", NS, "stateful") is None
        assert not [o for o in mesh.owned(cluster, "networking.istio.io/v1", "WorkloadEntry", NS)
                    if o["metadata"]["labels"].get("federation.mesh/service-name") == "stateful"]


def test_the_eastwest_gateway_has_sni_chains_for_the_hosts_it_serves(mesh):
    router = mesh.router("cluster-2")

    def chains():
        listener = next((item for item in router.listeners().values() if item.port == GATEWAY_PORT), None)
        return listener and listener.server_names

    names = wait_for(lambda: (n := chains()) and f"outbound_.9080_._.{host('reviews')}" in n and n, 90,
                     "SNI chains on the gateway's 15443")
    for expected in (f"outbound_.9080_._.{host('details')}", "outbound_.8080_._.legacy.shop.svc.cluster.local"):
        assert expected in names, sorted(names)[:20]


def test_failover_priority_from_a_policy_reaches_the_sidecar(mesh):
    probe = mesh.sidecar("cluster-1")
    gw2, gw3 = mesh.gateway_ip("cluster-2"), mesh.gateway_ip("cluster-3")
    local = pod_ips(mesh, "cluster-1", "reviews")

    def priorities():
        view = remote_view(probe, outbound("reviews", 9080))
        if not ({gw2, gw3} | local) <= set(view):
            return None
        return {address: view[address].priority for address in view}

    # without a policy: Istio's default order, nearest locality first (zone, region, rest)
    before = wait_for(priorities, 60, "reviews endpoints in cluster-1")
    assert before[gw2] > 0 and before[gw3] > before[gw2]
    policy = {"apiVersion": "federation.mesh/v1alpha1", "kind": "FailoverPolicy",
              "metadata": {"name": "reviews", "namespace": NS},
              "spec": {"selector": {"namespace": NS, "name": "reviews"},
                       "failoverPriority": ["topology.istio.io/network", "topology.kubernetes.io/region"]}}
    mesh.hub.control.apply_resources(yaml.safe_dump(policy))
    try:
        # same network and region first (every local pod and cluster-2), the other network after
        wanted = {**{a: 0 for a in local}, gw2: 0, gw3: 1}
        wait_for(lambda: (p := priorities()) == wanted or None, 60,
                 f"priorities {wanted} from the policy (before: {before})")
    finally:
        mesh.hub.control.delete_resources(yaml.safe_dump(policy))
    wait_for(lambda: priorities() == before or None, 60, "default priorities back")


def test_a_user_wildcard_rule_is_never_shadowed_and_is_reported(mesh):
    rule = {"apiVersion": "networking.istio.io/v1", "kind": "DestinationRule",
            "metadata": {"name": "team-defaults", "namespace": "shop"},
            "spec": {"host": "*.shop.svc.cluster.local",
                     "trafficPolicy": {"connectionPool": {"tcp": {"maxConnections": 7}}}}}
    member = mesh.member("cluster-1")
    wait_for(lambda: [o for o in mesh.owned("cluster-1", "networking.istio.io/v1", "DestinationRule", "shop")],
             60, "the hub's rule for legacy in cluster-1")
    member.apply(rule)
    try:
        wait_for(lambda: not mesh.owned("cluster-1", "networking.istio.io/v1", "DestinationRule", "shop"), 60,
                 "the hub's rule withdrawn where the user's wildcard covers the host")
        wait_for(lambda: any("*.shop.svc.cluster.local" in c for c in mesh.status("cluster-1").conflicts), 30,
                 "the shadowing reported")
        assert member.get("networking.istio.io/v1", "DestinationRule", "shop", "team-defaults")[
            "spec"]["trafficPolicy"]["connectionPool"]["tcp"]["maxConnections"] == 7
    finally:
        member.delete("networking.istio.io/v1", "DestinationRule", "shop", "team-defaults")
    wait_for(lambda: mesh.owned("cluster-1", "networking.istio.io/v1", "DestinationRule", "shop"), 60,
             "the hub's rule back")


def test_workload_certificates_chain_through_each_clusters_intermediate_to_the_hub_root(mesh):
    for cluster in ("cluster-1", "cluster-2", "cluster-3"):
        member, istiod = mesh.member(cluster), mesh.istiod(cluster)
        root = mesh.hub_root(cluster)
        published = wait_for(lambda m=member: _published(m), 60, f"istio-ca-root-cert in {cluster}")
        assert root.strip() in published
        token = request_token(member.kubectl, NS, "reviews")
        issued = create_certificate(istiod.secure_address, published, token, cluster, Workload(NS, "reviews"))
        assert issued.uris == [f"spiffe://cluster.local/ns/{NS}/sa/reviews"]
        verdict = verify_chain(issued.chain, root)
        assert verdict.ok, verdict.output
        issuer = x509.load_pem_x509_certificate(issued.chain[1].encode())
        assert cluster in issuer.subject.rfc4514_string()


def _published(member) -> str:
    try:
        return published_root(member.kubectl, NS)
    except Exception:  # noqa: BLE001 - not written yet
        return ""


def test_entries_carry_the_workloads_service_account(mesh):
    entries = wait_for(lambda: [o for o in mesh.owned("cluster-3", "networking.istio.io/v1", "WorkloadEntry", NS)
                                if o["metadata"]["labels"].get("federation.mesh/service-name") == "reviews"],
                       60, "reviews entries in cluster-3")
    assert {e["spec"].get("serviceAccount") for e in entries} == {"reviews"}


def analyze(member) -> list[dict]:
    """``istioctl analyze`` of every namespace of a member: its messages."""
    proc = subprocess.run([str(find_binaries().istioctl), "analyze", "--kubeconfig", str(member.kubeconfig),
                           "-A", "--output", "yaml"], capture_output=True, text=True, timeout=180)
    # 0: nothing at the failure threshold; 79: analyzers found issues. Anything else: it did not run.
    assert proc.returncode in (0, 79), (proc.returncode, proc.stderr[-2000:])
    return yaml.safe_load(proc.stdout or "[]") or []


def test_istioctl_analyze_reports_nothing_about_the_hubs_objects(mesh):
    names = set()
    for cluster in mesh.fleet.members:
        for api, kind in (("networking.istio.io/v1", "WorkloadEntry"), ("networking.istio.io/v1", "DestinationRule"),
                          ("networking.istio.io/v1", "Gateway"), ("v1", "Service")):
            names.update(o["metadata"]["name"] for o in mesh.owned(cluster, api, kind))
    assert names
    # the analyzers are live: a broken object of nobody's is reported
    broken = {"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
              "metadata": {"name": "analyze-canary", "namespace": NS},
              "spec": {"hosts": ["canary.example"], "gateways": ["no-such-gateway"],
                       "http": [{"route": [{"destination": {"host": "canary.example"}}]}]}}
    member = mesh.member("cluster-1")
    member.apply(broken)
    try:
        assert any("analyze-canary" in str(m.get("origin", "")) for m in analyze(member))
    finally:
        member.delete("networking.istio.io/v1", "VirtualService", NS, "analyze-canary")
    for cluster, member in mesh.fleet.members.items():
        about_hub = [m for m in analyze(member) if m.get("level") in ("Error", "Warning")
                     and any(name in str(m.get("origin", "")) for name in names)]
        assert about_hub == [], (cluster, about_hub)


def test_a_gateway_that_publishes_only_a_hostname_is_reached_at_its_address(mesh):
    """Cloud load balancers publish hostnames; istiod ignores hostname entries for
    Kubernetes Services, so the hub resolves the name (here ``localhost``)."""
    member = mesh.member("cluster-2")
    gateway = ("v1", "Service", "istio-system", "istio-eastwestgateway")
    original = member.get(*gateway)["status"]
    probe = mesh.sidecar("cluster-3")
    patch_status(member, *gateway, {"loadBalancer": {"ingress": [{"hostname": "localhost"}]}})
    try:
        view = wait_for(lambda: remote_view(probe, outbound("reviews", 9080)).get("127.0.0.1"), 60,
                        "cluster-2's endpoints at the resolved address")
        assert (view.port, view.tls_mode, view.weight) == (GATEWAY_PORT, "istio", 1)
        assert mesh.gateway_ip("cluster-2") not in remote_view(probe, outbound("reviews", 9080))
    finally:
        patch_status(member, *gateway, original)
    wait_for(lambda: mesh.gateway_ip("cluster-2") in remote_view(probe, outbound("reviews", 9080)), 60,
             "cluster-2's IP back")


def test_a_local_service_with_an_unnamed_port_is_reported_not_given_remote_endpoints(mesh):
    c1, c3 = mesh.member("cluster-1"), mesh.member("cluster-3")
    # cluster-1's own Service first: else the hub would import it there first with a stub
    c1.deploy("shop", "bare", [7070], [("us-east-1a", True)])
    c3.deploy("shop", "bare", [7070], [("eu-west-1a", True)])
    try:
        wait_for(lambda: any("bare.shop" in c and "unnamed" in c for c in mesh.status("cluster-1").conflicts),
                 60, "the unnamed port reported for cluster-1")
        assert not [o for o in mesh.owned("cluster-1", "networking.istio.io/v1", "WorkloadEntry", "shop")
                    if o["metadata"]["labels"].get("federation.mesh/service-name") == "bare"]
        # while cluster-2, which lacks it, gets a named stub and cluster-3's endpoints ...
        probe = mesh.sidecar("cluster-2", namespace="shop")
        both = {mesh.gateway_ip("cluster-1"), mesh.gateway_ip("cluster-3")}
        view = wait_for(lambda: (v := remote_view(probe, outbound("bare", 7070, "shop"))) and set(v) == both
                        and v, 60, "bare in cluster-2 from both clusters")
        assert {e.port for e in view.values()} == {GATEWAY_PORT}
    finally:
        c1.remove("shop", "bare")
        c3.remove("shop", "bare")


def test_rolling_a_service_out_over_the_hubs_stub_makes_it_the_clusters_own(mesh):
    """A service runs in cluster-2 only, so cluster-1 has the hub's stub; then the user
    deploys it in cluster-1 too (applying their Service over the stub). The Service is
    theirs from then on: the hub lets go of it (never deletes or reverts it), and the
    sidecar sees the local pod beside cluster-2's gateway."""
    c1, c2 = mesh.member("cluster-1"), mesh.member("cluster-2")
    c2.deploy(NS, "rollout", [("http", 9080)], [("us-east-1c", True)])
    try:
        wait_for(lambda: (s := c1.get("v1", "Service", NS, "rollout")) and
                 s["metadata"]["labels"].get("app.kubernetes.io/managed-by") == "mesh-federation", 60,
                 "the hub's stub in cluster-1")
        c1.deploy(NS, "rollout", [("http", 9080)], [("us-east-1a", True)])
        released = wait_for(lambda: (s := c1.get("v1", "Service", NS, "rollout")) and
                            "app.kubernetes.io/managed-by" not in s["metadata"].get("labels", {}) and s, 60,
                            "the stub released to the user")
        assert released["spec"]["selector"] == {"app": "rollout"}
        probe = mesh.sidecar("cluster-1")
        local = pod_ips(mesh, "cluster-1", "rollout")
        view = wait_for(lambda: (v := remote_view(probe, outbound("rollout", 9080))) and
                        set(v) == local | {mesh.gateway_ip("cluster-2")} and v, 60,
                        "local pod and cluster-2's gateway")
        assert view[mesh.gateway_ip("cluster-2")].port == GATEWAY_PORT
        assert c1.get("v1", "Service", NS, "rollout")["metadata"]["uid"] == released["metadata"]["uid"]
    finally:
        c1.remove(NS, "rollout") if (NS, "rollout") in c1.workloads else None
        c2.remove(NS, "rollout")
