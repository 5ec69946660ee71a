"""The pure parts of the multi-primary comparison (``peers.comparing``): statistics, the watch
gauge, the remote secret's shape, the reader RBAC picked from istioctl's manifest, the plan of
changes, one change timed over a scripted xDS stream, and the report."""

from __future__ import annotations

import base64

import pytest
import yaml

from peers.comparing import measuring, multiprimary, reporting
from peers.comparing.__main__ import parse
from peers.comparing.running import Scale, plan
from peers.errors import PeerError
from peers.xds import Endpoint, Locality, Outcome

METRICS = """\
# HELP apiserver_longrunning_requests [STABLE] Gauge of all active long-running apiserver requests
# TYPE apiserver_longrunning_requests gauge
apiserver_longrunning_requests{component="apiserver",group="",resource="pods",scope="cluster",subresource="",verb="WATCH",version="v1"} 3
apiserver_longrunning_requests{component="apiserver",group="",resource="pods",scope="namespace",subresource="",verb="WATCH",version="v1"} 1
apiserver_longrunning_requests{component="apiserver",group="discovery.k8s.io",resource="endpointslices",scope="cluster",subresource="",verb="WATCH",version="v1"} 2
apiserver_longrunning_requests{component="apiserver",group="networking.istio.io",resource="workloadentries",scope="cluster",subresource="",verb="WATCH",version="v1"} 0
apiserver_longrunning_requests{component="apiserver",group="",resource="pods",scope="namespace",subresource="exec",verb="CONNECT",version="v1"} 4
apiserver_request_total{code="200",verb="WATCH",resource="pods"} 99
"""


def test_percentile_is_nearest_rank_and_latency_is_in_milliseconds():
    assert measuring.percentile([], 50) is None
    assert [measuring.percentile(range(1, 101), q) for q in (50, 99, 100)] == [50, 99, 100]
    assert measuring.percentile([0.3], 99) == 0.3
    with pytest.raises(ValueError):
        measuring.percentile([1.0], 101)
    assert measuring.latency_ms([0.1, 0.2, 0.3, 0.4]) == {"count": 4, "p50": 200.0, "p99": 400.0,
                                                          "max": 400.0, "mean": 250.0}
    assert measuring.latency_ms([]) == {"count": 0, "p50": None, "p99": None, "max": None, "mean": None}
    assert (measuring.ratio(3.0, 2.0), measuring.ratio(None, 2.0), measuring.ratio(1.0, 0)) == (1.5, None, None)


def test_watches_are_the_watch_gauge_by_resource():
    assert measuring.parse_watches(METRICS) == {"discovery.k8s.io/endpointslices": 2, "pods": 4}
    assert measuring.parse_watches("") == {}
    assert measuring.difference({"pods": 5, "nodes": 1, "services": 2}, {"pods": 3, "services": 2, "x": 1}) \
        == {"nodes": 1, "pods": 2}


def test_remote_secret_has_the_shape_istioctl_prints():
    secret = multiprimary.remote_secret("cluster-1", "https://127.0.0.1:6443", b"CA PEM", "TOKEN")
    assert secret["apiVersion"] == "v1" and secret["kind"] == "Secret"
    assert secret["metadata"] == {"name": "istio-remote-secret-cluster-1", "namespace": "istio-system",
                                  "annotations": {"networking.istio.io/cluster": "cluster-1"},
                                  "labels": {"istio/multiCluster": "true"}}
    assert list(secret["stringData"]) == ["cluster-1"]  # the key is the cluster ID istiod uses
    config = yaml.safe_load(secret["stringData"]["cluster-1"])
    assert config == {
        "apiVersion": "v1", "kind": "Config", "current-context": "cluster-1",
        "clusters": [{"name": "cluster-1", "cluster": {
            "server": "https://127.0.0.1:6443",
            "certificate-authority-data": base64.b64encode(b"CA PEM").decode()}}],
        "contexts": [{"name": "cluster-1", "context": {"cluster": "cluster-1", "user": "cluster-1"}}],
        "users": [{"name": "cluster-1", "user": {"token": "TOKEN"}}],
    }
    for bad in ("", "Cluster-1", "cluster_1", "a.b"):
        with pytest.raises(PeerError):
            multiprimary.remote_secret(bad, "https://x", b"", "t")


def test_reader_rbac_is_what_create_remote_secret_picks_from_the_manifest():
    def doc(kind, name):
        return {"apiVersion": "v1", "kind": kind, "metadata": {"name": name}}
    manifest = [doc("ClusterRoleBinding", "istio-reader-clusterrole-istio-system"), doc("ClusterRole", "istiod"),
                doc("ServiceAccount", "istiod"), None, doc("ClusterRole", "istio-reader-clusterrole-istio-system"),
                doc("ServiceAccount", "istio-reader-service-account"), doc("Role", "istio-reader-clusterrole-x")]
    picked = multiprimary.reader_rbac(manifest)
    assert [(d["kind"], d["metadata"]["name"]) for d in picked] == [
        ("ServiceAccount", "istio-reader-service-account"),
        ("ClusterRole", "istio-reader-clusterrole-istio-system"),
        ("ClusterRoleBinding", "istio-reader-clusterrole-istio-system")]


