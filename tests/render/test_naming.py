"""Object names: valid DNS-1123 labels of at most 63 characters, distinct for distinct inputs."""

from __future__ import annotations

import re

from federation.model import ClusterInfo, PortSpec, ServiceKey
from federation.model.ids import SOURCE_CLUSTER_LABEL
from federation.model.ids import is_dns_label, ref_of
from federation.render import object_hash, render_cluster, render_service
from federation.render.naming import dns_name, label_value, port_name

from .support import assert_valid, service, snapshot, vm

LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


def test_readable_names_kept_and_altered_ones_hashed():
    assert dns_name(["fed", "reviews", "cluster-a", "us-east-1a"]) == "fed-reviews-cluster-a-us-east-1a"
    altered = dns_name(["fed", "reviews", "Cluster_A", "us-east-1a"])
    assert re.fullmatch(r"fed-reviews-cluster-a-us-east-1a-[0-9a-f]{8}", altered)
    assert dns_name(["fed", "reviews", "cluster_a", "z"]) != dns_name(["fed", "reviews", "cluster.a", "z"])
    assert dns_name(["a"], force_hash=True) != "a"


def test_long_inputs_give_valid_distinct_names():
    names = {dns_name(["fed", "s" * 63, f"cluster-{i}" * 10, "zone"]) for i in range(20)}
    assert len(names) == 20
    for name in names:
        assert is_dns_label(name)


def test_label_values_are_valid():
    assert label_value("cluster-a") == "cluster-a"
    for text in ("x" * 100, "Cluster/One", "-edge-", "___", "a b"):
        value = label_value(text)
        assert len(value) <= 63 and LABEL_VALUE.match(value), value


def test_unnamed_ports_get_protocol_and_number():
    assert port_name(PortSpec("http", 80, "HTTP")) == "http"
    assert port_name(PortSpec("", 8080, "HTTP2")) == "http2-8080"
    assert port_name(PortSpec("", 5000, "")) == "tcp-5000"


def test_rendered_names_within_limits_for_long_service_and_cluster_names():
    key = ServiceKey("n" * 63, "s" * 63)
    clusters = {
        "here": ClusterInfo("here", "net-1", "r", ("10.0.0.1",)),
        "Very_Long.Cluster" * 5: ClusterInfo("Very_Long.Cluster" * 5, "net-2", "r", ("10.0.0.2",)),
    }
    services = [service("Very_Long.Cluster" * 5, key=key,
                        endpoints=[("region-" * 8 + "/" + "zone-" * 12, 1), ("r/z", 2)])]
    snap = snapshot(services, vms=[vm("VM." * 30, key=key)], clusters=clusters)
    objects = render_cluster(snap, [], "here")
    # gateway; Namespace, stub Service, 1 + 1 WorkloadEntries, DestinationRule
    assert [o["kind"] for o in objects] == [
        "Gateway", "Namespace", "Service", "WorkloadEntry", "WorkloadEntry", "DestinationRule"]
    refs = [ref_of(o) for o in objects]
    assert len(refs) == len(set(refs))
    for obj in objects:
        name = obj["metadata"]["name"]
        assert is_dns_label(name), name
        for value in obj["metadata"]["labels"].values():
            assert len(value) <= 63 and LABEL_VALUE.match(value), value
    assert_valid(objects)


def test_two_clusters_whose_names_clean_up_alike_get_distinct_entry_names():
    clusters = {
        "here": ClusterInfo("here", "net-1", "r", ("10.0.0.1",)),
        "cluster_b": ClusterInfo("cluster_b", "net-2", "r", ("10.0.0.2",)),
        "cluster.b": ClusterInfo("cluster.b", "net-2", "r", ("10.0.0.3",)),
    }
    services = [service(name, endpoints=[("r/z", 1)]) for name in ("cluster_b", "cluster.b")]
    objects = render_service(snapshot(services, clusters=clusters), ServiceKey("default", "reviews"),
                             [], "here")
    names = {o["metadata"]["name"] for o in objects if o["kind"] == "WorkloadEntry"}
    assert len(names) == 2
    for name in names:
        assert name.startswith("fed-reviews-cluster-b-") and is_dns_label(name)


def test_ref_of_and_hash():
    obj = {"apiVersion": "networking.istio.io/v1", "kind": "WorkloadEntry",
           "metadata": {"name": "x", "namespace": "default"}, "spec": {"b": 1, "a": [1, 2]}}
    assert ref_of(obj) == ("networking.istio.io/v1", "WorkloadEntry", "default", "x")
    assert ref_of({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "n"}}) == (
        "v1", "Namespace", "", "n")
    same = {"spec": {"a": [1, 2], "b": 1}, "metadata": {"namespace": "default", "name": "x"},
            "kind": "WorkloadEntry", "apiVersion": "networking.istio.io/v1"}
    assert object_hash(obj) == object_hash(same)
    assert re.fullmatch(r"[0-9a-f]{64}", object_hash(obj))
    changed = {**obj, "spec": {"a": [2, 1], "b": 1}}
    assert object_hash(changed) != object_hash(obj)
