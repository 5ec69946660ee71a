"""deploy/ renders with kustomize, validates against the real schemas, and says what it must."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from . import checks

ROOT = checks.ROOT
DEPLOY = ROOT / "deploy"
KUBECTL = shutil.which("kubectl")

needs_kubectl = pytest.mark.skipif(KUBECTL is None, reason="kubectl is not on PATH (kubectl kustomize renders deploy/)")
pytestmark = [pytest.mark.kubectl, needs_kubectl]


def rendered(relative: str) -> list[dict]:
    return checks.render(DEPLOY / relative, KUBECTL)


def one(objects: list[dict], kind: str, name: str | None = None) -> dict:
    found = [o for o in objects if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)]
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
    return found[0]


def test_every_expected_kustomization_exists():
    found = {str(p.relative_to(DEPLOY)) for p in checks.find_kustomizations(DEPLOY)}
    assert {"hub", "etcd", "member", "overlays/etcd-statefulset", "overlays/external-etcd"} <= found


@pytest.mark.parametrize("kustomization", [str(p.relative_to(DEPLOY)) for p in checks.find_kustomizations(DEPLOY)])
def test_kustomization_renders_and_every_object_validates(kustomization):
    objects = rendered(kustomization)
    assert objects
    problems = [p for obj in objects for p in checks.validate_object(obj, checks.shared_dir_or_none())]
    assert problems == []


def test_whole_deploy_tree_passes_the_checker():
    assert checks.check_deploy_tree(DEPLOY, checks.shared_dir_or_none(), KUBECTL) == []


def test_no_rendering_contains_a_secret():
    for directory in checks.find_kustomizations(DEPLOY):
        assert not [o for o in checks.render(directory, KUBECTL) if o["kind"] == "Secret"], directory


def test_hub_deployment_is_hardened_and_probed_on_grpc_health():
    objects = rendered("hub")
    deployment = one(objects, "Deployment", "mesh-federation-hub")
    spec = deployment["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    assert deployment["metadata"]["namespace"] == "mesh-federation"
    assert deployment["spec"]["replicas"] == 2
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    sc = container["securityContext"]
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"]["drop"] == ["ALL"]
    assert {"cpu", "memory"} <= container["resources"]["requests"].keys()
    assert {"cpu", "memory"} <= container["resources"]["limits"].keys()
    for probe in ("livenessProbe", "readinessProbe"):
        assert container[probe]["grpc"]["port"] == 8081
    args = container["args"]
    assert args[args.index("--health-listen") + 1] == "0.0.0.0:8081"
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert "emptyDir" in volumes[mounts["/tmp"]]
    secret_of = {path: volumes[name]["secret"]["secretName"] for path, name in mounts.items()
                 if "secret" in volumes[name]}
    assert secret_of == {"/etc/federation/tls": "mesh-federation-tls",
                         "/etc/federation/admin": "mesh-federation-admin-token",
                         "/etc/federation/kek": "mesh-federation-kek"}
    args = container["args"]
    for flag, value in [("--listen", "0.0.0.0:8443"), ("--onboarding-listen", "0.0.0.0:8444"),
                        ("--metrics-listen", "0.0.0.0:9464"), ("--tls-cert", "/etc/federation/tls/tls.crt"),
                        ("--tls-key", "/etc/federation/tls/tls.key"),
                        ("--admin-token-file", "/etc/federation/admin/token"),
                        ("--kek-file", "/etc/federation/kek/kek"), ("--store", "$(FEDERATION_STORE)")]:
        assert args[args.index(flag) + 1] == value
    assert args[0] == "serve"


def test_hub_services_pdb_and_network_policy():
    objects = rendered("hub")
    ports = {o["metadata"]["name"]: (o["spec"]["type"], [p["port"] for p in o["spec"]["ports"]])
             for o in objects if o["kind"] == "Service"}
    assert ports == {"mesh-federation-admin": ("ClusterIP", [8443]),
                     "mesh-federation-onboarding": ("LoadBalancer", [8444, 8445]),
                     "mesh-federation-metrics": ("ClusterIP", [9464])}
    assert one(objects, "PodDisruptionBudget")["spec"]["minAvailable"] == 1
    policy = one(objects, "NetworkPolicy")
    assert set(policy["spec"]["policyTypes"]) == {"Ingress", "Egress"}
    assert one(objects, "ServiceAccount")["automountServiceAccountToken"] is False


def store_url(objects: list[dict]) -> str:
    deployment = one(objects, "Deployment")
    ref = deployment["spec"]["template"]["spec"]["containers"][0]["env"][0]["valueFrom"]["configMapKeyRef"]
    return one(objects, "ConfigMap", ref["name"])["data"][ref["key"]]


def test_etcd_overlay_points_the_hub_at_a_three_member_statefulset():
    objects = rendered("overlays/etcd-statefulset")
    assert store_url(objects) == "etcd://mesh-federation-etcd:2379"
    sts = one(objects, "StatefulSet", "mesh-federation-etcd")
    assert sts["spec"]["replicas"] == 3
    assert sts["spec"]["podManagementPolicy"] == "Parallel"
    assert sts["spec"]["volumeClaimTemplates"][0]["metadata"]["name"] == "data"
    headless = one(objects, "Service", sts["spec"]["serviceName"])
    assert headless["spec"]["clusterIP"] == "None"
    assert headless["spec"]["publishNotReadyAddresses"] is True
    one(objects, "Service", "mesh-federation-etcd")  # the client Service the store URL names
    args = sts["spec"]["template"]["spec"]["containers"][0]["args"]
    initial = next(a for a in args if a.startswith("--initial-cluster="))
    members = dict(m.split("=", 1) for m in initial.split("=", 1)[1].split(","))
    assert sorted(members) == [f"mesh-federation-etcd-{i}" for i in range(3)]
    for name, url in members.items():
        assert url == f"http://{name}.{headless['metadata']['name']}.$(POD_NAMESPACE).svc:2380"
    assert {o["metadata"].get("namespace") for o in objects if o["kind"] != "Namespace"} == {"mesh-federation"}


def test_external_etcd_overlay_replaces_the_store_url_and_has_no_etcd():
    objects = rendered("overlays/external-etcd")
    assert store_url(objects) == "etcd://etcd.example.internal:2379"
    assert not [o for o in objects if o["kind"] == "StatefulSet"]


def test_member_access_is_least_privilege():
    objects = rendered("member")
    account = one(objects, "ServiceAccount", "mesh-federation-reader")
    assert account["metadata"]["namespace"] == "istio-system"
    rules = one(objects, "ClusterRole", "mesh-federation-reader")["rules"]
    read = {"get", "list", "watch"}
    write = read | {"create", "update", "patch", "delete"}
    granted = {(group, resource): set(rule["verbs"]) for rule in rules if not rule.get("resourceNames")
               for group in rule["apiGroups"] for resource in rule["resources"]}
    # one named grant: the cluster's identity (kube-system's UID), nothing broader
    assert [(r["apiGroups"], r["resources"], r["resourceNames"], r["verbs"])
            for r in rules if r.get("resourceNames")] == [([""], ["namespaces"], ["kube-system"], ["get"])]
    assert granted == {
        ("", "nodes"): read, ("", "pods"): read,  # pods: the workloads' service accounts
        # stub Services for services a member does not run, and their namespace where missing
        ("", "services"): write, ("", "namespaces"): write,
        ("discovery.k8s.io", "endpointslices"): read,
        ("multicluster.x-k8s.io", "serviceexports"): read,
        **{("networking.istio.io", r): write
           for r in ("workloadentries", "serviceentries", "destinationrules", "gateways", "workloadgroups",
                     "virtualservices", "sidecars")},  # virtualservices: TrafficSplits; sidecars: MeshPolicies
        # what a MeshPolicy carries
        **{("security.istio.io", r): write
           for r in ("peerauthentications", "authorizationpolicies", "requestauthentications")},
        ("telemetry.istio.io", "telemetries"): write,
        ("gateway.networking.k8s.io", "gateways"): write,
    }
    role = one(objects, "Role", "mesh-federation-cacerts")
    assert role["metadata"]["namespace"] == "istio-system"
    named = [r for r in role["rules"] if r.get("resourceNames")]
    unnamed = [r for r in role["rules"] if not r.get("resourceNames")]
    # cacerts: list/watch by name (field selector), delete when the cluster leaves
    assert [(r["resources"], r["resourceNames"], sorted(r["verbs"])) for r in named] == \
        [(["secrets"], ["cacerts"], ["delete", "get", "list", "patch", "update", "watch"]),
         (["configmaps"], ["istio-ca-root-cert"], ["get"])]  # the roots istiod publishes
    assert [(r["resources"], r["verbs"]) for r in unnamed] == [(["secrets"], ["create"])]
    check = one(objects, "Role", "mesh-federation-check")  # `federation check` reads Istio's mesh config
    assert [(r["resources"], r["resourceNames"], r["verbs"]) for r in check["rules"]] == [
        (["configmaps"], ["istio"], ["get"])]
    assert sorted(o["metadata"]["name"] for o in objects if o["kind"] in ("Role", "ClusterRole")) == [
        "mesh-federation-cacerts", "mesh-federation-check", "mesh-federation-reader"]
    for binding_kind, role_kind, role_name in [("ClusterRoleBinding", "ClusterRole", "mesh-federation-reader"),
                                               ("RoleBinding", "Role", "mesh-federation-cacerts"),
                                               ("RoleBinding", "Role", "mesh-federation-check")]:
        binding = one(objects, binding_kind, role_name)
        assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": role_name}
        assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "mesh-federation-reader",
                                        "namespace": "istio-system"}]


# --- the checker rejects what it must ------------------------------------------
@pytest.fixture
def deploy_copy(tmp_path) -> Path:
    copy = tmp_path / "deploy"
    shutil.copytree(DEPLOY, copy)
    return copy


def test_checker_rejects_a_non_integer_replica_count(deploy_copy):
    path = deploy_copy / "hub" / "deployment.yaml"
    path.write_text(path.read_text().replace("replicas: 2", 'replicas: "two"', 1))
    problems = checks.check_deploy_tree(deploy_copy, checks.shared_dir_or_none(), KUBECTL)
    assert any("spec/replicas" in p and "'two'" in p for p in problems), problems
    # hub, both overlays: every rendering that includes the hub
    assert {p.split(":", 1)[0] for p in problems} == {"deploy/hub", "deploy/overlays/etcd-statefulset",
                                                      "deploy/overlays/external-etcd"}


def test_checker_rejects_an_unknown_field(deploy_copy):
    path = deploy_copy / "member" / "serviceaccount.yaml"
    path.write_text(path.read_text() + "automountServiceAccountTokens: false\n")
    problems = checks.check_deploy_tree(deploy_copy, checks.shared_dir_or_none(), KUBECTL)
    assert any("automountServiceAccountTokens" in p for p in problems), problems


def test_checker_reports_a_kustomization_that_does_not_render(deploy_copy):
    (deploy_copy / "etcd" / "pdb.yaml").unlink()
    problems = checks.check_deploy_tree(deploy_copy, checks.shared_dir_or_none(), KUBECTL)
    assert any("kubectl kustomize" in p and "etcd" in p for p in problems), problems

