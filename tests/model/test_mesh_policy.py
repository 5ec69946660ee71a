"""MeshPolicy parsing and validation: every bad field named, only the five kinds carried,
one MeshPolicy per object name; and the structural tables held to the shared CRDs."""

from __future__ import annotations

import copy

import pytest

from federation.errors import ValidationError
from federation.kube.resources import MESH_POLICY_KINDS
from federation.model.cluster import ClusterInfo
from federation.model.mesh_policy import (
    ENUMS, SELECTORS, SERVED_VERSIONS, SPEC_FIELDS, ClusterSelector, check_claims, parse_mesh_policy,
)
from tests.support import crd_schemas

PA = {"apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication",
      "metadata": {"name": "default", "namespace": "istio-system"}, "spec": {"mtls": {"mode": "STRICT"}}}
AP = {"apiVersion": "security.istio.io/v1beta1", "kind": "AuthorizationPolicy",
      "metadata": {"name": "only-sleep"},
      "spec": {"action": "ALLOW", "selector": {"matchLabels": {"app": "reviews"}},
               "rules": [{"from": [{"source": {"principals": ["cluster.local/ns/bookinfo/sa/sleep"]}}]}]}}


def doc(*objects, name="strict", namespace="istio-system", selector=None) -> dict:
    spec = {"objects": [copy.deepcopy(o) for o in objects]}
    if selector is not None:
        spec["clusterSelector"] = selector
    return {"apiVersion": "federation.mesh/v1alpha1", "kind": "MeshPolicy",
            "metadata": {"name": name, "namespace": namespace}, "spec": spec}


def problems_of(document) -> str:
    with pytest.raises(ValidationError) as caught:
        parse_mesh_policy(document)
    return str(caught.value)


def test_a_policy_parses_into_its_selector_and_objects_in_the_hubs_version():
    policy = parse_mesh_policy(doc(PA, AP, namespace="bookinfo",
                                   selector={"clusters": ["cluster-3", "cluster-1"], "matchLabels": {"env": "prod"}}))
    assert policy.selector == ClusterSelector(("cluster-1", "cluster-3"), (("env", "prod"),))
    assert [o["apiVersion"] for o in policy.objects] == ["security.istio.io/v1", "security.istio.io/v1"]
    assert policy.objects[1]["metadata"] == {"name": "only-sleep", "namespace": "bookinfo"}  # defaulted
    assert policy.keys() == [("PeerAuthentication", "istio-system", "default"),
                             ("AuthorizationPolicy", "bookinfo", "only-sleep")]
    assert parse_mesh_policy(policy.to_dict()) == policy


def test_an_absent_or_empty_selector_selects_every_member():
    policy = parse_mesh_policy(doc(PA))
    assert policy.selector == ClusterSelector()
    assert parse_mesh_policy(doc(PA, selector={})).selector == ClusterSelector()
    assert policy.selector.selects(ClusterInfo("anything"))


def test_a_selector_with_names_and_labels_needs_both():
    selector = ClusterSelector(("cluster-1", "cluster-2"), (("env", "prod"),))
    assert selector.selects(ClusterInfo("cluster-1", labels=(("env", "prod"), ("tier", "a"))))
    assert not selector.selects(ClusterInfo("cluster-2", labels=(("env", "dev"),)))
    assert not selector.selects(ClusterInfo("cluster-3", labels=(("env", "prod"),)))
    assert not selector.selects(ClusterInfo("cluster-1"))


@pytest.mark.parametrize("kind, api_version", [("Secret", "v1"), ("ConfigMap", "v1"),
                                               ("VirtualService", "networking.istio.io/v1"),
                                               ("Frobnicator", "example.com/v1")])
def test_a_kind_outside_the_five_is_refused_naming_the_field(kind, api_version):
    bad = {"apiVersion": api_version, "kind": kind, "metadata": {"name": "x"}, "spec": {}}
    text = problems_of(doc(PA, bad))
    assert text.startswith("MeshPolicy istio-system/strict: spec.objects[1].kind: ")
    assert f"{kind!r} cannot be carried by a MeshPolicy" in text
    assert "PeerAuthentication" in text and "spec.objects[0]" not in text


