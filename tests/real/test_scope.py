"""Import scope on real peers: a Service whose ``federation.mesh/import-selector``
selects clusters by their registration labels reaches, as a real istiod hands it to
its sidecars, exactly the selected clusters. Elsewhere istiod has no such host at
all: the hub wrote no stub Service and no WorkloadEntries there, and pruned what it
had when the selector moved away.

The fleet is registered with labels (``mesh_labels``): cluster-1 ``env=prod``,
cluster-2 ``env=dev``, cluster-3 ``env=prod``. ``ratings`` runs only in cluster-3.
"""

from __future__ import annotations

import pytest

from tests.real.conftest import NS, outbound
from tests.real.test_routing import remote_view
from tests.support import wait_for

pytestmark = [pytest.mark.peers, pytest.mark.timeout(900)]

SELECTOR = "federation.mesh/import-selector"
SERVICE_NAME_LABEL = "federation.mesh/service-name"


@pytest.fixture(scope="module")
def mesh_labels():
    return {"cluster-1": {"env": "prod"}, "cluster-2": {"env": "dev"}, "cluster-3": {"env": "prod"}}


def select(mesh, selector: str) -> None:
    """Annotate ratings' Service in its own cluster as a service owner would."""
    mesh.member("cluster-3").kubectl("-n", NS, "annotate", "service", "ratings", "--overwrite",
                                     f"{SELECTOR}={selector}")


def hub_objects(mesh, cluster: str) -> list[str]:
    """The hub's objects for ratings in ``cluster``, as "Kind name"."""
    out = []
    for api_version, kind in (("v1", "Service"), ("networking.istio.io/v1", "WorkloadEntry"),
                              ("networking.istio.io/v1", "DestinationRule")):
        for obj in mesh.owned(cluster, api_version, kind, NS):
            if obj["metadata"].get("labels", {}).get(SERVICE_NAME_LABEL) == "ratings":
                out.append(f"{kind} {obj['metadata']['name']}")
    return sorted(out)


def test_a_service_is_imported_only_by_the_clusters_its_selector_selects(mesh):
    gateway = mesh.gateway_ip("cluster-3")
    prod, dev = mesh.sidecar("cluster-1"), mesh.sidecar("cluster-2")
    rule = outbound("ratings", 9080)
    assert {c.name: c.labels for c in mesh.hub.control.list_clusters()} == {
        "cluster-1": {"env": "prod"}, "cluster-2": {"env": "dev"}, "cluster-3": {"env": "prod"}}

    select(mesh, "env=prod")
    view = wait_for(lambda: remote_view(prod, rule) if set(remote_view(prod, rule)) == {gateway} else None,
                    90, "ratings at cluster-3's gateway in cluster-1 (env=prod)")
    assert (view[gateway].port, view[gateway].tls_mode) == (15443, "istio")
    wait_for(lambda: remote_view(dev, rule) == {}, 90, "no ratings host in cluster-2 (env=dev)")
    assert hub_objects(mesh, "cluster-2") == []
    assert {o.split()[0] for o in hub_objects(mesh, "cluster-1")} == {"Service", "WorkloadEntry",
                                                                       "DestinationRule"}

    # flipping the selector flips it: cluster-2 gets ratings, cluster-1's objects are pruned
    select(mesh, "env in (dev)")
    wait_for(lambda: set(remote_view(dev, rule)) == {gateway}, 90, "ratings in cluster-2 once selected")
    wait_for(lambda: remote_view(prod, rule) == {}, 90, "ratings gone from cluster-1 once unselected")
    wait_for(lambda: hub_objects(mesh, "cluster-1") == [], 30, "the hub's ratings objects pruned from cluster-1")
    services = {row.name: row for row in mesh.hub.control.list_services()}
    assert (services["ratings"].exported_from, services["ratings"].imported_to) == (("cluster-3",), ("cluster-2",))

    # and a cluster's label change moves what it imports, the Service untouched
    mesh.hub.control.label_cluster("cluster-1", {"env": "dev"})
    wait_for(lambda: set(remote_view(prod, rule)) == {gateway}, 90, "ratings in cluster-1 once relabelled dev")
    mesh.hub.control.label_cluster("cluster-1", {"env": "prod"})
    mesh.member("cluster-3").kubectl("-n", NS, "annotate", "service", "ratings", f"{SELECTOR}-")
    wait_for(lambda: set(remote_view(prod, rule)) == set(remote_view(dev, rule)) == {gateway}, 90,
             "ratings everywhere again without a selector")
