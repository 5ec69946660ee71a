"""Pure derivations from raw objects: protocols, ports, endpoints, gateways, rule hosts."""

from __future__ import annotations

import pytest

from federation import errors
from federation.model.ids import PortSpec
from federation.sources import deriving
from federation.sources.settings import SourceSettings
from tests.sources.support import destination_rule, endpoint, endpoint_slice, gateway_service, service


@pytest.mark.parametrize("port, protocol", [
    ({"name": "http"}, "HTTP"),
    ({"name": "http-web"}, "HTTP"),
    ({"name": "http2-x"}, "HTTP2"),
    ({"name": "grpc"}, "GRPC"),
    ({"name": "grpc-web"}, "GRPC-Web"),
    ({"name": "https-admin"}, "HTTPS"),
    ({"name": "tls"}, "TLS"),
    ({"name": "tcp-db"}, "TCP"),
    ({"name": "mongo"}, "MONGO"),
    ({"name": "web"}, "TCP"),
    ({"name": ""}, "TCP"),
    ({"name": "web", "appProtocol": "grpc"}, "GRPC"),
    ({"name": "http", "appProtocol": "kubernetes.io/h2c"}, "HTTP2"),
    ({"name": "HTTP-Upper"}, "HTTP"),
])
def test_istio_protocol_from_app_protocol_then_name_prefix(port, protocol):
    assert deriving.istio_protocol(port) == protocol


def test_ports_are_tcp_only_sorted_with_target_port_numbers_or_names():
    svc = service("ns", "s", ports=[
        {"name": "b", "port": 90, "targetPort": "named"},
        {"name": "dns", "port": 53, "protocol": "UDP"},
        {"name": "http-a", "port": 80},
    ])
    ports = deriving.ports_of(svc)
    assert ports == (PortSpec("http-a", 80, "HTTP", 80), PortSpec("b", 90, "TCP", 0, target_name="named"))
    # the key istiod looks up in a selected WorkloadEntry's ports
    assert [p.entry_key for p in ports] == ["http-a", "named"]


def test_an_unnamed_port_keeps_no_name():
    [port] = deriving.ports_of(service("ns", "s", ports=[{"port": 8080, "targetPort": 80}]))
    assert (port.name, port.entry_key, port.target_port) == ("", "", 80)


def test_headless_and_hub_owned_services_are_recognised():
    svc = service("ns", "s", ports=[{"name": "http", "port": 80}])
    assert not deriving.is_headless(svc) and not deriving.is_hub_owned(svc)
    svc["spec"]["clusterIP"] = "None"
    svc["metadata"]["labels"] = {"app.kubernetes.io/managed-by": "mesh-federation"}
    assert deriving.is_headless(svc) and deriving.is_hub_owned(svc)


def test_a_slim_pod_keeps_identity_and_service_account_only():
    pod = {"metadata": {"name": "p", "namespace": "ns", "resourceVersion": "7", "labels": {"a": "b"}},
           "spec": {"serviceAccountName": "reviews", "containers": [{"name": "c"}]},
           "status": {"podIP": "10.0.0.1"}}
    assert deriving.slim_pod(pod) == {
        "metadata": {"name": "p", "namespace": "ns", "resourceVersion": "7"},
        "spec": {"serviceAccountName": "reviews"}}


def test_slice_endpoints_treat_missing_ready_as_ready_and_identify_pods():
    refs = deriving.slice_endpoints(endpoint_slice("ns", "s-1", "s", [
        endpoint("10.0.0.1", "n1", ready=None, pod="p1"),
        endpoint("10.0.0.2", zone="z", ready=False),
    ]))
    assert [(r.identity, r.node, r.zone, r.ready) for r in refs] == [
        ("Pod//p1", "n1", "", True), ("10.0.0.2", "", "z", False)]


def test_gateway_addresses_prefer_load_balancer_ingress():
    gw = gateway_service(external_ips=["198.51.100.1"])
    assert deriving.gateway_addresses(gw) == ["198.51.100.1"]
    gw["status"] = {"loadBalancer": {"ingress": [{"hostname": "gw.example"}, {"ip": "203.0.113.1"}]}}
    assert deriving.gateway_addresses(gw) == ["gw.example", "203.0.113.1"]
    assert deriving.gateway_port(gw) == 15443
    assert deriving.is_eastwest_gateway(gw)


def test_destination_rule_hosts_resolve_short_names_in_the_rule_namespace():
    assert deriving.destination_rule_host(destination_rule("shop", "r", "reviews"), "cluster.local") == \
        "reviews.shop.svc.cluster.local"
    assert deriving.destination_rule_host(destination_rule("shop", "r", "a.b.svc.cluster.local"),
                                          "cluster.local") == "a.b.svc.cluster.local"
    assert deriving.is_user_owned(destination_rule("shop", "r", "x"))
    assert not deriving.is_user_owned(destination_rule("shop", "r", "x", owned_by_hub=True))


def test_most_common_breaks_ties_by_name():
    assert deriving.most_common({"b": 2, "a": 2, "c": 1}) == "a"
    assert deriving.most_common({"": 5, "x": 0}) == ""


def test_settings_reject_unknown_export_modes():
    with pytest.raises(errors.ConfigError):
        SourceSettings(export_mode="everything")


def test_a_stub_service_someone_else_wrote_the_spec_of_is_taken_over():
    stub = service("ns", "s", ports=[{"name": "http", "port": 80}])
    stub["metadata"]["labels"] = {"app.kubernetes.io/managed-by": "mesh-federation"}
    stub["metadata"]["managedFields"] = [
        {"manager": "mesh-federation", "operation": "Apply", "fieldsV1": {"f:spec": {"f:selector": {}}}}]
    assert not deriving.taken_over(stub)
    stub["metadata"]["managedFields"].append(
        {"manager": "kube-controller-manager", "operation": "Update", "fieldsV1": {"f:status": {}}})
    assert not deriving.taken_over(stub)  # status only: a controller, not a user
    stub["metadata"]["managedFields"].append(
        {"manager": "kubectl-client-side-apply", "operation": "Update", "fieldsV1": {"f:spec": {"f:ports": {}}}})
    assert deriving.taken_over(stub)
