"""MeshPolicy end to end on simulated members (hub over real HTTPS): the carried objects land in
exactly the selected clusters, are repaired when deleted by hand, pruned when the policy stops
selecting a cluster or is deleted, and a user's object of the same name is reported and left alone."""

from __future__ import annotations

import pytest
import yaml

from federation.errors import ValidationError
from federation.model.mesh_policy import MESH_POLICY_ANNOTATION
from tests.pipeline.conftest import MANAGED
from tests.support import wait_for

PA = ("security.istio.io/v1", "PeerAuthentication")
AP = ("security.istio.io/v1", "AuthorizationPolicy")
CLUSTERS = ("cluster-1", "cluster-2", "cluster-3")


def mesh_policy(name: str, clusters=None, objects=None, labels=None) -> str:
    spec = {"objects": objects or [
        {"apiVersion": "security.istio.io/v1beta1", "kind": "PeerAuthentication",
         "metadata": {"name": "default"}, "spec": {"mtls": {"mode": "STRICT"}}},
        {"apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
         "metadata": {"name": "both-from-sleep", "namespace": "shop"},
         "spec": {"selector": {"matchLabels": {"app": "both"}}, "action": "ALLOW",
                  "rules": [{"from": [{"source": {"principals": ["cluster.local/ns/shop/sa/sleep"]}}]}]}}]}
    if clusters is not None:
        spec["clusterSelector"] = {"clusters": list(clusters)}
    if labels is not None:
        spec["clusterSelector"] = {"matchLabels": labels}
    return yaml.safe_dump({"apiVersion": "federation.mesh/v1alpha1", "kind": "MeshPolicy",
                           "metadata": {"name": name, "namespace": "istio-system"}, "spec": spec})


def carried(hub, cluster: str, kind=PA) -> list[str]:
    return sorted(f"{o['metadata']['namespace']}/{o['metadata']['name']}"
                  for o in hub.owned(cluster, kind, f"{MANAGED},federation.mesh/component=mesh-policy"))


def placement(hub) -> dict[str, tuple[list[str], list[str]]]:
    return {c: (carried(hub, c, PA), carried(hub, c, AP)) for c in CLUSTERS}


def placed_in(*clusters):
    want = (["istio-system/default"], ["shop/both-from-sleep"])
    return {c: want if c in clusters else ([], []) for c in CLUSTERS}


def test_objects_land_in_the_selected_clusters_are_repaired_and_pruned(hub):
    control = hub.service.control
    assert control.apply_resources(mesh_policy("strict", ["cluster-1", "cluster-3"])) == [
        "MeshPolicy istio-system/strict created"]
    wait_for(lambda: placement(hub) == placed_in("cluster-1", "cluster-3"), what="objects in cluster-1 and 3 only")
    [pa] = hub.owned("cluster-1", PA)
    assert pa["metadata"]["annotations"][MESH_POLICY_ANNOTATION] == "istio-system/strict"
    assert pa["spec"] == {"mtls": {"mode": "STRICT"}} and pa["apiVersion"] == PA[0]

    # deleted by hand: written again by the owned-object watch
    hub.sim("cluster-1").delete(*PA, "default", "istio-system")
    wait_for(lambda: carried(hub, "cluster-1") == ["istio-system/default"], what="PeerAuthentication repaired")

    # the selector moves from cluster-3 to cluster-2: pruned there, written here
    assert control.apply_resources(mesh_policy("strict", ["cluster-1", "cluster-2"])) == [
        "MeshPolicy istio-system/strict configured"]
    wait_for(lambda: placement(hub) == placed_in("cluster-1", "cluster-2"), what="moved from cluster-3 to 2")

    # an empty selector: every member
    control.apply_resources(mesh_policy("strict"))
    wait_for(lambda: placement(hub) == placed_in(*CLUSTERS), what="objects in every member")

    assert control.delete_resources(mesh_policy("strict")) == ["MeshPolicy istio-system/strict deleted"]
    wait_for(lambda: placement(hub) == placed_in(), what="objects pruned from every member")
    wait_for(hub.synced, what="every cluster synced after the prune")


