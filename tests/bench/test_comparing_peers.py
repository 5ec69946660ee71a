"""The multi-primary comparison on real peers, at the smallest size: both modes deliver every
availability change to the other cluster's sidecar, and the remote secret is the one
``istioctl create-remote-secret`` prints for the same reader and token."""

from __future__ import annotations

import json
import subprocess

import pytest
import yaml

from peers.comparing import multiprimary
from peers.comparing.__main__ import main
from peers.member import MemberCluster
from tests.peers.support import (  # noqa: F401  (fixtures)
    kube_apiserver, peers_etcd, peers_workdir, real_binaries, shared_crds, unique_name,
)

pytestmark = [pytest.mark.peers]


@pytest.mark.timeout(300)
def test_both_modes_deliver_every_change_to_the_other_clusters_sidecar(real_binaries, shared_crds,  # noqa: F811
                                                                       tmp_path, capsys):
    out = tmp_path / "bench-multiprimary.json"
    status = main(["--clusters", "2", "--services", "2", "--changes", "4", "--change-timeout", "20",
                   "--settle-timeout", "90", "--workdir", str(tmp_path / "work"), "--out", str(out)])
    results = json.loads(out.read_text())
    for name in ("hub", "multi-primary"):
        mode = results["modes"][name]
        assert "error" not in mode, mode["error"]
        assert (mode["changes"], mode["missed"]) == (4, 0), mode["flips"]
        assert mode["latency_ms"]["all"]["count"] == 4
        assert all(per["ready"]["rss_mb"] > 0 for per in mode["istiods"].values())
        assert all(n > 0 for n in mode["watch_summary"]["per_apiserver"])
    # each istiod reads the other cluster: its API server serves one reader more than the hub's does
    assert results["modes"]["multi-primary"]["setup"]["remote_secrets"] == 2
    assert results["comparison"]["watch_model"]["remote_reader_per_member"] > 0
    assert results["comparison"]["ratios"]["latency_p50"] is not None
    assert status == 0
    assert "change → B's sidecar p50 (ms)" in capsys.readouterr().out


@pytest.mark.timeout(120)
def test_remote_secret_is_what_istioctl_prints(real_binaries, kube_apiserver, tmp_path):  # noqa: F811
    """istioctl create-remote-secret against a real API server, its reader's token Secret filled
    as the token controller would (none runs here): the same Secret as ours for that token."""
    member = MemberCluster(kube_apiserver, name=kube_apiserver.name)
    namespace = unique_name("istio-mp")
    try:
        member.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
        for doc in multiprimary.reader_rbac(multiprimary.rendered_manifest(real_binaries.istioctl, namespace)):
            member.apply(doc)
        token = member.token(namespace, multiprimary.READER)
        member.apply({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/service-account-token",
                      "metadata": {"name": "reader-token", "namespace": namespace,
                                   "annotations": {"kubernetes.io/service-account.name": multiprimary.READER}},
                      "stringData": {"token": token, "ca.crt": kube_apiserver.ca_pem.decode(),
                                     "namespace": namespace}})
        done = subprocess.run([str(real_binaries.istioctl), "--kubeconfig", str(member.kubeconfig),
                               "create-remote-secret", "--name", "cluster-a", "--server", kube_apiserver.server,
                               "-n", namespace, "--create-service-account=false"],
                              capture_output=True, text=True, timeout=60, check=False)
    finally:
        member.close()
    assert done.returncode == 0, done.stderr
    theirs, = [d for d in yaml.safe_load_all(done.stdout) if d]  # it ends with a "---"
    ours = multiprimary.remote_secret("cluster-a", kube_apiserver.server, kube_apiserver.ca_pem, token,
                                      namespace=namespace)
    assert theirs["metadata"] == ours["metadata"]
    assert {k: yaml.safe_load(v) for k, v in theirs["stringData"].items()} == \
        {k: yaml.safe_load(v) for k, v in ours["stringData"].items()}
    assert (theirs["apiVersion"], theirs["kind"]) == ("v1", "Secret")
