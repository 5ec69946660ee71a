"""The federation pipeline end to end: simulated clusters → hub → Istio objects in every cluster."""

from __future__ import annotations

import json

from federation.api.client import AdminClient
from tests.pipeline.conftest import DR, MANAGED, NS, SVC, WE
from tests.support import crd_schemas, wait_for


def entries_for(env, target, service):
    return {we["metadata"]["labels"]["federation.mesh/source-cluster"]: we
            for we in env.owned(target, WE, f"{MANAGED},federation.mesh/service-name={service}")}


def gateway_of(env, cluster):
    svc = env.sim(cluster).get("v1", "Service", "istio-eastwestgateway", "istio-system")
    return svc["status"]["loadBalancer"]["ingress"][0]["ip"]


def test_remote_endpoints_become_weighted_workload_entries_with_failover_rule(hub):
    wes = wait_for(lambda: (lambda w: w if set(w) == {"cluster-1", "cluster-2"} else None)(
        entries_for(hub, "cluster-3", "both")), what="entries for both in cluster-3")
    one, two = wes["cluster-1"]["spec"], wes["cluster-2"]["spec"]
    assert one["address"] == gateway_of(hub, "cluster-1")
    assert two["address"] == gateway_of(hub, "cluster-2")
    assert (one["network"], one["locality"], one["weight"]) == ("net1", "r1/z1", 3)
    assert (two["network"], two["locality"], two["weight"]) == ("net1", "r1/z2", 2)
    assert one["ports"] == {"http": 15443}
    rules = hub.owned("cluster-3", DR, f"{MANAGED},federation.mesh/service-name=both")
    assert len(rules) == 1
    policy = rules[0]["spec"]["trafficPolicy"]
    assert policy["loadBalancer"]["localityLbSetting"]["enabled"] is True
    assert policy["outlierDetection"]["baseEjectionTime"]
    assert rules[0]["spec"]["host"] == f"both.{NS}.svc.cluster.local"
    # cluster-1 sees only cluster-2's endpoints, never its own
    assert set(entries_for(hub, "cluster-1", "both")) == {"cluster-2"}


def test_scaling_to_zero_removes_the_entry_and_scaling_back_restores_it(hub):
    wait_for(lambda: "cluster-1" in entries_for(hub, "cluster-3", "both"))
    hub.set_ready("cluster-1", "both", 0, total=3)
    wait_for(lambda: set(entries_for(hub, "cluster-3", "both")) == {"cluster-2"},
             what="cluster-1's entry gone")
    hub.set_ready("cluster-1", "both", 4)
    we = wait_for(lambda: entries_for(hub, "cluster-3", "both").get("cluster-1"),
                  what="cluster-1's entry back")
    assert we["spec"]["weight"] == 4


def test_service_only_in_one_cluster_gets_a_stub_service_elsewhere(hub):
    for target in ("cluster-2", "cluster-3"):
        [stub] = wait_for(lambda t=target: hub.owned(t, SVC, f"{MANAGED},federation.mesh/service-name=solo"))
        assert (stub["metadata"]["name"], stub["metadata"]["namespace"]) == ("solo", NS)
        assert [(p["name"], p["port"]) for p in stub["spec"]["ports"]] == [("http", 9080)]
        assert set(entries_for(hub, target, "solo")) == {"cluster-1"}
        for entry in entries_for(hub, target, "solo").values():
            assert stub["spec"]["selector"].items() <= entry["spec"]["labels"].items()
    # where the host has a local Service, no stub
    assert not hub.owned("cluster-1", SVC, f"{MANAGED},federation.mesh/service-name=both")
    # and the hub's stub is not read back as a service of that cluster
    rows = {r.name: r for r in hub.service.control.list_services()}
    assert {c.cluster for c in rows["solo"].clusters} == {"cluster-1"}


def test_deleting_a_service_prunes_everything_derived_from_it_and_nothing_else(hub):
    wait_for(lambda: hub.owned("cluster-3", SVC, f"{MANAGED},federation.mesh/service-name=solo"))
    before_both = {c: entries_for(hub, c, "both") for c in ("cluster-2", "cluster-3")}
    sim = hub.sim("cluster-1")
    sim.delete("v1", "Service", "solo", NS)
    sim.delete("discovery.k8s.io/v1", "EndpointSlice", "solo-sim", NS)
    for target in ("cluster-2", "cluster-3"):
        wait_for(lambda t=target: not hub.owned(t, SVC, f"{MANAGED},federation.mesh/service-name=solo")
                 and not entries_for(hub, t, "solo"), what=f"solo pruned from {target}")
        after = entries_for(hub, target, "both")
        assert {k: v["metadata"]["resourceVersion"] for k, v in after.items()} == \
            {k: v["metadata"]["resourceVersion"] for k, v in before_both[target].items()}


def test_hub_restart_with_no_change_writes_nothing(hub):
    wait_for(lambda: entries_for(hub, "cluster-3", "both") and
             hub.owned("cluster-3", SVC, f"{MANAGED},federation.mesh/service-name=solo"))
    wait_for(hub.synced)
    hub.service.hub.summaries.flush()
    versions = {sim.name: sim.store.resource_version for sim in hub.fleet}
    hub.stop_hub()
    hub.start_hub()
    wait_for(hub.synced, what="synced after restart")
    status = hub.service.hub.members()
    for name, member in status.items():
        push = member.pusher.status()
        assert (push.applies, push.deletes) == (0, 0), f"{name} wrote after a restart: {push}"
    assert {sim.name: sim.store.resource_version for sim in hub.fleet} == versions


