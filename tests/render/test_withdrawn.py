"""Render with gateway-aware failover: a withdrawn cluster (its gateway not
answering the hub's probes) gets no entries in the other clusters; its own
cluster's configuration is what it was."""

from __future__ import annotations

from federation.model import ChangeSet, GatewayChange
from federation.model.ids import SOURCE_CLUSTER_LABEL
from federation.render import render_service
from federation.render.view import build_view

from .scenarios import reviews_services
from .support import REVIEWS, assert_valid, snapshot


def withdrawn(snap, cluster):
    after, delta = snap.apply(ChangeSet((GatewayChange(cluster, False),)))
    assert delta.clusters == {cluster}
    return after


def sources(objects):
    return sorted(o["metadata"]["labels"][SOURCE_CLUSTER_LABEL] for o in objects if o["kind"] == "WorkloadEntry")


def test_gateways_skip_an_unreachable_cluster():
    snap = withdrawn(snapshot(reviews_services()), "cluster-b")
    view = build_view(snap, REVIEWS, "cluster-c")
    assert [g.clusters for g in view.remote] == [("cluster-a",)]
    assert build_view(snapshot(reviews_services()), REVIEWS, "cluster-c").remote[1].clusters == ("cluster-b",)


def test_a_withdrawn_clusters_entries_leave_the_others_and_its_own_config_stays():
    before = snapshot(reviews_services(with_local=True))
    after = withdrawn(before, "cluster-b")
    objects = render_service(after, REVIEWS, [], "cluster-c")
    assert sources(objects) == ["cluster-a"]
    assert sources(render_service(after, REVIEWS, [], "cluster-a")) == ["cluster-c"]
    assert render_service(after, REVIEWS, [], "cluster-b") == render_service(before, REVIEWS, [], "cluster-b")
    assert_valid(objects)
    restored, _ = after.apply(ChangeSet((GatewayChange("cluster-b", True),)))
    assert render_service(restored, REVIEWS, [], "cluster-c") == render_service(before, REVIEWS, [], "cluster-c")
