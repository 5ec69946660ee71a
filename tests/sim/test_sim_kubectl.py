"""The real kubectl against a simulated cluster."""

from __future__ import annotations

import subprocess
import tempfile

import pytest
import yaml

from .helpers import WORKLOAD_ENTRY_YAML
from tests.support import wait_for

pytestmark = pytest.mark.kubectl



def test_get_namespaces(kubectl):
    out = kubectl("get", "namespaces", "-o", "name").stdout.split()
    assert {"namespace/default", "namespace/kube-system"} <= set(out)


def test_server_side_apply_get_and_delete_a_workload_entry(kubectl, cluster, tmp_path):
    manifest = tmp_path / "we.yaml"
    manifest.write_text(WORKLOAD_ENTRY_YAML)
    assert "serverside-applied" in kubectl("apply", "--server-side", "-f", str(manifest)).stdout
    listed = yaml.safe_load(kubectl("get", "workloadentries", "-o", "yaml").stdout)
    assert [item["metadata"]["name"] for item in listed["items"]] == ["vm-1"]
    assert listed["items"][0]["spec"] == yaml.safe_load(WORKLOAD_ENTRY_YAML)["spec"]
    stored = cluster.get("networking.istio.io/v1", "WorkloadEntry", "vm-1", "default")
    assert [m["manager"] for m in stored["metadata"]["managedFields"]] == ["kubectl"]
    rv = stored["metadata"]["resourceVersion"]
    kubectl("apply", "--server-side", "-f", str(manifest))  # unchanged: no new resourceVersion
    assert cluster.get("networking.istio.io/v1", "WorkloadEntry", "vm-1", "default")["metadata"]["resourceVersion"] == rv
    assert 'deleted' in kubectl("delete", "-f", str(manifest)).stdout
    assert cluster.list("networking.istio.io/v1", "WorkloadEntry") == []


def test_apply_of_an_invalid_object_reports_the_field(kubectl, tmp_path):
    manifest = tmp_path / "bad.yaml"
    manifest.write_text(WORKLOAD_ENTRY_YAML.replace("weight: 3", "weight: -3"))
    result = kubectl("apply", "--server-side", "-f", str(manifest), check=False)
    assert result.returncode != 0 and "spec.weight" in result.stderr


def test_client_side_apply_label_and_short_names(kubectl, cluster, tmp_path):
    manifest = tmp_path / "svc.yaml"
    manifest.write_text("apiVersion: v1\nkind: Service\nmetadata:\n  name: reviews\n  namespace: default\n"
                        "spec:\n  selector: {app: reviews}\n  ports:\n  - name: http\n    port: 9080\n")
    kubectl("apply", "-f", str(manifest))
    kubectl("label", "svc", "reviews", "tier=backend")
    svc = yaml.safe_load(kubectl("get", "svc", "reviews", "-o", "yaml").stdout)
    assert svc["metadata"]["labels"] == {"tier": "backend"}
    assert svc["spec"]["ports"][0]["targetPort"] == 9080
    assert kubectl("get", "svc", "-l", "tier=backend", "-o", "name").stdout.split() == ["service/reviews"]


def test_get_watch_shows_a_change(kubectl, cluster):
    with tempfile.TemporaryFile(mode="w+") as out:
        proc = subprocess.Popen(kubectl.base + ["get", "workloadentries", "-w", "--request-timeout=0",
                                                "-o", "name"], stdout=out, stderr=subprocess.STDOUT, text=True)
        try:
            wait_for(lambda: cluster.active_watches() >= 1, 15.0, "kubectl to start watching")
            cluster.apply(yaml.safe_load(WORKLOAD_ENTRY_YAML.replace("vm-1", "vm-watched")), manager="test")

            def shown() -> bool:
                out.seek(0)
                return "vm-watched" in out.read()

            wait_for(shown, 10.0, "the object shown")
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
    wait_for(lambda: cluster.active_watches() == 0, what="no open watch")
