"""Rendering one snapshot into many targets through one ``SharedRendering``: every
target gets exactly what it gets rendered on its own, and targets that see a
service alike get the very same objects, rendered once."""

from __future__ import annotations

from dataclasses import replace

import pytest

from federation.model import ClusterInfo
from federation.model.policies import PolicySet
from federation.render import render_service
from federation.render.sharing import SharedRendering

from .scenarios import FAILOVER, traffic_split
from .support import CLUSTERS, NAMESPACES, RATINGS, REVIEWS, service, snapshot, vm

# Three more clusters beside a, b and c: d and e alike (the same network and
# region, no Service of reviews), f labelled so that an import selector leaves it out.
FLEET = {
    **{name: replace(info, labels=(("env", "prod"),)) for name, info in CLUSTERS.items()},
    "cluster-d": ClusterInfo("cluster-d", "net-3", "ap-south", ("10.0.3.1",), namespaces=NAMESPACES,
                             labels=(("env", "prod"),)),
    "cluster-e": ClusterInfo("cluster-e", "net-3", "ap-south", ("10.0.4.1",), namespaces=NAMESPACES,
                             labels=(("env", "prod"),)),
    "cluster-f": ClusterInfo("cluster-f", "net-3", "ap-south", ("10.0.5.1",), namespaces=NAMESPACES,
                             labels=(("env", "dev"),)),
}
SPLIT = traffic_split([{"name": "east", "region": "us-east", "weight": 80}, {"name": "rest", "weight": 20}])


def fleet_snapshot():
    """reviews in a and b; ratings in a (exported to prod only) and on a VM; user
    rules for reviews in d and for ratings' routes in e."""
    services = [
        service("cluster-a", endpoints=[("us-east/us-east-1a", 2)]),
        service("cluster-b", endpoints=[("us-west/us-west-2a", 3)]),
        replace(service("cluster-a", key=RATINGS, endpoints=[("us-east/us-east-1a", 1)]),
                import_selector="env=prod"),
    ]
    return snapshot(services, vms=[vm("vm-1")], clusters=FLEET,
                    user_rules={"cluster-d": {"reviews.default.svc.cluster.local"}},
                    user_routes={"cluster-e": {"*.default.svc.cluster.local"}})


@pytest.mark.parametrize("policies", [PolicySet(), PolicySet(failover=(FAILOVER,), splits=(SPLIT,))],
                         ids=["plain", "failover-and-split"])
@pytest.mark.parametrize("order", [sorted(FLEET), sorted(FLEET, reverse=True)], ids=["a-first", "f-first"])
def test_every_target_gets_what_it_gets_rendered_alone(policies, order):
    snap = fleet_snapshot()
    shared = SharedRendering(snap, policies)
    for target in order + ["cluster-unknown"]:
        for key in (REVIEWS, RATINGS):
            assert shared.service(key, target) == render_service(snap, key, policies, target), (key, target)


def test_targets_that_see_a_service_alike_share_one_rendering_of_it():
    snap = fleet_snapshot()
    shared = SharedRendering(snap, PolicySet())
    got = {target: shared.service(REVIEWS, target) for target in sorted(FLEET)}
    assert got["cluster-c"] and got["cluster-c"] is got["cluster-e"] is got["cluster-f"]  # no Service, no rule
    assert got["cluster-d"] is not got["cluster-c"]  # a user rule shadows the hub's there
    assert [o["kind"] for o in got["cluster-d"]] == [o["kind"] for o in got["cluster-c"]][:-1]  # no rule
    assert got["cluster-a"] is not got["cluster-b"]  # each has the Service: a view of its own
    # a, b, d, and one for c, e and f: four renderings for six targets
    assert len({id(objects) for objects in got.values()}) == 4


def test_an_import_selector_gives_the_targets_it_leaves_out_a_case_of_their_own():
    snap = fleet_snapshot()
    shared = SharedRendering(snap, PolicySet())
    dev, prod = shared.service(RATINGS, "cluster-f"), shared.service(RATINGS, "cluster-c")
    entries = lambda objs: sorted(o["metadata"]["name"] for o in objs if o["kind"] == "WorkloadEntry")
    assert len(entries(prod)) == len(entries(dev)) + 1  # the VM alone for f; a's gateway too for c
