"""Per-cluster metrics as Prometheus scrapes them: state, last successful sync, push
errors by reason, and the hub's reach of each east-west gateway."""

from __future__ import annotations

import re
import socket
import time
from types import SimpleNamespace

from opentelemetry import trace

from federation.model.cluster import ClusterInfo
from federation.telemetry.instruments import Telemetry
from federation.telemetry.reachability import GatewayProber
from tests.pipeline.conftest import NS, env, hub  # noqa: F401  (fixtures)
from tests.support import wait_for


def sample(scrape: str, name: str, **labels) -> float | None:
    for line in scrape.splitlines():
        if not line.startswith(name + "{"):
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', line.split("}")[0]))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return None


def test_state_and_last_successful_sync_per_cluster(hub):  # noqa: F811
    telemetry = hub.service.telemetry
    before = time.time()
    hub.set_ready("cluster-1", "both", 4)  # a new pass into every other cluster
    wait_for(lambda: all(telemetry.last_sync.get(c, 0) >= before for c in ("cluster-2", "cluster-3")),
             what="a successful sync after the change")
    scrape = telemetry.scrape()
    for name in ("cluster-1", "cluster-2", "cluster-3"):
        assert sample(scrape, "federation_cluster_state", cluster=name, state="synced") == 1.0
        synced_at = sample(scrape, "federation_cluster_last_sync_timestamp_seconds", cluster=name)
        assert synced_at is not None and synced_at <= time.time()
    assert sample(scrape, "federation_cluster_last_sync_timestamp_seconds", cluster="cluster-3") >= before


def test_push_errors_are_counted_by_reason(hub):  # noqa: F811
    telemetry = hub.service.telemetry
    c3 = hub.sim("cluster-3")
    c3.set_failure_rate(1.0, status=403)  # the member's RBAC refuses every write
    try:
        hub.set_ready("cluster-1", "both", 5)
        wait_for(lambda: (sample(telemetry.scrape(), "federation_push_errors_total",
                                 cluster="cluster-3", reason="rbac-denied") or 0) >= 1,
                 what="a push error counted as rbac-denied")
        status = {c.name: c for c in hub.service.control.status().clusters}["cluster-3"]
        from federation.check.reasons import explain
        assert "RBAC denies" in explain(status), status.error
    finally:
        c3.clear_faults()
    assert sample(telemetry.scrape(), "federation_push_errors_total", cluster="cluster-1") is None


def test_gateway_reachability_is_probed_on_loopback():
    listener = socket.create_server(("127.0.0.1", 0))
    closed = socket.create_server(("127.0.0.1", 0))
    closed_port = closed.getsockname()[1]
    closed.close()  # nothing listens there any more
    snapshot = SimpleNamespace(clusters={
        "east": ClusterInfo("east", network="n1", gateways=("127.0.0.1",), gateway_port=listener.getsockname()[1]),
        "west": ClusterInfo("west", network="n2", gateways=("127.0.0.1",), gateway_port=closed_port),
    })
    prober = GatewayProber(SimpleNamespace(snapshot=snapshot), interval=0.2, connect_timeout=1.0)
    prober.start()
    try:
        with prober.round_done:
            assert prober.round_done.wait_for(lambda: prober.rounds >= 1, timeout=10)
        seen = {attrs["cluster"]: value for value, attrs in prober.observe()}
        assert seen == {"east": 1.0, "west": 0.0}
    finally:
        assert prober.stop()
        listener.close()


def test_spans_are_recorded_only_when_exported():
    telemetry = Telemetry()
    try:
        with telemetry.tracer.start_as_current_span("push") as span:
            assert not span.is_recording() and not span.get_span_context().is_valid
            with telemetry.tracer.start_as_current_span("render", attributes={"cluster": "a"}) as inner:
                inner.set_attribute("delta.services", 1)  # what the hub does with its spans
                assert not trace.get_current_span().get_span_context().is_valid
    finally:
        telemetry.shutdown()
