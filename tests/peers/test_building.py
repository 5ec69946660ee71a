"""`make peers`: the warm path is a check of stamps and hashes; failures name their cause."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from peers import binaries, building
from peers.errors import PeersMissing
from peers.versions import ISTIO, KUBE, cache_root

REPO = Path(__file__).resolve().parents[2]


def run_building(env: dict[str, str], *args: str, timeout: float = 120.0) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "peers.building", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=timeout, check=False)


def test_missing_go_is_named_with_the_fix(tmp_path):
    env = dict(os.environ, PATH=str(tmp_path / "empty-bin"), MESH_FEDERATION_PEERS_CACHE=str(tmp_path / "cache"))
    done = run_building(env)
    assert done.returncode == 1
    assert "no Go toolchain: `go` is not on PATH" in done.stderr
    assert "https://go.dev/dl/" in done.stderr and "make peers" in done.stderr


def test_a_module_that_does_not_download_is_named(tmp_path):
    # A proxy on a closed loopback port: go fails at once, without touching the network.
    env = dict(os.environ, MESH_FEDERATION_PEERS_CACHE=str(tmp_path / "cache"), GOPROXY="http://127.0.0.1:9/",
               GOMODCACHE=str(tmp_path / "mod"), GOFLAGS="-modcacherw", GOTOOLCHAIN="local", GONOSUMDB="*")
    done = run_building(env)
    assert done.returncode == 1
    assert f"a module did not download ({ISTIO.packages[0]}@{ISTIO.version})" in done.stderr, done.stderr
    assert "GOPROXY" in done.stderr and "connection refused" in done.stderr


def test_compile_failure_names_the_package():
    error = building.diagnose("kube-apiserver", [
        "# k8s.io/apiserver/pkg/storage", "storage.go:12:2: undefined: foo"])
    assert "package k8s.io/apiserver/pkg/storage did not compile" in str(error)
    assert "undefined: foo" in str(error)


def test_download_failure_names_the_module_and_the_proxy():
    error = building.diagnose("pilot-discovery", [
        "go: istio.io/istio@v0.0.0-20260827124520-eed52ebb66ad: reading "
        "https://proxy.golang.org/istio.io/istio/@v/v0.0.0-20260827124520-eed52ebb66ad.info: dial tcp: i/o timeout"])
    assert "a module did not download (istio.io/istio@v0.0.0-20260827124520-eed52ebb66ad)" in str(error)
    assert "GOPROXY" in str(error)


def test_find_binaries_names_what_is_missing(tmp_path, monkeypatch):
    monkeypatch.setenv("MESH_FEDERATION_PEERS_CACHE", str(tmp_path))
    with pytest.raises(PeersMissing) as caught:
        binaries.find_binaries()
    message = str(caught.value)
    assert "pilot-discovery is missing" in message and "kube-apiserver is missing" in message
    assert "run `make peers`" in message


def test_a_changed_binary_is_not_trusted(tmp_path, monkeypatch):
    monkeypatch.setenv("MESH_FEDERATION_PEERS_CACHE", str(tmp_path))
    KUBE.path.mkdir(parents=True)
    binary = KUBE.binary("kube-apiserver")
    binary.write_bytes(b"#!/bin/sh\n")
    binary.chmod(0o755)
    binaries.write_stamp(KUBE)
    assert binaries.stamp_problem(KUBE, verify_hashes=True) is None
    binary.write_bytes(b"#!/bin/sh\nexit 1\n")
    assert "size differs" in binaries.stamp_problem(KUBE)
    stamp = json.loads(KUBE.stamp.read_text())
    stamp["version"] = "v1.0.0"
    KUBE.stamp.write_text(json.dumps(stamp))
    assert "not the pinned k8s.io/kubernetes@v1.37.2" in binaries.stamp_problem(KUBE)
    stamp.update(version=KUBE.version, ldflags="")
    KUBE.stamp.write_text(json.dumps(stamp))
    assert "built with other linker flags" in binaries.stamp_problem(KUBE)


@pytest.mark.peers
def test_warm_make_peers_takes_seconds(real_binaries):
    assert cache_root() in real_binaries.pilot_discovery.parents
    started = time.monotonic()
    done = run_building(dict(os.environ))
    took = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    assert f"cached in {ISTIO.path}" in done.stdout and f"cached in {KUBE.path}" in done.stdout
    assert took < 30.0, f"warm `make peers` took {took:.1f}s"
    print(f"warm make peers: {took:.1f}s")


@pytest.mark.peers
def test_binaries_carry_the_pinned_versions(real_binaries):
    assert binaries.embedded_version(real_binaries.pilot_discovery, ISTIO.module) == ISTIO.version
    assert binaries.embedded_version(real_binaries.istioctl, ISTIO.module) == ISTIO.version
    assert binaries.embedded_version(real_binaries.kube_apiserver, KUBE.module) == KUBE.version
    assert binaries.build_info(real_binaries.kube_apiserver)["-ldflags"] == KUBE.ldflags
    assert building.built_as_pinned(KUBE, "kube-apiserver") and building.built_as_pinned(ISTIO, "istioctl")
