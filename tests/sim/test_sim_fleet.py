"""SimFleet in-process and ``python -m kubesim`` as a process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import kubernetes
import pytest
import yaml
from kubernetes import client

from federation.errors import ConfigError
from kubesim import SimFleet

from .helpers import REPO_ROOT
from tests.support import wait_for


def test_fleet_serves_each_cluster_on_its_own_address_with_its_own_token(tmp_path, schemas):
    with SimFleet(2, tmp_path, schemas=schemas) as fleet:
        ready = json.loads((tmp_path / "ready").read_text())
        assert [c["name"] for c in ready["clusters"]] == ["cluster-1", "cluster-2"]
        assert len({c.host for c in fleet}) == 2 and fleet["cluster-1"].token != fleet["cluster-2"].token
        for cluster in fleet:
            path = tmp_path / "kubeconfigs" / f"{cluster.name}.yaml"
            config = yaml.safe_load(path.read_text())
            assert config["clusters"][0]["cluster"]["certificate-authority-data"]
            assert oct(path.stat().st_mode & 0o777) == "0o600"
            api = kubernetes.config.new_client_from_config(config_file=str(path))
            try:
                cluster.create({"apiVersion": "v1", "kind": "ConfigMap",
                                "metadata": {"name": f"only-in-{cluster.name}", "namespace": "default"}})
                names = [c.metadata.name for c in client.CoreV1Api(api).list_namespaced_config_map("default").items]
                assert names == [f"only-in-{cluster.name}"]
            finally:
                api.close()
    assert not (tmp_path / "ready").exists()


def test_a_share_of_a_fleet_keeps_each_clusters_name_and_address(tmp_path, schemas):
    with SimFleet(5, tmp_path, schemas=schemas, numbers=[2, 5]) as share:
        assert [c.name for c in share] == ["cluster-2", "cluster-5"]
        assert [c.host for c in share] in (["127.0.2.1", "127.0.5.1"], ["127.0.0.1", "127.0.0.1"])
        ready = json.loads((tmp_path / "ready").read_text())
        assert [c["name"] for c in ready["clusters"]] == ["cluster-2", "cluster-5"]
    for numbers in ([], [0], [6], [2, 2]):
        with pytest.raises(ConfigError, match="distinct clusters among 1..5"):
            SimFleet(5, tmp_path, schemas=schemas, numbers=numbers)


def test_sim_process_writes_kubeconfigs_and_ready_and_exits_0_on_sigterm(tmp_path, shared_dir):
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    proc = subprocess.Popen([sys.executable, "-m", "kubesim", "--clusters", "2", "--workdir", str(tmp_path),
                             "--crd-schemas", str(shared_dir), "--services", "2"],
                            cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_for(lambda: (tmp_path / "ready").exists() or proc.poll() is not None, 30.0, "the fleet ready or exited")
        assert proc.poll() is None, proc.stdout.read()
        kubeconfig = tmp_path / "kubeconfigs" / "cluster-2.yaml"
        api = kubernetes.config.new_client_from_config(config_file=str(kubeconfig))
        try:
            services = client.CoreV1Api(api).list_service_for_all_namespaces().items
            assert {s.metadata.name for s in services} == {"svc-0", "svc-1", "istio-eastwestgateway"}
        finally:
            api.close()
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=5)
    assert proc.returncode == 0, output
    assert "sim fleet stopped" in output and "clean=True" in output
    assert not (tmp_path / "ready").exists()
