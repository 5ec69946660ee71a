"""A member cluster on a real API server: bootstrap, and workloads as a kubelet and the
endpointslice controller would leave them."""

from __future__ import annotations

import pytest

from federation import errors
from federation.kube.client import ENDPOINT_SLICE, NAMESPACE, NODE, SERVICE, WORKLOAD_ENTRY, KubeClient
from federation.sources.reflecting import leading_version
from peers.errors import PeerError
from peers.member import CRD, POD, MemberCluster
from peers.workload import PortSpec, port_specs
from tests.peers.support import unique_name

pytestmark = pytest.mark.peers


@pytest.fixture(scope="module")
def member(kube_apiserver, shared_crds):
    cluster = MemberCluster(kube_apiserver, "cluster-7", network="net-east", region="us-east",
                            zones=("us-east-1a", "us-east-1b"), number=7)
    cluster.bootstrap()
    yield cluster
    cluster.close()


def pod_ready(obj: dict) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True" for c in obj["status"].get("conditions", []))


def test_bootstrap_installs_crds_network_nodes_and_the_eastwest_gateway(member):
    c = member.client
    crds = {item["metadata"]["name"] for item in c.list(CRD)["items"]}
    assert {"workloadentries.networking.istio.io", "destinationrules.networking.istio.io",
            "gateways.gateway.networking.k8s.io", "serviceexports.multicluster.x-k8s.io"} <= crds
    assert member.kubectl("get", "workloadentries", "-A", "-o", "name") == ""  # the CRD is served
    assert c.get(NAMESPACE, None, "istio-system")["metadata"]["labels"]["topology.istio.io/network"] == "net-east"
    nodes = {n["metadata"]["name"]: n["metadata"]["labels"] for n in c.list(NODE)["items"]}
    assert nodes["cluster-7-us-east-1a-0"]["topology.kubernetes.io/zone"] == "us-east-1a"
    assert nodes["cluster-7-us-east-1b-0"]["topology.kubernetes.io/region"] == "us-east"
    gw = c.get(SERVICE, "istio-system", "istio-eastwestgateway")
    assert gw["spec"]["type"] == "LoadBalancer"
    assert gw["metadata"]["labels"]["istio"] == "eastwestgateway"
    assert {p["name"]: p["port"] for p in gw["spec"]["ports"]}.items() >= {
        "tls": 15443, "tls-istiod": 15012, "status-port": 15021}.items()
    assert [i["ip"] for i in gw["status"]["loadBalancer"]["ingress"]] == ["172.18.7.10"]
    pods = c.list(POD, "istio-system", label_selector="istio=eastwestgateway")["items"]
    assert len(pods) == 1 and pod_ready(pods[0])
    assert pods[0]["metadata"]["labels"]["topology.istio.io/network"] == "net-east"


def test_deployed_service_has_ready_pods_and_an_endpoint_slice_listing_them(member):
    ns = unique_name("shop")
    w = member.deploy(ns, "reviews", ports=[("http", 9080)], pods=[("us-east-1a", True), ("us-east-1b", False)])
    pods = {p["metadata"]["name"]: p for p in member.client.list(POD, ns)["items"]}
    assert set(pods) == {"reviews-0", "reviews-1"}
    assert pod_ready(pods["reviews-0"]) and not pod_ready(pods["reviews-1"])
    assert pods["reviews-0"]["status"]["podIP"] == w.pods[0].ip and w.pods[0].ip.startswith("10.7.")
    assert pods["reviews-0"]["spec"]["nodeName"] == "cluster-7-us-east-1a-0"
    assert pods["reviews-0"]["spec"]["serviceAccountName"] == "reviews"
    slices = member.client.list(ENDPOINT_SLICE, ns, label_selector="kubernetes.io/service-name=reviews")["items"]
    assert len(slices) == 1
    s = slices[0]
    assert s["metadata"]["labels"]["endpointslice.kubernetes.io/managed-by"] == "endpointslice-controller.k8s.io"
    assert s["metadata"]["ownerReferences"][0]["uid"] == w.service_uid
    assert [(e["addresses"][0], e["conditions"]["ready"], e["zone"], e["targetRef"]["name"])
            for e in s["endpoints"]] == [(w.pods[0].ip, True, "us-east-1a", "reviews-0"),
                                         (w.pods[1].ip, False, "us-east-1b", "reviews-1")]
    assert s["ports"] == [{"name": "http", "port": 9080, "protocol": "TCP"}]

    member.set_ready(ns, "reviews", 1, True)
    s = member.client.get(ENDPOINT_SLICE, ns, w.slice_name)
    assert [e["conditions"]["ready"] for e in s["endpoints"]] == [True, True]
    assert pod_ready(member.client.get(POD, ns, "reviews-1"))

    member.scale(ns, "reviews", [("us-east-1a", True)])
    assert [p["metadata"]["name"] for p in member.client.list(POD, ns)["items"]] == ["reviews-0"]
    assert len(member.client.get(ENDPOINT_SLICE, ns, w.slice_name)["endpoints"]) == 1

    member.remove(ns, "reviews")
    assert member.client.get(SERVICE, ns, "reviews") is None
    assert member.client.list(POD, ns)["items"] == []
    assert member.client.get(ENDPOINT_SLICE, ns, w.slice_name) is None


