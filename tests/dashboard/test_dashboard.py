"""The dashboard served from the operator's machine, read by headless Chromium."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request

import pytest

from federation.api.client import AdminClient
from federation.dashboard.latency import parse, quantile
from federation.dashboard.serving import Dashboard
from federation.serving import prepare_workdir
from tests.dashboard import browser
from tests.pipeline.conftest import env  # noqa: F401  (fixtures)
from tests.support import wait_for


@pytest.fixture
def served(env):  # noqa: F811
    service = env.start_hub(metrics_listen="127.0.0.1:0")
    env.register_all()
    wait_for(env.synced, what="every cluster synced")
    env.set_ready("cluster-1", "both", 4)  # a change, so propagation latency is measured
    wd = prepare_workdir(env.workdir / "hub", hosts=["127.0.0.1"])
    token = wd.token.read_text().strip()
    client = AdminClient(service.api.address, ca_file=wd.ca, token=token)
    dashboard = Dashboard(client, "127.0.0.1:0", f"http://127.0.0.1:{service.metrics_port}/metrics",
                          poll_seconds=0.5)
    dashboard.start()
    try:
        yield env, dashboard, token
    finally:
        dashboard.stop()
        client.close()


def clusters_in(dom: str) -> dict[str, str]:
    return dict(re.findall(r'<div class="card b-\w+" data-cluster="([^"]+)" data-state="([^"]+)"', dom))


def test_page_draws_clusters_by_network_with_flows_and_updates(served, tmp_path):
    env, dashboard, token = served
    wait_for(lambda: (dashboard.current_state()["clusters"][2]["latency"] or {}).get("count"),
             what="a propagation latency measured")
    shot = tmp_path / "dashboard.png"
    browser.run(dashboard.url, screenshot=shot)
    print(f"dashboard screenshot: {shot}")
    assert shot.stat().st_size > 10_000
    dom = browser.run(dashboard.url)
    assert clusters_in(dom) == {"cluster-1": "synced", "cluster-2": "synced", "cluster-3": "synced"}
    # Grouped by network: net1 holds cluster-1 and cluster-2, net2 cluster-3.
    assert 'data-network="net1"' in dom and 'data-network="net2"' in dom
    assert re.search(r'data-from="cluster-1" data-to="cluster-3"', dom)  # both flows from cluster-1
    assert 'data-from="cluster-3"' not in dom  # cluster-3 runs no federated service
    assert "propagation p50" in dom
    assert int(re.search(r'data-polls="(\d+)"', dom)[1]) >= 2  # it keeps polling
    assert token not in dom

    env.sim("cluster-3").go_offline()
    try:
        wait_for(lambda: any(c.name == "cluster-3" and c.state != "synced"
                             for c in env.service.control.status().clusters), what="cluster-3 down")
        dom = browser.run(dashboard.url)
        state = clusters_in(dom)["cluster-3"]
        assert state in ("unreachable", "stale")
        assert "unreachable: connection refused" in dom  # the reason, in words
        browser.run(dashboard.url, screenshot=tmp_path / "dashboard-unreachable.png")
        print(f"dashboard screenshot: {tmp_path / 'dashboard-unreachable.png'}")
    finally:
        env.sim("cluster-3").go_online()


def test_the_browser_never_gets_the_token_and_nothing_is_writable(served):
    _env, dashboard, token = served
    for path in ("", "api/state"):
        body = urllib.request.urlopen(dashboard.url + path, timeout=10).read().decode()
        assert token not in body
    state = json.loads(urllib.request.urlopen(dashboard.url + "api/state", timeout=10).read())
    assert {n["name"]: n["clusters"] for n in state["networks"]} == {
        "net1": ["cluster-1", "cluster-2"], "net2": ["cluster-3"]}
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(urllib.request.Request(dashboard.url + "api/state", data=b"{}"), timeout=10)
    assert refused.value.code == 405
    rebinding = urllib.request.Request(dashboard.url, headers={"Host": "evil.example:80"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(rebinding, timeout=10)
    assert refused.value.code == 403


def test_latency_quantiles_from_the_histogram():
    scrape = "\n".join([
        'federation_propagation_latency_seconds_bucket{cluster="c1",le="0.1"} 2.0',
        'federation_propagation_latency_seconds_bucket{cluster="c1",le="0.2"} 8.0',
        'federation_propagation_latency_seconds_bucket{cluster="c1",le="+Inf"} 10.0',
        'federation_propagation_latency_seconds_count{cluster="c1"} 10.0'])
    found = parse(scrape)
    assert found["c1"]["count"] == 10
    assert found["c1"]["p50"] == pytest.approx(0.15)  # rank 5 halfway through (0.1, 0.2]
    assert found["c1"]["p95"] == pytest.approx(0.2)  # beyond the last finite bucket
    assert quantile(0.1, [(0.1, 2.0), (1.0, 2.0)]) == pytest.approx(0.01)  # rank 0.2 of 2 in (0, 0.1]
