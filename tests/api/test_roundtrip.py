"""Every Admin call round-trips through a real TLS gRPC server into the hub and back."""

import pytest
import yaml

from federation import errors

from federation.api.control import ClusterEndpoints, ClusterStatus, HubStatus, RegisteredCluster, ServiceRow

KUBECONFIG = """
apiVersion: v1
kind: Config
clusters:
- name: east
  cluster: {server: "https://10.0.0.1:6443"}
"""

POLICY = """
apiVersion: federation.mesh/v1alpha1
kind: FailoverPolicy
metadata: {name: reviews, namespace: default}
spec: {failover: [{from: us-east, to: us-west}]}
---
apiVersion: federation.mesh/v1alpha1
kind: FailoverPolicy
metadata: {name: ratings, namespace: default}
spec: {failover: []}
"""


def test_register_cluster_returns_record_without_credentials(client, fake):
    record = client.register_cluster("east", KUBECONFIG, network="net-east", region="us-east")
    assert record == RegisteredCluster("east", "net-east", "us-east", "https://10.0.0.1:6443",
                                   "connecting", ("192.0.2.10",))
    assert fake.calls == ["add_cluster"]


def test_list_and_remove_clusters(client):
    client.register_cluster("west", KUBECONFIG, network="net-west")
    client.register_cluster("east", KUBECONFIG)
    assert [c.name for c in client.list_clusters()] == ["east", "west"]
    assert client.remove_cluster("west").state == "removed"
    assert [c.name for c in client.list_clusters()] == ["east"]


def test_list_services_carries_localities_and_counts(client):
    client.register_cluster("east", KUBECONFIG, network="net-east", region="us-east")
    assert client.list_services() == [ServiceRow("default", "reviews", (
        ClusterEndpoints("east", "net-east", 3, {"us-east/zone-a": 2, "us-east/zone-b": 1}, False),
    ))]


def test_status_carries_cluster_sync_state_and_timestamp(client):
    client.register_cluster("east", KUBECONFIG, network="net-east", region="us-east")
    assert client.status() == HubStatus("0.1.0", "memory", (
        ClusterStatus("east", "net-east", "us-east", "connecting", synced=True, last_push=1700000000.25,
                      objects=4, error="", stale=False, conflicts=("DestinationRule default/reviews",)),
    ), federated_services=1, snapshot_version=7)


def test_status_of_never_pushed_cluster_has_no_last_push(client, fake):
    fake.status = lambda: HubStatus("0.1.0", "etcd", [ClusterStatus("east")])
    assert client.status().clusters[0].last_push is None


def test_apply_list_and_delete_resources(client):
    assert client.apply_resources(POLICY) == [
        "FailoverPolicy default/reviews created", "FailoverPolicy default/ratings created"]
    assert client.apply_resources(POLICY)[0] == "FailoverPolicy default/reviews unchanged"
    listed = list(yaml.safe_load_all(client.list_resources("FailoverPolicy")))
    assert [d["metadata"]["name"] for d in listed] == ["ratings", "reviews"]
    assert client.delete_resources(POLICY.split("---")[1]) == ["FailoverPolicy default/ratings deleted"]
    assert client.delete_resources(kind="FailoverPolicy", namespace="default", name="reviews") == [
        "FailoverPolicy default/reviews deleted"]
    assert client.list_resources() == ""


def test_render_returns_yaml_for_cluster(client):
    client.register_cluster("east", KUBECONFIG)
    assert yaml.safe_load(client.render("east"))["metadata"]["name"] == "cross-network-gateway"


def test_cluster_labels_round_trip_and_change_in_place(client, fake):
    record = client.register_cluster("east", KUBECONFIG, labels={"env": "prod", "tier": "gold"})
    assert record.labels == {"env": "prod", "tier": "gold"}
    assert client.list_clusters()[0].labels == {"env": "prod", "tier": "gold"}
    changed = client.label_cluster("east", {"env": "dev"}, remove=["tier"])
    assert changed.labels == {"env": "dev"} and client.list_clusters()[0].labels == {"env": "dev"}
    assert fake.calls == ["add_cluster", "list_clusters", "label_cluster", "list_clusters"]


def test_label_cluster_without_labels_or_keys_to_remove_is_refused(client, fake):
    client.register_cluster("east", KUBECONFIG)
    with pytest.raises(errors.ValidationError, match="give at least one label to set or remove"):
        client.label_cluster("east", {})
    assert "label_cluster" not in fake.calls


def test_list_services_carries_where_each_is_exported_from_and_imported_to(client, fake):
    row = ServiceRow("default", "reviews", (ClusterEndpoints("east", "net-east", 3),), exported_from=("east",),
                     imported_to=("west",), import_selectors=("east: env=prod",))
    fake.list_services = lambda: [row]
    assert client.list_services() == [row]
