"""Static checks of the local e2e (e2e/local.sh and e2e/local/), and its summaries.

The e2e itself starts etcd, the member clusters and the hub as processes and runs
for minutes: it is `make e2e` (real peers) and `make e2e-sim`, not part of `make test`.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from federation.api.tls import issue_server_cert, make_self_signed_ca

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "e2e" / "local.sh"
SCRIPTS = [SCRIPT, *sorted((ROOT / "e2e" / "local").glob("*.sh"))]
TIMEOUT = 60


def _load_summarize():
    spec = importlib.util.spec_from_file_location("e2e_local_summarize", ROOT / "e2e" / "local" / "summarize.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


summarize = _load_summarize()


def _kube_list(*objects: dict) -> str:
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": list(objects)})


# --- the scripts -------------------------------------------------------------------
def test_every_local_e2e_script_passes_bash_n():
    assert len(SCRIPTS) >= 3
    for path in SCRIPTS:
        proc = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True, timeout=TIMEOUT)
        assert proc.returncode == 0, f"{path}: {proc.stderr}"


def test_every_local_e2e_script_passes_shellcheck():
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None:
        pytest.skip("shellcheck is not installed (Debian package shellcheck)")
    proc = subprocess.run([shellcheck, "-x", "--format=gcc", *map(str, SCRIPTS)], capture_output=True,
                          text=True, timeout=TIMEOUT, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_local_e2e_refuses_an_unknown_peers_kind_with_exit_3(tmp_path):
    env = {**os.environ, "E2E_PEERS": "kind-of", "TMPDIR": str(tmp_path)}
    proc = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, timeout=TIMEOUT, env=env)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "E2E_PEERS=kind-of: expected sim or real" in proc.stderr
    assert list(tmp_path.iterdir()) == []


def test_local_e2e_exits_3_naming_a_missing_prerequisite_before_starting_anything(tmp_path):
    env = {**os.environ, "ETCD": str(tmp_path / "no-etcd-here"), "TMPDIR": str(tmp_path)}
    proc = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, timeout=TIMEOUT, env=env)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "missing prerequisites" in proc.stderr and "no-etcd-here" in proc.stderr
    assert list(tmp_path.iterdir()) == []  # no work directory: nothing was started


# --- the summaries the checks compare -------------------------------------------------
def test_entries_summary_is_sorted_by_source_and_names_address_weight_ports_identity_and_labels():
    def entry(source, address, weight):
        return {"apiVersion": "networking.istio.io/v1", "kind": "WorkloadEntry",
                "metadata": {"name": f"fed-hw-{source}", "namespace": "sample",
                             "labels": {"federation.mesh/source-cluster": source}},
                "spec": {"address": address, "network": "net1", "locality": "r/z", "weight": weight,
                         "ports": {"http": 15443}, "serviceAccount": "hw",
                         "labels": {"security.istio.io/tlsMode": "istio", "app": "hw"}}}

    text = summarize.summarize("entries", _kube_list(entry("c2", "192.0.2.2", 3), entry("c1", "192.0.2.1", 2)))
    assert text.splitlines() == [
        "from=c1 address=192.0.2.1 network=net1 locality=r/z weight=2 ports=http:15443 sa=hw "
        "labels=app=hw,security.istio.io/tlsMode=istio",
        "from=c2 address=192.0.2.2 network=net1 locality=r/z weight=3 ports=http:15443 sa=hw "
        "labels=app=hw,security.istio.io/tlsMode=istio",
    ]


def test_stubs_summary_names_ports_with_target_and_app_protocol_and_the_selector():
    stub = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "hw", "namespace": "sample"},
            "spec": {"type": "ClusterIP", "selector": {"federation.mesh/service-name": "hw"},
                     "ports": [{"name": "http", "port": 5000, "targetPort": 5000, "appProtocol": "http"},
                               {"name": "tcp-db", "port": 5432, "targetPort": 5432}]}}
    assert summarize.summarize("stubs", _kube_list(stub)) == (
        "Service sample/hw type=ClusterIP ports=http/5000>5000/http,tcp-db/5432>5432/- "
        "selector=federation.mesh/service-name=hw")


def test_xds_summaries_read_the_peers_cli_json():
    endpoints = [{"address": "172.18.2.10", "port": 15443, "tls_mode": "istio", "weight": 3,
                  "locality": "us-west/us-west-1a", "health": "HEALTHY", "priority": 0},
                 {"address": "172.18.1.10", "port": 15443, "tls_mode": "", "weight": 2,
                  "locality": "", "health": "HEALTHY", "priority": 1}]
    assert summarize.summarize("xds-endpoints", json.dumps(endpoints)).splitlines() == [
        "address=172.18.1.10:15443 tls=- weight=2 locality=- health=HEALTHY",
        "address=172.18.2.10:15443 tls=istio weight=3 locality=us-west/us-west-1a health=HEALTHY",
    ]
    listeners = [{"name": "0.0.0.0_15443", "port": 15443, "filter_chains": [
        {"server_names": ["outbound_.5000_._.hw.sample.svc.cluster.local", "hw.sample.svc.cluster.local"]},
        {"server_names": []}]}]
    assert summarize.summarize("sni", json.dumps(listeners)) == (
        "15443 outbound_.5000_._.hw.sample.svc.cluster.local")


def test_an_empty_list_summarizes_as_none():
    assert summarize.summarize("entries", _kube_list()) == "none"
    assert summarize.summarize("names", "") == "none"


def test_rules_summary_shows_failover_outlier_detection_and_policy():
    rule = {"apiVersion": "networking.istio.io/v1", "kind": "DestinationRule",
            "metadata": {"name": "federation-hw", "namespace": "sample",
                         "annotations": {"federation.mesh/policy": "sample/hw"}},
            "spec": {"host": "hw.sample.svc.cluster.local", "trafficPolicy": {
                "loadBalancer": {"localityLbSetting": {"enabled": True,
                                                       "failover": [{"from": "a", "to": "b"}]}},
                "outlierDetection": {"interval": "2s", "consecutive5xxErrors": 3}}}}
    assert summarize.summarize("rules", _kube_list(rule)) == (
        "federation-hw host=hw.sample.svc.cluster.local locality=on failover=a>b priority=- "
        "outlier=consecutive5xxErrors=3,interval=2s policy=sample/hw")


def test_gateways_summary_shows_each_server_of_the_cross_network_gateway():
    istio = {"apiVersion": "networking.istio.io/v1", "kind": "Gateway",
             "metadata": {"name": "mesh-federation-cross-network", "namespace": "istio-system"},
             "spec": {"selector": {"istio": "eastwestgateway"},
                      "servers": [{"port": {"number": 15443, "name": "tls", "protocol": "TLS"},
                                   "tls": {"mode": "AUTO_PASSTHROUGH"}, "hosts": ["*.cluster.local"]}]}}
    assert summarize.summarize("gateways", _kube_list(istio)) == (
        "Gateway istio-system/mesh-federation-cross-network selector=istio=eastwestgateway port=15443/TLS "
        "tls=AUTO_PASSTHROUGH hosts=*.cluster.local")


def test_names_read_a_yaml_stream_and_versions_name_each_object_with_its_resource_version():
    stream = ("apiVersion: v1\nkind: Secret\nmetadata: {name: cacerts, namespace: istio-system}\n---\n"
              "apiVersion: networking.istio.io/v1\nkind: Gateway\n"
              "metadata: {name: mesh-federation-cross-network, namespace: istio-system}\n")
    assert summarize.summarize("names", stream).splitlines() == [
        "Gateway istio-system/mesh-federation-cross-network", "Secret istio-system/cacerts"]
    obj = {"kind": "Node", "metadata": {"name": "n1", "resourceVersion": "42"}}
    assert summarize.summarize("versions", _kube_list(obj)) == "Node n1 rv=42"


def _cacerts_secret(intermediate, root_pem: bytes) -> str:
    files = {"ca-cert.pem": intermediate.cert_pem, "ca-key.pem": intermediate.key_pem,
             "cert-chain.pem": intermediate.cert_pem + root_pem, "root-cert.pem": root_pem}
    return json.dumps({"apiVersion": "v1", "kind": "Secret",
                       "metadata": {"name": "cacerts", "namespace": "istio-system"},
                       "data": {k: base64.b64encode(v).decode() for k, v in files.items()}})


def test_cacerts_summary_checks_the_intermediate_against_the_root_without_printing_keys():
    root, other = make_self_signed_ca("root"), make_self_signed_ca("other")
    intermediate = issue_server_cert(root, ["cluster-1"])
    good = summarize.summarize("cacerts", _cacerts_secret(intermediate, root.cert_pem))
    fingerprint = summarize.pem_certificates(root.cert_pem.decode())[0].split()[0].split("=")[1]
    assert (f"files=ca-cert.pem,ca-key.pem,cert-chain.pem,root-cert.pem roots={fingerprint} "
            "issued-by-root=yes key-matches=yes") in good
    assert "PRIVATE KEY" not in good
    wrong = summarize.summarize("cacerts", _cacerts_secret(intermediate, other.cert_pem))
    assert "issued-by-root=no" in wrong


def test_cli_json_summaries_name_clusters_services_sync_and_vms():
    rows = [{"name": "c1", "network": "net1", "region": "r1", "server": "https://x", "state": "synced",
             "gateways": ["192.0.2.1"]}]
    assert summarize.summarize("clusters", json.dumps(rows)) == "c1 network=net1 region=r1 gateways=192.0.2.1"
    services = [{"namespace": "sample", "name": "hw", "clusters": [
        {"cluster": "c1", "network": "net1", "ready_endpoints": 2, "localities": {"r1/z1": 2}, "stale": False}]}]
    assert summarize.summarize("services", json.dumps(services)) == "sample/hw cluster=c1 ready=2 localities=r1/z1=2"
    status = {"clusters": [{"name": "c1", "state": "synced", "synced": True, "stale": False}]}
    assert summarize.summarize("sync", json.dumps(status)) == "c1 state=synced synced=yes"
    vms = [{"name": "vm-1-x", "group": "sample/hw", "address": "10.0.0.5", "network": "vm", "alive": True,
            "healthy": True, "revoked": False}]
    assert summarize.summarize("vms", json.dumps(vms)) == (
        "vm-1-x group=sample/hw address=10.0.0.5 network=vm alive=yes healthy=yes revoked=no")


def test_unexpected_input_fails_with_a_message_not_a_traceback():
    proc = subprocess.run([sys.executable, str(ROOT / "e2e" / "local" / "summarize.py"), "clusters"],
                          input='{"not": "a list of clusters"}', capture_output=True, text=True, timeout=TIMEOUT)
    assert proc.returncode == 1
    assert "summarize clusters: unexpected input" in proc.stderr and "Traceback" not in proc.stderr
