"""Admin operations on a running hub: bad input is refused clearly and changes nothing;
policies change the rendered DestinationRules; metrics are exported."""

from __future__ import annotations

import urllib.request

import pytest
import yaml

from federation import errors
from tests.pipeline.conftest import DR, MANAGED
from tests.support import wait_for

POLICY = """
apiVersion: federation.mesh/v1alpha1
kind: FailoverPolicy
metadata: {name: both-failover, namespace: shop}
spec:
  selector: {namespace: shop, name: both}
  failover:
    - {from: r1, to: r2}
  outlierDetection: {consecutive5xxErrors: 7, interval: 3s, baseEjectionTime: 1m}
"""


def store_dump(env):
    items, _ = env.store.range("")
    return {kv.key: kv.value for kv in items if not kv.key.startswith(("status/", "summaries/", "replicas/"))}


def test_bad_cluster_registrations_are_refused_and_change_nothing(hub, tmp_path):
    control = hub.service.control
    before = store_dump(hub)
    good = hub.fleet.kubeconfig_path("cluster-1").read_text()
    with pytest.raises(errors.ConfigError, match="not valid YAML|kubeconfig"):
        control.add_cluster("broken", "clusters: [unclosed")
    with pytest.raises(errors.ConfigError, match="clusters"):
        control.add_cluster("broken", "apiVersion: v1\nkind: Config\n")
    with pytest.raises(errors.AlreadyExists, match="cluster-1"):
        control.add_cluster("cluster-1", good)
    with pytest.raises(errors.ValidationError, match="DNS-1123"):
        control.add_cluster("Bad_Name", good)
    unreachable = good.replace(hub.sim("cluster-1").url, "https://127.0.0.1:1")
    with pytest.raises(errors.ClusterUnreachable, match="unreachable"):
        control.add_cluster("gone", unreachable)
    bad_token = yaml.safe_load(good)
    bad_token["users"][0]["user"]["token"] = "forged"
    with pytest.raises(errors.AuthError, match="refused"):
        control.add_cluster("forged", yaml.safe_dump(bad_token))
    with pytest.raises(errors.ConfigError, match="istiod address 'istiod' is not HOST:PORT"):
        control.add_cluster("fresh", good.replace("cluster-1", "fresh"), istiod_ca="istiod")
    assert store_dump(hub) == before


def test_the_istiod_address_is_kept_with_the_registration(hub):
    hub.service.control.remove_cluster("cluster-3")
    wait_for(lambda: hub.store.get("clusters/cluster-3") is None, what="cluster-3 removed")
    hub.service.control.add_cluster("cluster-3", hub.fleet.kubeconfig_path("cluster-3").read_text(),
                                    istiod_ca="10.0.0.3:15012")
    (row,) = [c for c in hub.service.control.list_clusters() if c.name == "cluster-3"]
    assert row.istiod_ca == "10.0.0.3:15012"
    member = wait_for(lambda: hub.service.hub.members().get("cluster-3"), what="cluster-3 running again")
    assert member.record.istiod_ca == "10.0.0.3:15012"


def test_cluster_credentials_are_stored_sealed_and_never_listed(hub):
    token = yaml.safe_load(hub.fleet.kubeconfig_path("cluster-1").read_text())["users"][0]["user"]["token"]
    items, _ = hub.store.range("clusters/")
    assert items and all(token.encode() not in kv.value for kv in items)
    listed = repr(hub.service.control.list_clusters()) + hub.service.control.render("cluster-1")
    assert token not in listed


def test_failover_policy_changes_the_destination_rule_and_invalid_ones_are_refused(hub):
    control = hub.service.control
    assert control.apply_resources(POLICY) == ["FailoverPolicy shop/both-failover created"]
    assert control.apply_resources(POLICY) == ["FailoverPolicy shop/both-failover unchanged"]

    def rule():
        rules = hub.owned("cluster-3", DR, f"{MANAGED},federation.mesh/service-name=both")
        return rules and rules[0]["spec"]["trafficPolicy"]

    policy = wait_for(lambda: (lambda p: p if p and p["outlierDetection"].get("consecutive5xxErrors") == 7
                               else None)(rule()), what="policy applied to the DestinationRule")
    assert policy["loadBalancer"]["localityLbSetting"]["failover"] == [{"from": "r1", "to": "r2"}]
    before = store_dump(hub)
    broken = POLICY.replace("to: r2", "too: r2")
    with pytest.raises(errors.ValidationError, match=r"spec.failover\[0\]"):
        control.apply_resources(broken)
    with pytest.raises(errors.ValidationError, match="unknown"):
        control.apply_resources(POLICY.replace("FailoverPolicy", "NoSuchKind"))
    with pytest.raises(errors.ValidationError, match="YAML"):
        control.apply_resources("kind: [")
    assert store_dump(hub) == before
    assert control.delete_resources(POLICY) == ["FailoverPolicy shop/both-failover deleted"]
    wait_for(lambda: rule() and "failover" not in rule()["loadBalancer"]["localityLbSetting"],
             what="default rule back")


def test_metrics_are_exported_for_prometheus(hub):
    port = hub.service.telemetry.serve("127.0.0.1:0")
    hub.set_ready("cluster-1", "both", 6)
    wait_for(lambda: any(we["spec"].get("weight") == 6 for we in hub.owned("cluster-3")))

    def scrape():
        return urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()

    text = wait_for(lambda: (lambda t: t if "federation_propagation_latency_seconds_count" in t else None)(
        scrape()), what="latency histogram exported")
    assert 'federation_clusters{' in text and 'state="synced"' in text
    assert "federation_services" in text and "federation_endpoints" in text
    assert 'result="applied"' in text
