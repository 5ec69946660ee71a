"""Render with import scope: a Service's ``federation.mesh/import-selector`` (on
cluster labels) decides which targets import its endpoints; a target no exporting
cluster selects gets nothing for the service. Pure: snapshots in, objects out."""

from __future__ import annotations

from dataclasses import replace

from federation.model import ChangeSet, ClusterChange
from federation.model.ids import SOURCE_CLUSTER_LABEL
from federation.model.scope import scoped_services
from federation.render import render_cluster, render_service
from federation.render.view import build_view, imported_to

from .support import CLUSTERS, REVIEWS, RATINGS, assert_valid, service, snapshot

# cluster-a and cluster-c are prod, cluster-b is dev
LABELLED = {
    "cluster-a": replace(CLUSTERS["cluster-a"], labels=(("env", "prod"),)),
    "cluster-b": replace(CLUSTERS["cluster-b"], labels=(("env", "dev"),)),
    "cluster-c": replace(CLUSTERS["cluster-c"], labels=(("env", "prod"), ("tier", "gold"))),
}


def exported(cluster, selector="", key=REVIEWS, ready=2):
    return replace(service(cluster, key=key, endpoints=[(f"{CLUSTERS[cluster].region}/z1", ready)]),
                   import_selector=selector)


def sources(objects):
    return sorted(o["metadata"]["labels"][SOURCE_CLUSTER_LABEL] for o in objects if o["kind"] == "WorkloadEntry")


def kinds(objects):
    return sorted(o["kind"] for o in objects)


def test_a_service_is_imported_only_by_the_clusters_its_selector_selects():
    snap = snapshot([exported("cluster-a", "env=prod")], clusters=LABELLED)
    selected = render_service(snap, REVIEWS, [], "cluster-c")
    assert kinds(selected) == ["DestinationRule", "Service", "WorkloadEntry"]  # stub, entry, rule
    assert sources(selected) == ["cluster-a"]
    assert_valid(selected)
    assert render_service(snap, REVIEWS, [], "cluster-b") == []  # no entries, no stub, no rule
    view = build_view(snap, REVIEWS, "cluster-b")
    assert (view.federated, view.needs_stub, view.wanted, view.unselected) == (False, False, False, ("cluster-a",))
    assert imported_to(snap, REVIEWS) == ("cluster-c",)


def test_a_target_gets_the_endpoints_of_exactly_the_clusters_that_select_it():
    # a exports to prod only, c to every cluster: b (dev) gets c's endpoints alone
    snap = snapshot([exported("cluster-a", "env=prod"), exported("cluster-c")], clusters=LABELLED)
    assert sources(render_service(snap, REVIEWS, [], "cluster-b")) == ["cluster-c"]
    assert build_view(snap, REVIEWS, "cluster-b").unselected == ("cluster-a",)
    assert sources(render_service(snap, REVIEWS, [], "cluster-c")) == ["cluster-a"]
    assert sources(render_service(snap, REVIEWS, [], "cluster-a")) == ["cluster-c"]
    assert imported_to(snap, REVIEWS) == ("cluster-a", "cluster-b", "cluster-c")  # the union


def test_set_based_and_negative_selectors():
    snap = snapshot([exported("cluster-b", "env notin (dev),tier in (gold,silver)")], clusters=LABELLED)
    assert imported_to(snap, REVIEWS) == ("cluster-c",)
    snap = snapshot([exported("cluster-b", "!tier")], clusters=LABELLED)
    assert imported_to(snap, REVIEWS) == ("cluster-a",)


def test_a_selector_that_does_not_parse_imports_nowhere():
    snap = snapshot([exported("cluster-a", "env in prod")], clusters=LABELLED)
    assert imported_to(snap, REVIEWS) == ()
    assert all(render_service(snap, REVIEWS, [], t) == [] for t in LABELLED)


def test_a_service_without_a_selector_is_imported_everywhere_as_before():
    labelled = snapshot([exported("cluster-a")], clusters=LABELLED)
    plain = snapshot([exported("cluster-a")])
    assert imported_to(labelled, REVIEWS) == ("cluster-b", "cluster-c")
    for target in CLUSTERS:
        assert render_service(labelled, REVIEWS, [], target) == render_service(plain, REVIEWS, [], target)


def test_a_label_change_moves_the_service_and_scoped_services_name_what_to_render_again():
    snap = snapshot([exported("cluster-a", "env=prod"), exported("cluster-a", key=RATINGS)], clusters=LABELLED)
    assert scoped_services(snap) == {REVIEWS}  # ratings goes everywhere whatever the labels
    before_b, before_c = render_cluster(snap, [], "cluster-b"), render_cluster(snap, [], "cluster-c")
    changes = ChangeSet((ClusterChange("cluster-b", replace(LABELLED["cluster-b"], labels=(("env", "prod"),))),
                         ClusterChange("cluster-c", replace(LABELLED["cluster-c"], labels=()))))
    after, delta = snap.apply(changes)
    assert delta.clusters == {"cluster-b", "cluster-c"}
    assert imported_to(after, REVIEWS) == ("cluster-b",)
    assert sources(render_service(after, REVIEWS, [], "cluster-b")) == ["cluster-a"]
    assert render_service(after, REVIEWS, [], "cluster-c") == []
    assert render_cluster(snap, [], "cluster-b") == before_b and render_cluster(snap, [], "cluster-c") == before_c
