"""``federation check`` as an operator runs it: ✓/✗ lines, fixes, exit status."""

from __future__ import annotations

import json

from federation import cli
from federation.serving import prepare_workdir
from tests.check.conftest import istiod_pod


def run(env, capsys, *args):
    wd = prepare_workdir(env.workdir / "hub", hosts=["127.0.0.1"])  # the files the hub already uses
    code = cli.main(["check", "--hub", env.service.api.address, "--ca", str(wd.ca),
                     "--token-file", str(wd.token), *args])
    return code, capsys.readouterr()


def test_check_passes_then_fails_with_the_fix_and_exit_status_1(istio_hub, capsys):
    code, out = run(istio_hub, capsys)
    assert code == 0, out.out
    assert "✓ istiod uses the hub's cacerts" in out.out
    assert "Status check results are ✓" in out.out

    istio_hub.sim("cluster-2").apply(istiod_pod(multiroot="false"))
    code, out = run(istio_hub, capsys, "--cluster", "cluster-2")
    assert code == 1
    assert "cluster cluster-2" in out.out and "cluster cluster-1" not in out.out
    lines = out.out.splitlines()
    bad = lines.index("✗ istiod has ISTIO_MULTIROOT_MESH=true: 'false': istiod will not take a root rotation")
    assert lines[bad + 1] == "    fix: install Istio with --set values.pilot.env.ISTIO_MULTIROOT_MESH=true"

    code, out = run(istio_hub, capsys, "-o", "json")
    assert code == 1
    found = {(f["scope"], f["check"]): f["outcome"] for f in json.loads(out.out)}
    assert found[("cluster-2", "istiod has ISTIO_MULTIROOT_MESH=true")] == "fail"
    assert found[("cluster-1", "istiod has ISTIO_MULTIROOT_MESH=true")] == "ok"


def test_an_unknown_cluster_is_named(istio_hub, capsys):
    code, out = run(istio_hub, capsys, "--cluster", "nope")
    assert code == 1
    assert "cluster 'nope' is not registered" in out.err


def test_an_unreachable_hub_is_a_failed_check_with_its_fix(tmp_path, capsys):
    wd = prepare_workdir(tmp_path / "hub", hosts=["127.0.0.1"])
    code = cli.main(["check", "--hub", "127.0.0.1:1", "--ca", str(wd.ca), "--token-file", str(wd.token),
                     "--timeout", "3"])
    out = capsys.readouterr().out
    assert code == 1
    assert out.startswith("hub\n---\n✗ hub API answering: hub at 127.0.0.1:1 is unavailable")
    assert "fix: check --hub" in out
