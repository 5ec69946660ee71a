"""MeshPolicy objects in render: only in the clusters a policy selects, labelled as the hub's
and naming the policy, in a fixed order, valid against the shared CRD schemas."""

from __future__ import annotations

import copy
from dataclasses import replace

from federation.model.ids import MANAGED_BY, MANAGED_BY_LABEL
from federation.model.mesh_policy import MESH_POLICY_ANNOTATION, parse_mesh_policy
from federation.model.policies import PolicySet
from federation.render import render_cluster, render_target
from federation.render.mesh_policies import MESH_POLICY_LABEL, render_mesh_policies
from federation.render.naming import COMPONENT_LABEL

from .support import CLUSTERS, assert_golden, assert_valid, snapshot

PA = {"apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication",
      "metadata": {"name": "default", "namespace": "istio-system"}, "spec": {"mtls": {"mode": "STRICT"}}}
AP = {"apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
      "metadata": {"name": "reviews-from-sleep", "namespace": "default", "labels": {"team": "a"}},
      "spec": {"action": "ALLOW", "selector": {"matchLabels": {"app": "reviews"}},
               "rules": [{"from": [{"source": {"principals": ["cluster.local/ns/default/sa/sleep"]}}]}]}}
SIDECAR = {"apiVersion": "networking.istio.io/v1beta1", "kind": "Sidecar",
           "metadata": {"name": "default", "namespace": "default"},
           "spec": {"egress": [{"hosts": ["./*", "istio-system/*"]}],
                    "outboundTrafficPolicy": {"mode": "REGISTRY_ONLY"}}}
TELEMETRY = {"apiVersion": "telemetry.istio.io/v1alpha1", "kind": "Telemetry",
             "metadata": {"name": "mesh-default", "namespace": "istio-system"},
             "spec": {"accessLogging": [{"providers": [{"name": "envoy"}]}]}}
REQ_AUTHN = {"apiVersion": "security.istio.io/v1", "kind": "RequestAuthentication",
             "metadata": {"name": "jwt", "namespace": "default"},
             "spec": {"selector": {"matchLabels": {"app": "reviews"}},
                      "jwtRules": [{"issuer": "https://issuer.example", "jwksUri": "https://issuer.example/jwks"}]}}
LABELLED = {"cluster-a": (("env", "prod"),), "cluster-b": (("env", "dev"),), "cluster-c": (("env", "prod"),)}


def policy(*objects, name="p", namespace="istio-system", selector=None):
    spec = {"objects": [copy.deepcopy(o) for o in objects]}
    if selector is not None:
        spec["clusterSelector"] = selector
    return parse_mesh_policy({"apiVersion": "federation.mesh/v1alpha1", "kind": "MeshPolicy",
                              "metadata": {"name": name, "namespace": namespace}, "spec": spec})


def labelled_snapshot():
    return snapshot(clusters={n: replace(info, labels=LABELLED[n]) for n, info in CLUSTERS.items()})


def names(objects):
    return [(o["kind"], o["metadata"]["namespace"], o["metadata"]["name"]) for o in objects]


def test_a_policy_without_selector_lands_in_every_cluster():
    policies = PolicySet(mesh=(policy(PA),))
    for target in CLUSTERS:
        assert ("PeerAuthentication", "istio-system", "default") in names(render_cluster(snapshot(), policies, target))


def test_objects_land_only_in_the_clusters_selected_by_labels_or_names():
    snap = labelled_snapshot()
    policies = PolicySet(mesh=(policy(PA, name="prod", selector={"matchLabels": {"env": "prod"}}),
                               policy(AP, name="b-only", selector={"clusters": ["cluster-b"]}),
                               policy(SIDECAR, name="both", selector={"clusters": ["cluster-a", "cluster-b"],
                                                                      "matchLabels": {"env": "prod"}})))
    carried = {t: [n for n in names(render_cluster(snap, policies, t)) if n[0] != "Gateway"] for t in CLUSTERS}
    assert carried == {
        "cluster-a": [("Sidecar", "default", "default"), ("PeerAuthentication", "istio-system", "default")],
        "cluster-b": [("AuthorizationPolicy", "default", "reviews-from-sleep")],
        "cluster-c": [("PeerAuthentication", "istio-system", "default")],
    }


