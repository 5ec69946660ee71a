"""kind configs, e2e manifests, shell scripts and the Containerfile pass their static checks."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from . import checks

ROOT = checks.ROOT
KIND_CONFIGS = ROOT / "kind-configs"
SHELLCHECK = shutil.which("shellcheck")


def kind_configs() -> list[Path]:
    return sorted(KIND_CONFIGS.glob("*.yaml"))


# --- kind configs --------------------------------------------------------------
def test_kind_configs_are_clusters_with_distinct_subnets():
    names = {p.stem for p in kind_configs()}
    assert {"hub", "member-1", "member-2", "member-3"} <= names
    assert checks.check_kind_configs(kind_configs()) == []
    for path in kind_configs():
        assert yaml.safe_load(path.read_text())["name"] == path.stem  # e2e/kind.sh relies on it


def test_kind_config_check_rejects_overlapping_subnets(tmp_path):
    for path in kind_configs():
        shutil.copy(path, tmp_path / path.name)
    clash = tmp_path / "member-2.yaml"
    member_1 = yaml.safe_load((KIND_CONFIGS / "member-1.yaml").read_text())
    doc = yaml.safe_load(clash.read_text())
    doc["networking"]["podSubnet"] = member_1["networking"]["podSubnet"]
    clash.write_text(yaml.safe_dump(doc))
    problems = checks.check_kind_configs(sorted(tmp_path.glob("*.yaml")))
    assert any("member-2.yaml: podSubnet" in p and "overlaps member-1.yaml podSubnet" in p for p in problems)


def test_topologies_name_existing_clusters_and_put_members_on_networks():
    topologies = sorted((KIND_CONFIGS / "topologies").glob("*.txt"))
    assert {p.stem for p in topologies} >= {"two-networks", "three-members"}
    for path in topologies:
        rows = [line.split() for line in path.read_text().splitlines()
                if line.strip() and not line.lstrip().startswith("#")]
        assert len(rows) >= 2 and all(len(r) == 2 for r in rows), path.name
        for cluster, _network in rows:
            assert (KIND_CONFIGS / f"{cluster}.yaml").exists(), f"{path.name}: {cluster}"
    three = dict(line.split() for line in (KIND_CONFIGS / "topologies" / "three-members.txt").read_text()
                 .splitlines() if line.strip() and not line.startswith("#"))
    assert three["member-1"] == three["member-2"] != three["member-3"]


# --- e2e manifests -----------------------------------------------------------------
def test_e2e_manifests_validate():
    manifests = sorted((ROOT / "e2e" / "manifests").glob("*.yaml"))
    assert {p.name for p in manifests} >= {"helloworld.yaml", "sleep.yaml", "istio-member.yaml",
                                           "eastwest-gateway.yaml"}
    assert checks.check_manifest_files(manifests, checks.shared_dir_or_none()) == []


def test_checker_rejects_an_invalid_istio_object(tmp_path):
    shared = checks.shared_dir_or_none()
    if shared is None:
        pytest.skip("../shared (Istio CRDs) is absent; CI has it")
    manifest = tmp_path / "dr.yaml"
    manifest.write_text(
        "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: r}\n"
        "spec:\n  host: a.b.svc.cluster.local\n  trafficPolicy:\n    outlierDetection:\n"
        "      consecutive5xxErrors: many\n    localityLbSettings: {}\n")
    problems = checks.check_manifest_files([manifest], shared)
    assert any("consecutive5xxErrors" in p for p in problems), problems
    assert any("unknown field .spec.trafficPolicy.localityLbSettings" in p for p in problems), problems


# --- shell scripts -------------------------------------------------------------------
def test_repository_has_the_e2e_scripts():
    scripts = {str(p.relative_to(ROOT)) for p in checks.shell_scripts(ROOT)}
    assert {"e2e/kind.sh", "e2e/lib/common.sh", "e2e/lib/clusters.sh"} <= scripts


def test_every_shell_script_passes_bash_n():
    assert checks.check_bash_syntax(checks.shell_scripts(ROOT)) == []


def test_bash_n_check_rejects_a_syntax_error(tmp_path):
    broken = tmp_path / "broken.sh"
    broken.write_text("#!/usr/bin/env bash\nif true; then\n  echo missing fi\n")
    assert checks.check_bash_syntax([broken])


def test_every_shell_script_passes_shellcheck():
    if SHELLCHECK is None:
        if os.environ.get("CI"):
            pytest.fail("shellcheck is not installed, and CI must run it (Debian package shellcheck)")
        pytest.skip("shellcheck is not installed (Debian package shellcheck); CI requires it")
    assert checks.check_shellcheck(checks.shell_scripts(ROOT), SHELLCHECK) == []


def test_shellcheck_check_rejects_an_unquoted_expansion(tmp_path):
    if SHELLCHECK is None:
        pytest.skip("shellcheck is not installed")
    script = tmp_path / "bad.sh"
    script.write_text('#!/usr/bin/env bash\nrm -rf $1/tmp\n')
    assert any("SC2086" in p for p in checks.check_shellcheck([script], SHELLCHECK))


# --- Containerfile ---------------------------------------------------------------------
def test_containerfile_runs_as_a_numeric_non_root_user():
    assert checks.check_containerfile(ROOT / "Containerfile") == []
    assert checks.final_user(ROOT / "Containerfile").split(":")[0] == "65532"


def test_containerfile_is_multi_stage_and_installs_only_the_wheel():
    text = (ROOT / "Containerfile").read_text()
    stages = [line for line in text.splitlines() if line.startswith("FROM ")]
    assert len(stages) == 2 and "AS builder" in stages[0]
    final = text.split(stages[1], 1)[1]
    assert "pip install --no-index" in final and "from=builder" in final
    assert 'ENTRYPOINT ["federation"]' in final
    for tool in ("apt-get", "gcc", "build-essential"):
        assert tool not in final


@pytest.mark.parametrize("user_lines, expected", [
    ("", "has no USER"), ("USER root\n", "runs as root"), ("USER 0:0\n", "runs as 0:0"),
    ("USER app\n", "not numeric"),
])
def test_containerfile_check_rejects_root_or_unverifiable_users(tmp_path, user_lines, expected):
    path = tmp_path / "Containerfile"
    path.write_text(f"FROM python:3.11-slim AS b\nUSER 65532\nFROM python:3.11-slim\n{user_lines}"
                    'ENTRYPOINT ["federation"]\n')
    (problem,) = checks.check_containerfile(path)
    assert expected in problem


# --- e2e/kind.sh prerequisites -----------------------------------------------------------
def run_kind_sh(path_dir: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["/bin/bash", str(ROOT / "e2e" / "kind.sh")], capture_output=True, text=True,
                          timeout=60, env={"PATH": str(path_dir), "HOME": str(path_dir)}, cwd=ROOT,
                          check=False)


def link_tools(directory: Path, names: list[str]) -> None:
    for name in names:
        found = shutil.which(name)
        if found:
            (directory / name).symlink_to(found)


def test_kind_sh_without_docker_and_kind_exits_3_naming_them(tmp_path):
    link_tools(tmp_path, ["kubectl", "openssl", "timeout"])
    proc = run_kind_sh(tmp_path)
    assert proc.returncode == 3, proc.stderr
    missing = next(line for line in proc.stderr.splitlines() if line.startswith("missing prerequisites:"))
    named = missing.split(":", 1)[1].split()
    assert "docker" in named and "kind" in named and "istioctl" in named
    for present in ("kubectl", "openssl"):
        if (tmp_path / present).exists():
            assert present not in named
    assert "==> " not in proc.stdout  # nothing was started


def test_kind_sh_without_a_running_docker_engine_exits_3(tmp_path):
    docker = shutil.which("docker")
    if docker is None:
        pytest.skip("no docker client here to find without an engine")
    if subprocess.run([docker, "info"], capture_output=True, timeout=30, check=False).returncode == 0:
        pytest.skip("a Docker engine is running here")
    link_tools(tmp_path, ["docker", "kubectl", "openssl", "timeout"])
    # kind and istioctl are only looked up, never run, before the engine check.
    for name in ("kind", "istioctl"):
        if not (tmp_path / name).exists():
            (tmp_path / name).write_text("#!/bin/sh\nexit 99\n")
            (tmp_path / name).chmod(0o755)
    if not (tmp_path / "kubectl").exists() or not (tmp_path / "openssl").exists():
        pytest.skip("kubectl and openssl are needed to get past the tool check")
    proc = run_kind_sh(tmp_path)
    assert proc.returncode == 3, proc.stderr
    assert "running Docker engine" in proc.stderr
