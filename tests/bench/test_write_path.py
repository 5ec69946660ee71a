"""The lean write path (``KubeClient.apply``): one kept-alive connection per thread,
errors mapped like every other request, a connection the server dropped replaced.
Against a simulated API server over real TLS with its bearer token."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import pytest

from federation import errors
from federation.kube.client import KubeClient, resource_type_of
from kubesim.fleet import SimFleet


def entry(weight: int) -> dict:
    return {"apiVersion": "networking.istio.io/v1", "kind": "WorkloadEntry",
            "metadata": {"name": "we-1", "namespace": "default", "labels": {"app": "x"}},
            "spec": {"address": "172.18.1.10", "weight": weight, "ports": {"http": 15443}}}


@pytest.fixture
def cluster(tmp_path: Path):
    fleet = SimFleet(1, tmp_path / "sim")
    fleet.start()
    sim = fleet.clusters[0]
    kube = KubeClient(sim.name, fleet.kubeconfig_path(sim.name).read_text())
    try:
        yield sim, kube
    finally:
        kube.close()
        fleet.stop()


def local_port(kube: KubeClient) -> int:
    return kube._writer._local.conn.sock.getsockname()[1]


def test_applies_reuse_one_connection_and_commit_every_change(cluster):
    sim, kube = cluster
    rtype = resource_type_of(entry(1))
    assert kube._writer is not None  # plain TLS and a token: the lean path
    first = kube.apply(rtype, entry(1), "mesh-federation")
    port = local_port(kube)
    for weight in (2, 3, 4):
        result = kube.apply(rtype, entry(weight), "mesh-federation")
        assert local_port(kube) == port
    assert result["spec"]["weight"] == 4 and result["metadata"]["uid"] == first["metadata"]["uid"]
    assert sim.get("networking.istio.io/v1", "WorkloadEntry", "we-1", "default")["spec"]["weight"] == 4
    assert [r.method for r in sim.requests()][-4:] == ["PATCH"] * 4


def test_each_thread_has_its_own_connection(cluster):
    _, kube = cluster
    rtype = resource_type_of(entry(1))
    kube.apply(rtype, entry(1), "mesh-federation")
    ports = []
    worker = threading.Thread(target=lambda: (kube.apply(rtype, entry(2), "mesh-federation"),
                                              ports.append(local_port(kube))))
    worker.start()
    worker.join(10.0)
    assert ports and ports[0] != local_port(kube)


def test_refusals_are_mapped_like_every_request(cluster):
    sim, kube = cluster
    rtype = resource_type_of(entry(1))
    sim.faults.fail_next(1, 409)
    with pytest.raises(errors.Conflict):
        kube.apply(rtype, entry(1), "mesh-federation")
    sim.faults.fail_next(1, 422)
    with pytest.raises(errors.ValidationError):
        kube.apply(rtype, entry(1), "mesh-federation")
    sim.faults.fail_next(1, 503)
    with pytest.raises(errors.ClusterUnreachable):  # transient: retried by the pusher
        kube.apply(rtype, entry(1), "mesh-federation")
    assert kube.apply(rtype, entry(5), "mesh-federation")["spec"]["weight"] == 5  # the connection lives on


def test_a_connection_the_server_dropped_is_replaced_once(cluster):
    _, kube = cluster
    rtype = resource_type_of(entry(1))
    kube.apply(rtype, entry(1), "mesh-federation")
    before = local_port(kube)
    kube._writer._local.conn.sock.shutdown(socket.SHUT_RDWR)  # as a server's idle timeout would
    assert kube.apply(rtype, entry(2), "mesh-federation")["spec"]["weight"] == 2
    assert local_port(kube) != before


def test_an_unreachable_server_is_a_transient_error_naming_the_cluster(cluster):
    sim, kube = cluster
    rtype = resource_type_of(entry(1))
    kube.apply(rtype, entry(1), "mesh-federation")
    kube.close()
    sim.stop()
    with pytest.raises(errors.ClusterUnreachable, match=sim.name):
        kube.apply(rtype, entry(2), "mesh-federation")


def test_deletes_share_the_writes_connection_and_honour_preconditions(cluster):
    sim, kube = cluster
    rtype = resource_type_of(entry(1))
    uid = kube.apply(rtype, entry(1), "mesh-federation")["metadata"]["uid"]
    port = local_port(kube)
    path = rtype.path("default", "we-1")
    with pytest.raises(errors.Conflict):  # another object's uid: not ours to delete
        kube.request("DELETE", path, body={"kind": "DeleteOptions", "apiVersion": "v1",
                                           "preconditions": {"uid": "someone-else"}})
    assert sim.get("networking.istio.io/v1", "WorkloadEntry", "we-1", "default") is not None
    kube.request("DELETE", path, body={"kind": "DeleteOptions", "apiVersion": "v1",
                                       "preconditions": {"uid": uid}})
    assert local_port(kube) == port
    with pytest.raises(errors.NotFound):
        sim.get("networking.istio.io/v1", "WorkloadEntry", "we-1", "default")
    with pytest.raises(errors.NotFound):
        kube.request("DELETE", path)
    assert [r.method for r in sim.requests()][-3:] == ["DELETE"] * 3


def test_only_credentials_written_in_the_kubeconfig_are_read_once():
    from federation.kube.kubeconfigs import static_credentials

    def config(user: dict) -> dict:
        return {"current-context": "c", "contexts": [{"name": "c", "context": {"cluster": "k", "user": "u"}}],
                "users": [{"name": "u", "user": user}]}
    assert static_credentials(config({"token": "t"}))
    assert static_credentials(config({"client-certificate-data": "x", "client-key-data": "y"}))
    for refreshed in ({"exec": {"command": "x"}}, {"auth-provider": {"name": "x"}}, {"tokenFile": "/t"}):
        assert not static_credentials(config(refreshed))
    assert not static_credentials({"contexts": [], "users": []})


def test_a_static_token_is_sent_with_every_write_and_a_wrong_one_is_refused(cluster):
    sim, kube = cluster
    assert kube._writer._authorization  # read once, at the start
    kube.apply(resource_type_of(entry(1)), entry(1), "mesh-federation")
    assert sim.get("networking.istio.io/v1", "WorkloadEntry", "we-1", "default")["spec"]["weight"] == 1
    kube._writer._authorization = "Bearer not-the-token"
    with pytest.raises(errors.FederationError, match="401|403|[Uu]nauthori[sz]ed|[Ff]orbidden"):
        kube.apply(resource_type_of(entry(2)), entry(2), "mesh-federation")
