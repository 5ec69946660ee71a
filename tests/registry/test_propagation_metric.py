"""``federation_propagation_latency_seconds`` against an outside measurement.

Each observation spans a change seen in its source cluster until its write is
acknowledged in the target, so it must agree with a stopwatch around the same
change (endpoint write in cluster-1 → new weight committed in cluster-3), and
be a little shorter, never seconds or years off.
"""

from __future__ import annotations

import time

from prometheus_client.parser import text_string_to_metric_families

from federation.model.ids import SERVICE_NAME_LABEL, SOURCE_CLUSTER_LABEL
from tests.pipeline.conftest import WE, env, hub  # noqa: F401 - fixtures
from tests.support import wait_for

METRIC = "federation_propagation_latency_seconds"
TARGET = "cluster-3"


def histogram(service, cluster: str) -> tuple[float, int]:
    """(sum, count) of the latency histogram for one target cluster."""
    total = count = 0.0
    for family in text_string_to_metric_families(service.telemetry.scrape()):
        for sample in family.samples:
            if sample.labels.get("cluster") != cluster:
                continue
            if sample.name == f"{METRIC}_sum":
                total = sample.value
            elif sample.name == f"{METRIC}_count":
                count = sample.value
    return total, int(count)


def weight_committed(sim, weight: int, after: int, timeout: float = 10.0) -> float:
    """Monotonic time at which cluster-1's entry for ``both`` got ``weight`` in ``sim``."""
    store = sim.store
    rtype = store.rtype(*WE)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        events, _ = store.wait_events(rtype, after, min(0.5, max(0.0, deadline - time.monotonic())))
        now = time.monotonic()
        for event in events:
            after = event.rv
            labels = event.entry.labels
            if (labels.get(SERVICE_NAME_LABEL), labels.get(SOURCE_CLUSTER_LABEL)) == ("both", "cluster-1") \
                    and (event.entry.obj.get("spec") or {}).get("weight") == weight:
                return now
    raise AssertionError(f"weight {weight} never reached {sim.name} within {timeout}s")


def test_latency_observations_agree_with_an_outside_stopwatch(hub):
    target = hub.sim(TARGET)
    wait_for(lambda: histogram(hub.service, TARGET)[1] >= 1 or hub.owned(TARGET), what="first push")
    measured = []
    observed = []
    for i, ready in enumerate((2, 3, 1, 3, 2, 1, 2, 3)):
        before_sum, before_count = histogram(hub.service, TARGET)
        rv = target.store.resource_version
        started = time.monotonic()
        hub.set_ready("cluster-1", "both", ready, total=3)
        measured.append(weight_committed(target, ready, rv) - started)
        after = wait_for(lambda: (h := histogram(hub.service, TARGET))[1] > before_count and h,
                         what=f"observation {i} recorded")
        observed.append((after[0] - before_sum) / (after[1] - before_count))
    outside, metric = sum(measured) / len(measured), sum(observed) / len(observed)
    # The metric starts when the watcher sees the change (a little after the write) and
    # ends once the push pass is acknowledged (a little after the stopwatch sees the commit).
    assert 0.5 * outside <= metric <= 1.35 * outside + 0.01, (measured, observed)
    assert all(0 < o < 5.0 for o in observed), observed