def test_a_label_selector_follows_the_clusters_labels_as_they_change(hub):
    control = hub.service.control
    control.label_cluster("cluster-2", {"env": "prod"})
    control.apply_resources(mesh_policy("prod", labels={"env": "prod"}))
    wait_for(lambda: placement(hub) == placed_in("cluster-2"), what="objects in the labelled cluster-2 only")
    control.label_cluster("cluster-3", {"env": "prod"})
    wait_for(lambda: placement(hub) == placed_in("cluster-2", "cluster-3"), what="cluster-3 selected once labelled")
    control.label_cluster("cluster-2", {}, remove=("env",))
    wait_for(lambda: placement(hub) == placed_in("cluster-3"), what="pruned from cluster-2 once unlabelled")


def test_a_users_object_of_the_same_name_is_reported_and_left_alone(hub):
    user = {"apiVersion": PA[0], "kind": PA[1], "metadata": {"name": "default", "namespace": "istio-system"},
            "spec": {"mtls": {"mode": "PERMISSIVE"}}}
    hub.sim("cluster-2").apply(user)
    hub.service.control.apply_resources(mesh_policy("strict"))
    wait_for(lambda: carried(hub, "cluster-1") == carried(hub, "cluster-3") == ["istio-system/default"],
             what="the PeerAuthentication where no user object is")

    def conflicts():
        status = {c.name: c for c in hub.service.control.status().clusters}
        return [text for text in status["cluster-2"].conflicts if "PeerAuthentication" in text]

    [text] = wait_for(conflicts, what="the conflict in cluster-2's status")
    assert text == ("PeerAuthentication istio-system/default (security.istio.io/v1) exists and is not managed by "
                    "mesh-federation; MeshPolicy istio-system/strict wants that name: not written, the existing "
                    "object left alone")
    live = hub.sim("cluster-2").get(*PA, "default", "istio-system")
    assert live["spec"] == {"mtls": {"mode": "PERMISSIVE"}}
    assert "app.kubernetes.io/managed-by" not in (live["metadata"].get("labels") or {})
    assert carried(hub, "cluster-2", AP) == ["shop/both-from-sleep"]  # the policy's other object is written

    hub.service.control.delete_resources(mesh_policy("strict"))
    wait_for(lambda: placement(hub) == placed_in(), what="the hub's objects pruned")
    assert hub.sim("cluster-2").get(*PA, "default", "istio-system")["spec"] == {"mtls": {"mode": "PERMISSIVE"}}
    wait_for(lambda: not conflicts(), what="the conflict gone with the policy")


def test_a_second_policy_claiming_an_object_is_refused_and_nothing_is_stored(hub):
    control = hub.service.control
    control.apply_resources(mesh_policy("first", ["cluster-1"]))
    both = mesh_policy("second", ["cluster-2"], objects=[
        {"apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication",
         "metadata": {"name": "default", "namespace": "istio-system"}, "spec": {}}])
    other = mesh_policy("third", ["cluster-2"], objects=[
        {"apiVersion": "telemetry.istio.io/v1", "kind": "Telemetry",
         "metadata": {"name": "logs", "namespace": "istio-system"},
         "spec": {"accessLogging": [{"providers": [{"name": "envoy"}]}]}}])
    with pytest.raises(ValidationError, match=r"MeshPolicy istio-system/second: spec.objects\[0\]: "
                                              r"PeerAuthentication istio-system/default is already carried by "
                                              r"MeshPolicy istio-system/first"):
        control.apply_resources(other + "---\n" + both)
    assert [d["metadata"]["name"] for d in yaml.safe_load_all(control.list_resources("MeshPolicy"))] == ["first"]


def test_a_policy_carrying_a_secret_is_refused_at_apply(hub):
    secret = mesh_policy("bad", objects=[{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "cacerts"}}])
    with pytest.raises(ValidationError, match=r"spec.objects\[0\].kind: 'Secret' cannot be carried"):
        hub.service.control.apply_resources(secret)
    assert hub.service.control.list_resources("MeshPolicy").strip() == ""


def test_an_object_in_a_namespace_a_cluster_lacks_is_refused_there_and_shown_in_status(hub):
    hub.service.control.apply_resources(mesh_policy("elsewhere", ["cluster-1"], objects=[
        {"apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
         "metadata": {"name": "deny-all", "namespace": "nowhere"}, "spec": {}}]))

    def error():
        return {c.name: c for c in hub.service.control.status().clusters}["cluster-1"].error

    text = wait_for(lambda: "namespaces/nowhere/authorizationpolicies/deny-all" in error() and error(),
                    what="the refused write in cluster-1's status")
    assert '404 namespaces "nowhere" not found' in text and not hub.owned("cluster-1", AP)
