"""``federation check`` against three real members (kube-apiserver with RBAC on, istiod
on the hub's cacerts): what the hub's own RBAC lets it see, and a denied grant named."""

from __future__ import annotations

from federation.check.findings import FAIL, OK, WARN, format_findings
from federation.check.probing import probe_member
from federation.kube.client import KubeClient
from tests.real.conftest import NETWORK


def by_check(findings, scope):
    return {f.check: f for f in findings if f.scope == scope}


def test_check_on_real_members(mesh):
    for name in NETWORK:  # what Istio's installer writes: the mesh config istiod runs with
        mesh_yaml = (mesh.istiod(name).workdir / "mesh.yaml").read_text()
        mesh.member(name).apply({"apiVersion": "v1", "kind": "ConfigMap",
                                 "metadata": {"name": "istio", "namespace": "istio-system"},
                                 "data": {"mesh": mesh_yaml}})
    findings = mesh.hub.checker.run()
    text = format_findings(findings)
    print(text)
    assert not [f for f in findings if f.outcome == FAIL], text
    for name in NETWORK:
        found = by_check(findings, name)
        assert found["API server reachable with the hub's credentials"].outcome == OK
        assert "Kubernetes v1." in found["API server reachable with the hub's credentials"].detail
        # A real API server answers SelfSubjectAccessReviews: every verb deploy/member grants.
        assert found["the hub's RBAC allows what it does"].outcome == OK, text
        assert found["Istio CRDs installed"].outcome == OK
        # The real istiod publishes the roots it loaded from the hub's cacerts.
        assert found["istiod uses the hub's cacerts"].outcome == OK, text
        assert found["istio-system labelled topology.istio.io/network"].detail == NETWORK[name]
        assert found["east-west gateway with an address and port 15443"].outcome == OK
        assert found["hub syncs the cluster"].outcome == OK
        # deploy/member grants reading the mesh config, so mesh ID and trust domain are compared.
        assert found["mesh ID and trust domain in the istio ConfigMap"].outcome in (OK, WARN), text
        assert "trust domain cluster.local" in found["mesh ID and trust domain in the istio ConfigMap"].detail
        # istiod runs as a process beside the API server here, not as a pod: said, not guessed.
        assert found["istiod running"].outcome == WARN
    trust_domains = by_check(findings, "mesh")["trust domain agrees across members"]
    assert trust_domains.outcome == OK and trust_domains.detail == "cluster.local (3 of 3 member(s) readable)"


def test_rbac_denied_names_each_verb_and_resource(mesh):
    member = mesh.member("cluster-1")
    member.kubectl("create", "serviceaccount", "check-nobody", "-n", "istio-system")
    kube = KubeClient("cluster-1", member.kubeconfig_for("istio-system", "check-nobody"), timeout=10)
    try:
        report = probe_member(kube, has_root=True)
    finally:
        kube.close()
    rbac = {f.check: f for f in report.findings}["the hub's RBAC allows what it does"]
    assert rbac.outcome == FAIL
    assert "create workloadentries.networking.istio.io" not in rbac.detail  # the hub patches (SSA)
    assert "patch workloadentries.networking.istio.io" in rbac.detail
    assert "get secrets/cacerts in istio-system" in rbac.detail
    assert "apply -k deploy/member" in rbac.fix
