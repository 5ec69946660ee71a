"""The kubectl-like command line against a real hub (admin API over TLS, one
simulated member): -o table|wide|json|yaml on every read command, kind names,
apply -f of a directory and of stdin, "No resources found", and `vm token list`."""

from __future__ import annotations

import io
import re
import json
import logging

import pytest
import yaml

from federation import cli
from kubesim.fleet import SimFleet
from kubesim.workloads import seed_cluster
from tests.onboarding.support import group_doc, start_hub, stop_hub
from tests.support import wait_for

READ_COMMANDS = (["get"], ["services"], ["status"], ["cluster", "list"], ["vm", "list"],
                 ["vm", "token", "list"], ["trust", "status"])

POLICY = {"apiVersion": "federation.mesh/v1alpha1", "kind": "FailoverPolicy",
          "metadata": {"name": "reviews", "namespace": "bookinfo"},
          "spec": {"selector": {"namespace": "bookinfo", "name": "reviews"},
                   "failover": [{"from": "us-east", "to": "eu-west"}]}}


@pytest.fixture
def hub(tmp_path):
    root = tmp_path
    with SimFleet(1, root / "fleet") as fleet:
        seed_cluster(fleet["cluster-1"], network="net-east", region="us-east", zones=["us-east-1a"],
                     services=["reviews"], namespace_name="bookinfo")
        started = start_hub(root / "hub")
        try:
            started.client.register_cluster("cluster-1", fleet.kubeconfig_path("cluster-1").read_text())
            wait_for(lambda: started.client.list_services(), timeout=20, what="the service to federate")
            yield started
        finally:
            stop_hub(started)


def run(hub, capsys, *args: str, stdin: str | None = None, monkeypatch=None) -> tuple[int, str, str]:
    flags = ["--hub", hub.service.api.address, "--ca", str(hub.workdir.ca),
             "--token-file", str(hub.workdir.token)]
    if stdin is not None:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    capsys.readouterr()
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        status = cli.main([*args, *flags])
    finally:  # the CLI points logging at the captured stderr: put it back
        root.handlers[:], root.level = handlers, level
    out, err = capsys.readouterr()
    return status, out, err


def header(text: str) -> str:
    """The first line of column names (status and trust status open with a summary)."""
    return next(line for line in text.splitlines() if line.split() and line.split()[0].isupper())


def test_every_read_command_prints_every_format(hub, capsys):
    hub.apply(group_doc("legacy-db", "bookinfo"), POLICY)
    token = hub.token("bookinfo/legacy-db")
    for command in READ_COMMANDS:
        outputs = {}
        for fmt in ("table", "wide", "json", "yaml"):
            status, out, err = run(hub, capsys, *command, "-o", fmt)
            assert status == 0, (command, fmt, err)
            outputs[fmt] = out
            assert token not in out
        as_json = json.loads(outputs["json"])
        if command == ["get"]:  # YAML: documents `apply -f` takes back
            assert list(yaml.safe_load_all(outputs["yaml"])) == as_json["items"]
        else:
            assert yaml.safe_load(outputs["yaml"]) == as_json, command
        table_head, wide_head = header(outputs["table"]), header(outputs["wide"])
        if command != ["trust", "status"]:  # its first line is a summary
            assert len(wide_head.split()) > len(table_head.split()), (command, table_head, wide_head)
        else:
            assert "SUBJECT" in outputs["wide"] and "SUBJECT" not in outputs["table"]
        # --json is the older spelling of -o json
        assert json.loads(run(hub, capsys, *command, "--json")[1]) == as_json


def test_read_commands_show_what_the_hub_holds(hub, capsys):
    _, out, _ = run(hub, capsys, "services", "-o", "json")
    assert [s["name"] for s in json.loads(out)] == ["reviews"]
    _, out, _ = run(hub, capsys, "cluster", "list")
    assert out.splitlines()[0].split() == ["NAME", "NETWORK", "REGION", "STATE", "GATEWAYS", "LABELS"]
    assert out.splitlines()[1].split()[:3] == ["cluster-1", "net-east", "us-east"]
    _, out, _ = run(hub, capsys, "cluster", "list", "-o", "wide")
    assert "SERVER" in out.splitlines()[0] and re.search(r"https://127\.[0-9.]+:\d+", out)


@pytest.mark.parametrize("kind", ["failoverpolicy", "failoverpolicies", "fp", "FailoverPolicy",
                                  "FAILOVERPOLICY", "FailoverPolicies"])