def test_a_cluster_without_labels_is_not_selected_by_labels_and_an_unknown_target_gets_nothing():
    policies = PolicySet(mesh=(policy(PA, selector={"matchLabels": {"env": "prod"}}),))
    assert not [o for o in render_cluster(snapshot(), policies, "cluster-a") if o["kind"] == "PeerAuthentication"]
    assert render_target(snapshot(), PolicySet(mesh=(policy(PA),)), "cluster-x").objects() == []


def test_objects_carry_the_hubs_labels_and_name_their_policy_keeping_their_own():
    [ap] = render_mesh_policies([policy(AP, name="sleep-only", namespace="default")], CLUSTERS["cluster-a"])
    labels, annotations = ap["metadata"]["labels"], ap["metadata"]["annotations"]
    assert labels == {"team": "a", MANAGED_BY_LABEL: MANAGED_BY, COMPONENT_LABEL: "mesh-policy",
                      MESH_POLICY_LABEL: "default.sleep-only"}
    assert annotations == {MESH_POLICY_ANNOTATION: "default/sleep-only"}
    assert ap["spec"] == AP["spec"]


def test_a_long_policy_name_still_makes_a_valid_label_and_an_exact_annotation():
    long_name = "a" * 80 + ".b" * 40
    [pa] = render_mesh_policies([policy(PA, name=long_name)], CLUSTERS["cluster-a"])
    assert len(pa["metadata"]["labels"][MESH_POLICY_LABEL]) <= 63
    assert pa["metadata"]["annotations"][MESH_POLICY_ANNOTATION] == f"istio-system/{long_name}"


def test_order_is_fixed_by_policy_then_position_whatever_the_order_given():
    first = policy(TELEMETRY, PA, name="a-first")
    second = policy(AP, SIDECAR, name="b-second")
    target = CLUSTERS["cluster-c"]
    one = render_mesh_policies([second, first], target)
    assert one == render_mesh_policies([first, second], target)
    assert names(one) == [("Telemetry", "istio-system", "mesh-default"), ("PeerAuthentication", "istio-system", "default"),
                          ("AuthorizationPolicy", "default", "reviews-from-sleep"), ("Sidecar", "default", "default")]
    rendered = render_cluster(snapshot(), PolicySet(mesh=(second, first)), "cluster-c")
    assert rendered[0]["kind"] == "Gateway" and rendered[1:5] == one  # cluster-wide part, after the gateway


def test_two_policies_carrying_one_name_render_the_first_only():
    first, second = policy(PA, name="a"), policy({**PA, "spec": {"mtls": {"mode": "PERMISSIVE"}}}, name="b")
    [pa] = render_mesh_policies([second, first], CLUSTERS["cluster-a"])
    assert pa["metadata"]["annotations"][MESH_POLICY_ANNOTATION] == "istio-system/a"


def test_rendering_leaves_the_policy_unchanged():
    p = policy(AP)
    before = copy.deepcopy(p.objects)
    render_mesh_policies([p], CLUSTERS["cluster-a"])
    render_mesh_policies([p], CLUSTERS["cluster-b"])
    assert p.objects == before


def test_every_kind_a_policy_carries_validates_against_the_crd_schemas():
    objects = render_mesh_policies([policy(PA, AP, SIDECAR, TELEMETRY, REQ_AUTHN)], CLUSTERS["cluster-a"])
    assert len(objects) == 5
    assert_valid(objects)


def test_golden_cluster_wide_objects_of_a_labelled_cluster():
    """What ``render`` gives cluster-c (env=prod): the gateway, then both prod policies' objects."""
    policies = PolicySet(mesh=(policy(PA, TELEMETRY, name="mesh-defaults", selector={"matchLabels": {"env": "prod"}}),
                               policy(AP, name="reviews-from-sleep", namespace="default",
                                      selector={"clusters": ["cluster-b", "cluster-c"]}),
                               policy(SIDECAR, name="dev-only", selector={"matchLabels": {"env": "dev"}})))
    rendered = render_target(labelled_snapshot(), policies, "cluster-c").cluster
    assert_golden("mesh_policies_for_c", list(rendered))