@pytest.mark.parametrize("mutate, field", [
    (lambda d: d["spec"]["objects"][0].update(apiVersion="security.istio.io/v2"), "spec.objects[0].apiVersion"),
    (lambda d: d["spec"]["objects"][0].update(apiVersion="networking.istio.io/v1"), "spec.objects[0].apiVersion"),
    (lambda d: d["spec"]["objects"][0]["metadata"].update(name="Bad_Name"), "spec.objects[0].metadata.name"),
    (lambda d: d["spec"]["objects"][0]["metadata"].pop("name"), "spec.objects[0].metadata.name: required"),
    (lambda d: d["spec"]["objects"][0]["metadata"].update(namespace="a.b"), "spec.objects[0].metadata.namespace"),
    (lambda d: d["spec"]["objects"][0]["metadata"].update(uid="x"), "spec.objects[0].metadata.uid: unknown field"),
    (lambda d: d["spec"]["objects"][0]["metadata"].update(labels={"app.kubernetes.io/managed-by": "me"}),
     "spec.objects[0].metadata.labels.app.kubernetes.io/managed-by: reserved"),
    (lambda d: d["spec"]["objects"][0]["metadata"].update(annotations={"federation.mesh/hash": "x"}),
     "spec.objects[0].metadata.annotations.federation.mesh/hash: reserved"),
    (lambda d: d["spec"]["objects"][0]["spec"].update(mtls={"mode": "STRICTT"}),
     "spec.objects[0].spec.mtls.mode: 'STRICTT' is not one of"),
    (lambda d: d["spec"]["objects"][0]["spec"].update(portLevelMtls={"8080": {"mode": "strict"}}),
     "spec.objects[0].spec.portLevelMtls.8080.mode"),
    (lambda d: d["spec"]["objects"][0]["spec"].update(mtlss={}), "spec.objects[0].spec.mtlss: unknown field"),
    (lambda d: d["spec"]["objects"][0]["spec"].update(selector=[]), "spec.objects[0].spec.selector: must be a mapping"),
    (lambda d: d["spec"]["objects"][0]["spec"].update(selector={"matchLabels": {"a b": "c"}}),
     "spec.objects[0].spec.selector.matchLabels"),
    (lambda d: d["spec"]["objects"][0].update(kind="Sidecar", apiVersion="networking.istio.io/v1alpha3",
                                              spec={"workloadSelector": {"labels": {"a": "b c"}}}),
     "spec.objects[0].spec.workloadSelector.labels.a"),
    (lambda d: d["spec"]["objects"][0]["spec"].update(selector={"labels": {}}),
     "spec.objects[0].spec.selector.labels: unknown field (expected one of matchLabels)"),
    (lambda d: d["spec"]["objects"][0].update(status={}), "spec.objects[0].status: unknown field"),
    (lambda d: d["spec"]["objects"][0].update(spec="x"), "spec.objects[0].spec: must be a mapping"),
    (lambda d: d["spec"]["objects"].append("text"), "spec.objects[1]: must be a mapping"),
    (lambda d: d["spec"]["objects"].append(copy.deepcopy(PA)),
     "spec.objects[1]: PeerAuthentication istio-system/default is already spec.objects[0]"),
    (lambda d: d["spec"].update(objects=[]), "spec.objects: required"),
    (lambda d: d["spec"].update(clusterSelector={"clusters": ["Cluster_1"]}), "spec.clusterSelector.clusters[0]"),
    (lambda d: d["spec"].update(clusterSelector={"clusters": "cluster-1"}), "spec.clusterSelector.clusters: must be"),
    (lambda d: d["spec"].update(clusterSelector={"matchLabels": {"env": "a b"}}),
     "spec.clusterSelector.matchLabels.env"),
    (lambda d: d["spec"].update(clusterSelector={"names": []}), "spec.clusterSelector.names: unknown field"),
    (lambda d: d["spec"].update(selector={}), "spec.selector: unknown field"),
    (lambda d: d.update(kind="Mesh"), "kind: must be 'MeshPolicy'"),
    (lambda d: d["metadata"].update(namespace="Bad"), "metadata.namespace"),
    (lambda d: d.pop("spec"), "spec: required"),
])
def test_each_bad_input_names_its_field(mutate, field):
    document = doc(PA)
    mutate(document)
    assert field in problems_of(document)