def test_named_and_numeric_target_ports_and_headless_services(member):
    ns = unique_name("ports")
    member.deploy(ns, "ratings", ports=[("http", 80, "http-web"), ("grpc", 90, 9090)],
                  pods=[("us-east-1a", True)])
    svc = member.client.get(SERVICE, ns, "ratings")
    assert [(p["name"], p["port"], p["targetPort"]) for p in svc["spec"]["ports"]] == [
        ("http", 80, "http-web"), ("grpc", 90, 9090)]
    pod = member.client.get(POD, ns, "ratings-0")
    assert pod["spec"]["containers"][0]["ports"] == [
        {"name": "http-web", "containerPort": 80, "protocol": "TCP"}, {"containerPort": 9090, "protocol": "TCP"}]
    slice_ = member.client.get(ENDPOINT_SLICE, ns, "ratings-peers")
    assert [(p["name"], p["port"]) for p in slice_["ports"]] == [("http", 80), ("grpc", 9090)]

    member.deploy(ns, "db", ports=[5432], headless=True, service_account="database")
    svc = member.client.get(SERVICE, ns, "db")
    assert svc["spec"]["clusterIP"] == "None"
    assert member.client.get(ENDPOINT_SLICE, ns, "db-peers")["metadata"]["labels"][
        "service.kubernetes.io/headless"] == ""
    assert member.client.get(POD, ns, "db-0")["spec"]["serviceAccountName"] == "database"


def test_service_account_kubeconfig_gets_only_what_rbac_grants(member):
    ns = unique_name("rbac")
    member.deploy(ns, "hub-reader", pods=[])
    member.apply({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
                  "metadata": {"name": "services", "namespace": ns},
                  "rules": [{"apiGroups": [""], "resources": ["services"], "verbs": ["list"]}]})
    member.apply({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                  "metadata": {"name": "services", "namespace": ns},
                  "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "services"},
                  "subjects": [{"kind": "ServiceAccount", "name": "hub-reader", "namespace": ns}]})
    client = KubeClient("as-sa", member.kubeconfig_for(ns, "hub-reader"))
    try:
        names = [s["metadata"]["name"] for s in client.list(SERVICE, ns)["items"]]
        assert names == ["hub-reader"]
        with pytest.raises(errors.AuthError, match="403"):
            client.list(POD, ns)
    finally:
        client.close()


def test_apply_any_served_kind_and_bad_input_is_named(member):
    ns = unique_name("cfg")
    member.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    entry = member.apply({"apiVersion": "networking.istio.io/v1", "kind": "WorkloadEntry",
                          "metadata": {"name": "vm-1", "namespace": ns},
                          "spec": {"address": "10.200.0.1", "labels": {"app": "vm"}}})
    assert entry["spec"]["address"] == "10.200.0.1"
    with pytest.raises(PeerError, match="does not serve networking.istio.io/v1 NoSuchKind"):
        member.apply({"apiVersion": "networking.istio.io/v1", "kind": "NoSuchKind", "metadata": {"name": "x"}})
    with pytest.raises(PeerError, match="has no zone 'mars-1'"):
        member.deploy(ns, "x", pods=[("mars-1", True)])
    with pytest.raises(PeerError, match="needs a name"):
        port_specs([("", 80), ("b", 81)])
    with pytest.raises(PeerError, match=r"expected PortSpec"):
        port_specs(["http"])
    assert port_specs([PortSpec("tcp", 1)])[0].number == 1


def test_the_leading_version_of_the_real_servers_custom_resource_events_is_the_objects(member):
    """kube-apiserver writes a custom resource with its keys sorted, annotations and
    managedFields before the version: the watch's unparsed read of it still finds the
    version the write answered."""
    ns = unique_name("echo")
    member.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    start = member.client.request("GET", f"/apis/networking.istio.io/v1/namespaces/{ns}/workloadentries")
    stream = member.client.watch(WORKLOAD_ENTRY, start["metadata"]["resourceVersion"], timeout_seconds=30,
                                 field_selector=f"metadata.namespace={ns}")
    read: list[str | None] = []
    try:
        written = member.apply({"apiVersion": "networking.istio.io/v1", "kind": "WorkloadEntry",
                                "metadata": {"name": "e", "namespace": ns, "annotations": {
                                    "note": '{"metadata":{"resourceVersion":"1"}}'}},
                                "spec": {"address": "10.200.0.2", "labels": {"app": "e"}}})
        for event in stream.events(known=lambda line: read.append(leading_version(line)) or False):
            if event["type"] == "ADDED":
                break
    finally:
        stream.close()
    assert event["object"]["metadata"]["resourceVersion"] == written["metadata"]["resourceVersion"]
    assert read[-1] == written["metadata"]["resourceVersion"]