def test_unreachable_cluster_keeps_last_known_endpoints_while_others_sync(hub):
    wait_for(lambda: set(entries_for(hub, "cluster-3", "both")) == {"cluster-1", "cluster-2"})
    hub.sim("cluster-2").go_offline()
    try:
        wait_for(lambda: any(c.name == "cluster-2" and c.stale for c in hub.service.control.status().clusters),
                 what="cluster-2 reported stale")
        rows = {r.name: r for r in hub.service.control.list_services()}
        stale = {c.cluster: c.stale for c in rows["both"].clusters}
        assert stale == {"cluster-1": False, "cluster-2": True}
        # the others keep syncing: a change in cluster-1 still reaches cluster-3
        hub.set_ready("cluster-1", "both", 5)
        wait_for(lambda: entries_for(hub, "cluster-3", "both")["cluster-1"]["spec"]["weight"] == 5)
        # and cluster-2's last-known entries stay
        assert entries_for(hub, "cluster-3", "both")["cluster-2"]["spec"]["weight"] == 2
    finally:
        hub.sim("cluster-2").go_online()
    wait_for(lambda: not any(c.stale for c in hub.service.control.status().clusters),
             timeout=30, what="cluster-2 back")


def test_user_owned_destination_rule_is_left_alone_and_reported(hub):
    user_rule = {"apiVersion": "networking.istio.io/v1", "kind": "DestinationRule",
                 "metadata": {"name": "mine", "namespace": NS},
                 "spec": {"host": f"both.{NS}.svc.cluster.local",
                          "trafficPolicy": {"connectionPool": {"tcp": {"maxConnections": 7}}}}}
    hub.sim("cluster-3").apply(user_rule, manager="kubectl")
    wait_for(lambda: not hub.owned("cluster-3", DR, f"{MANAGED},federation.mesh/service-name=both"),
             what="hub's DR for both withdrawn from cluster-3")
    status = {c.name: c for c in hub.service.control.status().clusters}
    assert any("both" in c for c in status["cluster-3"].conflicts)
    mine = hub.sim("cluster-3").get(*DR, "mine", NS)
    assert mine["spec"]["trafficPolicy"]["connectionPool"]["tcp"]["maxConnections"] == 7
    assert "labels" not in mine["metadata"] or "app.kubernetes.io/managed-by" not in mine["metadata"]["labels"]


def test_written_objects_validate_and_carry_the_labels(hub):
    schemas = crd_schemas()
    wait_for(lambda: hub.owned("cluster-3", SVC))
    kinds = [WE, DR, ("networking.istio.io/v1", "Gateway")]
    seen = 0
    for sim in hub.fleet:
        for kind in kinds:
            for obj in sim.list(*kind, label_selector=MANAGED):
                assert schemas.validate(obj) == [], obj["metadata"]["name"]
                labels = obj["metadata"]["labels"]
                if kind != kinds[2]:
                    assert labels["federation.mesh/service-namespace"] == NS
                    assert labels["federation.mesh/service-name"]
                seen += 1
    assert seen > 10
    # no network gateways: each entry points at the gateway of the cluster with the endpoints
    assert not hub.sim("cluster-3").list("gateway.networking.k8s.io/v1", "Gateway", label_selector=MANAGED)
    entries = entries_for(hub, "cluster-3", "both")
    assert {c: e["spec"]["address"] for c, e in entries.items()} == {
        "cluster-1": gateway_of(hub, "cluster-1"), "cluster-2": gateway_of(hub, "cluster-2")}


def test_admin_api_lists_services_and_renders_over_grpc(hub):
    wd = hub.workdir / "hub"
    client = AdminClient(hub.service.api.address, ca_file=str(wd / "tls" / "ca.crt"),
                         token=(wd / "admin-token").read_text().strip())
    try:
        rows = {r.name: r for r in client.list_services()}
        both = {c.cluster: c for c in rows["both"].clusters}
        assert both["cluster-1"].ready_endpoints == 3 and both["cluster-1"].localities == {"r1/z1": 3}
        text = client.render("cluster-3")
        assert "kind: WorkloadEntry" in text and "mesh-federation-cross-network" in text
        clusters = {c.name: c for c in client.list_clusters()}
        assert clusters["cluster-3"].network == "net2"
        assert "token" not in json.dumps([c.__dict__ for c in clusters.values()], default=str).lower()
    finally:
        client.close()


def test_a_cluster_away_longer_than_stale_ttl_loses_its_endpoints_until_it_returns(env):
    env.start_hub(stale_ttl=1.0)
    env.register_all()
    wait_for(env.synced, what="every cluster synced")
    wait_for(lambda: set(entries_for(env, "cluster-3", "both")) == {"cluster-1", "cluster-2"})
    env.sim("cluster-2").go_offline()
    try:
        wait_for(lambda: set(entries_for(env, "cluster-3", "both")) == {"cluster-1"}, timeout=20,
                 what="cluster-2's entries dropped after the stale TTL")
    finally:
        env.sim("cluster-2").go_online()
    wait_for(lambda: set(entries_for(env, "cluster-3", "both")) == {"cluster-1", "cluster-2"}, timeout=30,
             what="cluster-2's entries back")