def test_every_problem_of_a_document_is_reported_at_once():
    bad_ap = copy.deepcopy(AP)
    bad_ap["spec"]["action"] = "PERMIT"
    text = problems_of(doc({**PA, "kind": "Secret"}, bad_ap, selector={"clusters": ["X"]}))
    for field in ("spec.clusterSelector.clusters[0]", "spec.objects[0].kind", "spec.objects[1].spec.action"):
        assert field in text


def test_two_policies_may_not_carry_one_object_and_the_error_names_both():
    stored = [parse_mesh_policy(doc(PA, name="first"))]
    with pytest.raises(ValidationError) as caught:
        check_claims(stored, [parse_mesh_policy(doc(AP, PA, name="second"))])
    assert str(caught.value) == (
        "MeshPolicy istio-system/second: spec.objects[1]: PeerAuthentication istio-system/default is already "
        "carried by MeshPolicy istio-system/first; one MeshPolicy per object")
    with pytest.raises(ValidationError, match="istio-system/b: .* carried by MeshPolicy istio-system/a"):
        check_claims([], [parse_mesh_policy(doc(PA, name="a")), parse_mesh_policy(doc(PA, name="b"))])


def test_a_policy_replacing_itself_or_carrying_other_names_is_accepted():
    stored = [parse_mesh_policy(doc(PA, name="first"))]
    check_claims(stored, [parse_mesh_policy(doc(PA, AP, name="first"))])
    check_claims(stored, [parse_mesh_policy(doc(AP, name="second"))])


# --- the structural tables against the shared CRDs -------------------------------
def _v1_spec(kind: str) -> dict:
    schemas = crd_schemas()
    found = schemas.lookup(f"{dict((t.kind, t.group) for t in MESH_POLICY_KINDS)[kind]}/v1", kind)
    assert found is not None, kind
    return found.schema["properties"]["spec"]


def test_the_spec_fields_and_their_types_are_those_of_the_crds():
    json_types = {"object": dict, "array": list, "string": str}
    for kind, fields in SPEC_FIELDS.items():
        spec = _v1_spec(kind)
        assert fields == {name: json_types[prop["type"]] for name, prop in spec["properties"].items()}, kind


def test_the_workload_selectors_are_those_of_the_crds():
    for kind, (field, labels) in SELECTORS.items():
        assert list(_v1_spec(kind)["properties"][field]["properties"]) == [labels], kind


def test_the_enums_and_served_versions_are_those_of_the_crds():
    schemas = crd_schemas()
    for (kind, path), allowed in ENUMS.items():
        node = _v1_spec(kind)
        for part in path.split("."):
            node = node["properties"][part]
        assert tuple(node["enum"]) == allowed, (kind, path)
    mode = _v1_spec("PeerAuthentication")["properties"]["portLevelMtls"]["additionalProperties"]
    assert tuple(mode["properties"]["mode"]["enum"]) == ENUMS[("PeerAuthentication", "mtls.mode")]
    for rtype in MESH_POLICY_KINDS:
        served = {v.version for v in schemas.versions() if v.kind == rtype.kind and v.group == rtype.group}
        assert served == set(SERVED_VERSIONS[rtype.kind]), rtype.kind
        assert rtype.version in served


def test_a_carried_object_the_check_accepts_in_each_served_version_validates_against_its_crd():
    schemas = crd_schemas()
    for version in SERVED_VERSIONS["AuthorizationPolicy"]:
        [obj] = parse_mesh_policy(doc({**AP, "apiVersion": f"security.istio.io/{version}"})).objects
        assert schemas.validate(obj) == []
