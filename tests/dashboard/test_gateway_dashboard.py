"""The dashboard shows gateway reachability: with the hub probing loopback listeners
as the members' gateways, a closed one shows as withdrawn on its card and its
flows into the other clusters are gone, in the page headless Chromium draws."""

from __future__ import annotations

import re

from federation.api.client import AdminClient
from federation.dashboard.serving import Dashboard
from federation.serving import prepare_workdir
from tests.dashboard import browser
from tests.pipeline.conftest import env  # noqa: F401  (fixtures)
from tests.pipeline.test_gateway_failover import gateway_states, probed  # noqa: F401  (fixtures)
from tests.support import wait_for


def test_a_withdrawn_cluster_shows_on_its_card_and_sends_no_flow(probed, tmp_path):  # noqa: F811
    env, gateways = probed
    wd = prepare_workdir(env.workdir / "hub", hosts=["127.0.0.1"])
    client = AdminClient(env.service.api.address, ca_file=wd.ca, token=wd.token.read_text().strip())
    dashboard = Dashboard(client, "127.0.0.1:0", f"http://127.0.0.1:{env.service.metrics_port}/metrics",
                          poll_seconds=0.5)
    dashboard.start()
    try:
        dom = browser.run(dashboard.url)
        assert re.search(r'data-gateway="reachable"[^>]*>east-west gateway 127\.0\.9\.2 · reachable<', dom), dom
        assert 'data-from="cluster-2" data-to="cluster-3"' in dom
        gateways["cluster-2"].close()
        wait_for(lambda: gateway_states(env)["cluster-2"] == "withdrawn", timeout=15, what="cluster-2 withdrawn")
        wait_for(lambda: any(c["gateway"] == "withdrawn" for c in dashboard.current_state()["clusters"]),
                 what="the dashboard's state says withdrawn")
        dom = browser.run(dashboard.url)
        browser.run(dashboard.url, screenshot=tmp_path / "dashboard-withdrawn.png")
        print(f"dashboard screenshot: {tmp_path / 'dashboard-withdrawn.png'}")
        assert re.search(r'data-gateway="withdrawn"[^>]*>east-west gateway 127\.0\.9\.2 · withdrawn since ', dom)
        assert "gateway withdrawn: its east-west gateway has not answered" in dom
        assert 'data-from="cluster-2"' not in dom
    finally:
        dashboard.stop()
        client.close()