def test_plan_pairs_every_member_as_source_and_viewer():
    scale = Scale(clusters=3, services=2, changes=8)
    pairs = plan(scale)
    assert len(pairs) == 4
    assert all(source != viewer for _, source, viewer in pairs)
    assert {source for _, source, _ in pairs} == {"cluster-1", "cluster-2", "cluster-3"}
    assert [service for service, _, _ in pairs] == ["svc-000", "svc-001", "svc-000", "svc-001"]
    for bad in (Scale(changes=3), Scale(clusters=1), Scale(change_timeout=0)):
        with pytest.raises(PeerError):
            bad.validate()
    assert parse([]).clusters == 5 and parse([]).services == 100


class ScriptedProbe:
    """Plays one list of EDS pushes per stream to ``follow_endpoints``' condition."""

    def __init__(self, *streams):
        self.streams = list(streams)
        self.timeouts = []

    def follow_endpoints(self, cluster_name, condition, *, timeout):
        self.timeouts.append(timeout)
        pushes = self.streams.pop(0)
        for attempt, endpoints in enumerate(pushes, start=1):
            if condition(endpoints):
                return Outcome(True, endpoints, attempt, 0.0)
        return Outcome(False, pushes[-1] if pushes else None, len(pushes), timeout, "the stream ended")


def ep(address):
    return Endpoint(address=address, port=15443, locality=Locality(), priority=0, weight=1, locality_weight=0,
                    health="HEALTHY", metadata={})


def test_a_change_is_written_after_the_state_before_and_timed_until_the_push_after():
    gateway, local = ep("172.18.1.10"), ep("10.2.0.2")
    writes = []
    probe = ScriptedProbe([[local], [gateway, local]],           # waiting for the state before
                          [[gateway, local], [gateway, local], [local]])  # measured: written at the first
    flip = measuring.Flip("svc-000", "cluster-1", "cluster-2", ready=False)
    measuring.follow_flip(probe, "outbound|8080||x", flip, lambda eps: gateway in eps, lambda: writes.append(1),
                          settle_timeout=60, timeout=5)
    assert flip.ok and flip.error == "" and writes == [1]
    assert flip.pushes == 3 and flip.seconds >= flip.write_seconds >= 0
    assert probe.timeouts == [60, 5 + measuring.STREAM_SETUP]


def test_a_change_not_seen_or_never_started_is_an_error_not_a_latency():
    gateway = ep("172.18.1.10")
    writes = []
    unseen = measuring.Flip("svc-000", "cluster-1", "cluster-2", ready=False)
    measuring.follow_flip(ScriptedProbe([[gateway]], [[gateway], [gateway]]), "c", unseen,
                          lambda eps: gateway in eps, lambda: writes.append(1), settle_timeout=1, timeout=1)
    assert not unseen.ok and "not seen within 1s" in unseen.error and writes == [1]
    never = measuring.Flip("svc-000", "cluster-1", "cluster-2", ready=True)
    measuring.follow_flip(ScriptedProbe([[gateway]]), "c", never, lambda eps: gateway in eps,
                          lambda: writes.append(2), settle_timeout=1, timeout=1)
    assert not never.ok and "state before" in never.error and writes == [1]


def mode(p50, p99, rss, watches, istiod_only=None, missed=0):
    return {"latency_ms": {"all": {"p50": p50, "p99": p99}}, "missed": missed, "changes": 4,
            "istiod_summary": {"rss_mb_mean": rss, "cpu_seconds_ready_mean": 2.0, "cpu_seconds_changes_mean": 1.0},
            "watch_summary": {"per_apiserver_mean": watches,
                              **({"istiod_only_per_apiserver": istiod_only} if istiod_only else {})}}


def test_comparison_ratios_goals_and_the_watch_model():
    hub = mode(150.0, 300.0, 100.0, 52.0, istiod_only=[38, 38, 38])
    multi = mode(100.0, 150.0, 200.0, 78.0)
    result = reporting.compare(hub, multi, clusters=3)
    assert result["ratios"]["latency_p50"] == 1.5 and result["ratios"]["latency_p99"] == 2.0
    assert result["goals"] == {"latency_p50_ratio<=1.5": True, "latency_p99_ratio<=1.5": False,
                               "istiod_rss_ratio<1": True, "watches_per_apiserver_ratio<1": True}
    model = result["watch_model"]
    assert (model["istiod_local"], model["hub_per_member"], model["remote_reader_per_member"]) == (38, 14, 20)
    assert model["fleet_total"]["3"] == {"hub": 156, "multi-primary": 234}
    assert model["fleet_total"]["100"] == {"hub": 5200, "multi-primary": 100 * (38 + 99 * 20)}
    # a missed change makes the latency goals unmet, whatever the ratio
    assert reporting.compare(mode(1.0, 1.0, 1.0, 1.0, missed=1), multi, 3)["goals"]["latency_p50_ratio<=1.5"] \
        is False
    assert reporting.compare({}, {}, 3)["goals"]["istiod_rss_ratio<1"] is None


def test_the_table_names_each_figure_and_goal():
    hub, multi = mode(150.0, 300.0, 100.0, 52.0, istiod_only=[38, 38]), mode(100.0, 150.0, 200.0, 78.0)
    results = {"modes": {"hub": hub, "multi-primary": {**multi, "error": "PeerError: boom"}},
               "comparison": reporting.compare(hub, multi, clusters=2)}
    text = reporting.table(results)
    assert "change → B's sidecar p99 (ms)" in text and "2.00" in text
    assert "goal latency_p99_ratio<=1.5: MISSED" in text and "multi-primary failed: PeerError: boom" in text
    assert "each remote istiod +40.0" in text
