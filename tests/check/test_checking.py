"""``federation check`` against a hub with simulated members, through the real Check API."""

from __future__ import annotations

from federation.check.findings import FAIL, OK, WARN, format_findings
from federation.trust.certificates import create_root
from tests.check.conftest import istiod_pod, mesh_configmap, publish_root
from tests.support import wait_for


def by_check(findings, scope):
    return {f.check: f for f in findings if f.scope == scope}


def test_a_well_set_up_mesh_passes_every_check(istio_hub):
    findings = istio_hub.service.checker.run()
    print(format_findings(findings))
    assert not [f for f in findings if f.outcome == FAIL], format_findings(findings)
    hub = by_check(findings, "hub")
    assert hub["mesh root exists"].outcome == OK
    assert hub["state store healthy"].outcome == OK
    c1 = by_check(findings, "cluster-1")
    assert c1["istiod running"].outcome == OK and "Istio 1.24.2" in c1["istiod running"].detail
    assert c1["istiod uses the hub's cacerts"].outcome == OK
    assert c1["istiod has ISTIO_MULTIROOT_MESH=true"].outcome == OK
    assert c1["istio-system labelled topology.istio.io/network"].detail == "net1"
    assert "172.18." in c1["east-west gateway with an address and port 15443"].detail
    assert c1["hub syncs the cluster"].outcome == OK
    # The simulator has no RBAC: the check says it could not ask rather than guessing.
    assert c1["the hub's RBAC allows what it does"].outcome == WARN
    mesh = by_check(findings, "mesh")
    assert mesh["mesh ID agrees across members"].outcome == OK
    assert mesh["mesh ID agrees across members"].detail.startswith("mesh1")


def test_each_misconfiguration_is_a_failure_with_its_fix(istio_hub):
    c3 = istio_hub.sim("cluster-3")
    c3.apply(istiod_pod(multiroot=None))                       # no ISTIO_MULTIROOT_MESH
    c3.apply(mesh_configmap(mesh_id="other-mesh"))             # a different mesh ID
    publish_root(c3, create_root(org="someone-else").cert_pem)  # istiod on its own CA
    ns = c3.get("v1", "Namespace", "istio-system")
    ns["metadata"]["labels"].pop("topology.istio.io/network")
    c3.apply({"apiVersion": "v1", "kind": "Namespace",
              "metadata": {"name": "istio-system", "labels": ns["metadata"]["labels"]}},
             manager="sim-seed")  # the seeding manager drops the label it set
    gw = [s for s in c3.list("v1", "Service", label_selector="istio=eastwestgateway")][0]
    gw_name, gw_ns = gw["metadata"]["name"], gw["metadata"]["namespace"]
    c3.delete("v1", "Service", gw_name, gw_ns)
    # Losing its gateway takes cluster-3's entries out of the others: let those pushes finish
    # first, so that they are judged on their own state, not on a push in flight.
    wait_for(lambda: all(c.synced for c in istio_hub.service.control.status().clusters if c.name != "cluster-3")
             and not [e for name in ("cluster-1", "cluster-2")
                      for e in istio_hub.sim(name).list("networking.istio.io/v1", "WorkloadEntry",
                                                        label_selector="federation.mesh/source-cluster=cluster-3")],
             30, what="cluster-3's entries gone from the other members and their pushes done")

    findings = istio_hub.service.checker.run()
    text = format_findings(findings)
    print(text)
    c3f = by_check(findings, "cluster-3")
    multiroot = c3f["istiod has ISTIO_MULTIROOT_MESH=true"]
    assert multiroot.outcome == FAIL and "ISTIO_MULTIROOT_MESH=true" in multiroot.fix
    cacerts = c3f["istiod uses the hub's cacerts"]
    assert cacerts.outcome == FAIL and "rollout restart deployment/istiod" in cacerts.fix
    label = c3f["istio-system labelled topology.istio.io/network"]
    assert label.outcome == FAIL and "kubectl label namespace istio-system topology.istio.io/network=" in label.fix
    gateway = c3f["east-west gateway with an address and port 15443"]
    assert gateway.outcome == FAIL and "no Service labelled istio=eastwestgateway" in gateway.detail
    agreement = by_check(findings, "mesh")["mesh ID agrees across members"]
    assert agreement.outcome == FAIL
    assert "other-mesh: cluster-3" in agreement.detail and "mesh1: cluster-1, cluster-2" in agreement.detail
    # The other members are untouched by cluster-3's problems.
    assert all(f.outcome != FAIL for f in findings if f.scope == "cluster-1")
    assert "✗ istiod has ISTIO_MULTIROOT_MESH=true" in text and "    fix: " in text
