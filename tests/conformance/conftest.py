"""Fixtures: the ``api`` handle over both servers, a namespace per test, a client, kubectl.

The simulator is started as ``tests/sim`` starts it (CRD schemas from
``../shared``), without its namespace controller; the real kube-apiserver
comes from the peers launcher on a real etcd, with the same CRDs installed.
Each is started once for the session; the real one's tests carry the
``peers`` mark.
"""

from __future__ import annotations

import pytest

from kubesim import SimCluster
from tests.conformance import support
from tests.conformance.realserver import RealServer
from tests.sim.helpers import kubectl_runner
from tests.support import crd_schemas, shared_dir


@pytest.fixture(scope="session")
def sim_api(tmp_path_factory):
    # No namespace controller: the reference is an API server running alone.
    sim = SimCluster("conformance", schemas=crd_schemas(), namespace_controller=False).start()
    try:
        kubeconfig = sim.write_kubeconfig(tmp_path_factory.mktemp("sim") / "kubeconfig.yaml")
        api = support.Api(support.SIM, sim.url, sim.ca.cert_pem, kubeconfig, expire_history=sim.compact, sim=sim)
        yield api
        api.close_clients()
    finally:
        assert sim.stop(timeout=5.0), "the simulator did not stop within its bound"


@pytest.fixture(scope="session")
def kube_api(tmp_path_factory):
    server = RealServer(tmp_path_factory.mktemp("kube"), shared_dir())
    server.start()
    try:
        api = support.Api(support.KUBE, server.url, server.ca_pem, server.kubeconfig,
                          expire_history=server.compact)
        yield api
        api.close_clients()
    finally:
        server.stop()


@pytest.fixture(scope="session", params=[support.SIM, pytest.param(support.KUBE, marks=pytest.mark.peers)])
def api(request) -> support.Api:
    return request.getfixturevalue(f"{request.param}_api")


@pytest.fixture
def client(api):
    api_client = api.client()
    try:
        yield api_client
    finally:
        api_client.close()


@pytest.fixture
def ns(api, client, request):
    """A fresh namespace for one test (deleted afterwards)."""
    name = support.unique(request.node.originalname.replace("_", "-")[5:30].strip("-"))
    support.call(client, "POST", "/api/v1/namespaces", {"metadata": {"name": name}}).ok()
    yield name
    support.call(client, "DELETE", f"/api/v1/namespaces/{name}")


@pytest.fixture
def kubectl(api, tmp_path):
    """Run the real kubectl against the server; returns the CompletedProcess."""
    return kubectl_runner(api.kubeconfig, tmp_path / "kube-cache", timeout=60.0)
