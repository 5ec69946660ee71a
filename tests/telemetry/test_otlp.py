"""Traces exported over OTLP/gRPC to a real (in-process) collector endpoint."""

from __future__ import annotations

import pytest

from federation import errors
from federation.api.client import AdminClient
from federation.serving import prepare_workdir
from federation.telemetry import Telemetry
from federation.telemetry.exporting import parse_endpoint
from tests.pipeline.conftest import env  # noqa: F401  (fixtures)
from tests.support import wait_for
from tests.telemetry.receiver import Receiver


def test_reconcile_render_push_and_api_spans_reach_the_collector(env):  # noqa: F811
    with Receiver() as receiver:
        service = env.start_hub(otlp_endpoint=f"http://127.0.0.1:{receiver.port}")
        env.register_all()
        wait_for(env.synced, what="every cluster synced")
        wd = prepare_workdir(env.workdir / "hub", hosts=["127.0.0.1"])  # the hub's own files
        with AdminClient(service.api.address, ca_file=wd.ca, token=wd.token.read_text()) as client:
            client.status()  # an API call, traced by the server

        def pipeline(spans):
            names = {s["name"] for s in spans}
            pushed = {s["attributes"].get("cluster") for s in spans if s["name"] == "push"}
            rendered = {s["attributes"].get("cluster") for s in spans if s["name"] == "render"}
            wanted = {"cluster-1", "cluster-2", "cluster-3"}
            return ("reconcile" in names and pushed >= wanted and rendered >= wanted
                    and "rpc /federation.v1.Admin/Status" in names)

        receiver.wait_for(pipeline)
        spans = receiver.spans
        reconciles = {s["span_id"]: s for s in spans if s["name"] == "reconcile"}
        renders = [s for s in spans if s["name"] == "render"]
        # render runs inside a reconcile: same trace, the reconcile is its parent.
        assert all(r["parent_id"] in reconciles for r in renders)
        assert all(reconciles[r["parent_id"]]["trace_id"] == r["trace_id"] for r in renders)
        # each cluster's push links to the render whose changes it carried
        by_id = {(s["trace_id"], s["span_id"]): s for s in renders}
        for cluster in ("cluster-1", "cluster-2", "cluster-3"):
            linked = [by_id[link] for s in spans if s["name"] == "push"
                      and s["attributes"].get("cluster") == cluster for link in s["links"] if link in by_id]
            assert linked and {r["attributes"]["cluster"] for r in linked} == {cluster}, cluster
        assert {s["service"] for s in spans} == {"mesh-federation"}
        service.stop()
        env.service = None


def test_a_bad_endpoint_is_named():
    with pytest.raises(errors.ConfigError, match="expected http://HOST:PORT or https://HOST:PORT"):
        Telemetry(otlp_endpoint="grpc://collector:4317")
    with pytest.raises(errors.ConfigError, match=r"'http://collector': expected http://HOST:PORT"):
        parse_endpoint("http://collector")
    assert parse_endpoint("https://otel.example:4317") == ("otel.example:4317", False)
    assert parse_endpoint("http://[::1]:4317") == ("[::1]:4317", True)