def test_kinds_are_case_insensitive_with_plurals_and_short_names(hub, capsys, kind):
    hub.apply(POLICY)
    status, out, err = run(hub, capsys, "get", kind)
    assert status == 0, err
    assert out.splitlines()[0].split() == ["KIND", "NAMESPACE", "NAME"]
    assert out.splitlines()[1].split() == ["FailoverPolicy", "bookinfo", "reviews"]
    assert "WorkloadGroup" not in out


@pytest.mark.parametrize("kind", ["workloadgroup", "workloadgroups", "wg", "WorkloadGroup"])
def test_workload_group_names(hub, capsys, kind):
    hub.apply(group_doc("legacy-db", "bookinfo"))
    status, out, _ = run(hub, capsys, "get", kind, "legacy-db", "-n", "bookinfo", "-o", "json")
    assert status == 0
    assert [d["metadata"]["name"] for d in json.loads(out)["items"]] == ["legacy-db"]


def test_an_unknown_kind_is_named_in_the_error(hub, capsys):
    status, _, err = run(hub, capsys, "get", "gadgets")
    assert status == 1 and "gadgets" in err and "FailoverPolicy" in err


def test_an_empty_get_says_no_resources_found(hub, capsys):
    status, out, err = run(hub, capsys, "get", "fp", "-n", "nowhere")
    assert status == 0 and out == ""
    # the in-process hub's own log records may share stderr; the command says exactly this
    said = [line for line in err.splitlines() if line.strip() and " level=" not in line]
    assert said == ["No resources found in namespace nowhere."]
    status, out, _ = run(hub, capsys, "get", "fp", "-n", "nowhere", "-o", "json")
    assert json.loads(out)["items"] == []


def test_apply_and_delete_a_directory_and_stdin(hub, capsys, tmp_path, monkeypatch):
    docs = tmp_path / "manifests"
    docs.mkdir()
    for i in (1, 2):
        body = {**POLICY, "metadata": {"name": f"dir-{i}", "namespace": "dirs"}}
        (docs / f"p{i}.yaml").write_text(yaml.safe_dump(body))
    (docs / "notes.txt").write_text("not a manifest")
    status, out, err = run(hub, capsys, "apply", "-f", str(docs))
    assert status == 0, err
    assert out.splitlines() == ["FailoverPolicy dirs/dir-1 created", "FailoverPolicy dirs/dir-2 created"]
    _, out, _ = run(hub, capsys, "get", "fp", "-n", "dirs")
    assert [line.split()[2] for line in out.splitlines()[1:]] == ["dir-1", "dir-2"]

    piped = yaml.safe_dump({**POLICY, "metadata": {"name": "piped", "namespace": "dirs"}})
    status, out, err = run(hub, capsys, "apply", "-f", "-", stdin=piped, monkeypatch=monkeypatch)
    assert status == 0 and out.strip() == "FailoverPolicy dirs/piped created", err

    status, out, _ = run(hub, capsys, "delete", "-f", str(docs))
    assert status == 0 and len(out.splitlines()) == 2
    _, out, _ = run(hub, capsys, "get", "fp", "-n", "dirs")
    assert [line.split()[2] for line in out.splitlines()[1:]] == ["piped"]


def test_apply_of_an_empty_directory_names_it(hub, capsys, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    status, _, err = run(hub, capsys, "apply", "-f", str(empty))
    assert status == 1 and str(empty) in err and "no .yaml" in err


def test_vm_token_list_shows_ids_and_uses_but_never_the_token(hub, capsys):
    hub.apply(group_doc("legacy-db", "bookinfo"))
    status, token, _ = run(hub, capsys, "vm", "token", "create", "--group", "bookinfo/legacy-db",
                           "--uses", "3")
    token = token.strip()
    assert status == 0 and token.startswith("mfvm_")
    status, out, _ = run(hub, capsys, "vm", "token", "list", "-o", "json")
    rows = json.loads(out)
    assert token not in out
    mine = [r for r in rows if r["uses_left"] == 3]
    assert len(mine) == 1 and mine[0]["group"] == "bookinfo/legacy-db" and mine[0]["state"] == "valid"
    status, _, _ = run(hub, capsys, "vm", "token", "revoke", mine[0]["token_id"])
    assert status == 0
    _, out, _ = run(hub, capsys, "vm", "token", "list")
    line = next(row for row in out.splitlines() if row.startswith(mine[0]["token_id"]))
    assert line.split()[3] == "revoked"
