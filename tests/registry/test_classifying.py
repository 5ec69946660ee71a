"""Availability or weight: how a change is classified against the published snapshot,
and the registry pushing availability ahead of pending weight-only changes."""

from __future__ import annotations

import threading
import time

from federation.model import (
    ChangeSet, ClusterChange, ClusterInfo, ClusterService, Locality, ServiceChange, ServiceKey, Snapshot,
)
from federation.model.ids import PortSpec
from federation.registry import Registry
from federation.registry.classifying import AVAILABILITY, WEIGHT, classify

A, B = ServiceKey("shop", "a"), ServiceKey("shop", "b")
EAST, WEST = Locality("us-east", "z1"), Locality("us-west", "z1")


def svc(key, *counts, ports=()):
    return ClusterService("c1", key, ports=ports, endpoints=tuple(sorted(counts)))


def snapshot(*services):
    return Snapshot().apply(ChangeSet(tuple(ServiceChange("c1", s.key, s) for s in services)))[0]


def test_count_changes_between_non_zero_values_are_weight_only():
    snap = snapshot(svc(A, (EAST, 5), (WEST, 2)))
    assert classify(snap, ServiceChange("c1", A, svc(A, (EAST, 4), (WEST, 3)))) == WEIGHT


def test_appearing_going_and_localities_reaching_zero_or_returning_are_availability():
    snap = snapshot(svc(A, (EAST, 5), (WEST, 2)))
    assert classify(snap, ServiceChange("c1", B, svc(B, (EAST, 1)))) == AVAILABILITY  # appears
    assert classify(snap, ServiceChange("c1", A, None)) == AVAILABILITY  # goes
    assert classify(snap, ServiceChange("c1", A, svc(A))) == AVAILABILITY  # zero ready in the cluster
    assert classify(snap, ServiceChange("c1", A, svc(A, (EAST, 5)))) == AVAILABILITY  # a locality at zero
    assert classify(snapshot(svc(A, (EAST, 5))),
                    ServiceChange("c1", A, svc(A, (EAST, 5), (WEST, 1)))) == AVAILABILITY  # it returns


def test_anything_but_counts_and_cluster_changes_are_not_weights():
    snap = snapshot(svc(A, (EAST, 5)))
    ports = (PortSpec("http", 80, "HTTP"),)
    assert classify(snap, ServiceChange("c1", A, svc(A, (EAST, 5), ports=ports))) == AVAILABILITY
    assert classify(snap, ClusterChange("c1", ClusterInfo("c1"))) == AVAILABILITY


def test_availability_is_published_ahead_of_pending_weight_changes():
    published: list = []
    arrived = threading.Condition()

    def publish(snap, delta, observed, full):
        with arrived:
            published.append((time.monotonic(), snap, delta))
            arrived.notify_all()

    def wait_published(n, timeout=5.0):
        deadline = time.monotonic() + timeout
        with arrived:
            while len(published) < n and time.monotonic() < deadline:
                arrived.wait(deadline - time.monotonic())
        assert len(published) >= n, f"{len(published)} of {n} publishes"

    initial = snapshot(svc(A, (EAST, 5)), svc(B, (EAST, 5)))
    reg = Registry(publish, quiet=0.01, max_delay=2.0, weight_max=0.5, initial=initial)
    reg.start()
    try:
        reg.submit(ChangeSet((ServiceChange("c1", A, svc(A, (EAST, 4))),)))
        wait_published(1)  # the leading edge: at once
        assert published[0][2].services == {A}
        reg.submit(ChangeSet((ServiceChange("c1", A, svc(A, (EAST, 3))),)))  # a weight: waits
        reg.submit(ChangeSet((ServiceChange("c1", B, None),)))  # availability: goes ahead
        wait_published(2)
        at, snap, delta = published[1]
        assert delta.services == {B} and "c1" not in snap.services.get(B, {})
        assert snap.services[A]["c1"].ready == 4  # A's weight still waits
        wait_published(3)
        assert published[2][2].services == {A} and published[2][1].services[A]["c1"].ready == 3
        assert published[2][0] - published[0][0] >= 0.45  # coalesced for weight_max
    finally:
        reg.stop()
