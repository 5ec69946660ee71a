"""The README's "Export and import scope" example, run as written against `make demo`."""

from __future__ import annotations

import json
import os
import subprocess

from tests.cli.test_demo import BIN, REPO_ROOT, demo  # noqa: F401  (the demo fixture: its own demo here)
from tests.support import wait_for


def readme_scope_block() -> str:
    readme = (REPO_ROOT / "README.md").read_text()
    section = readme.split("\n### Export and import scope\n", 1)[1]
    return section.split("```sh\n", 1)[1].split("\n```", 1)[0]


def test_the_readme_scope_example_works_against_the_demo_as_written(demo, tmp_path):  # noqa: F811
    clusters = json.loads(demo.cli("cluster", "list", "-o", "json").stdout)
    assert {c["name"]: c["labels"] for c in clusters} == {
        "cluster-1": {"env": "prod"}, "cluster-2": {"env": "prod"}, "cluster-3": {"env": "staging"}}
    block = readme_scope_block()
    (tmp_path / ".demo").symlink_to(demo.workdir)  # the README runs from the checkout
    (tmp_path / ".venv").symlink_to(BIN.parent)
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEDERATION_")}
    # Run it in three steps (each after sourcing hub.env) to see each step's effect.
    lines = block.splitlines()
    relabel = next(i for i, line in enumerate(lines) if "cluster label cluster-3" in line)
    opt_out = next(i for i, line in enumerate(lines) if "label service ratings" in line)

    def run(part):
        done = subprocess.run(["bash", "-euo", "pipefail", "-c", "\n".join([lines[0]] + part)], cwd=tmp_path,
                              env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    def ratings():
        rows = {r["name"]: r for r in json.loads(demo.cli("services", "-o", "json").stdout)}
        return rows.get("ratings")

    assert "LABELS" in run(lines[1:relabel])
    wait_for(lambda: ratings()["imported_to"] == ["cluster-2"], what="ratings imported by cluster-2 alone")
    assert ratings()["exported_from"] == ["cluster-1"]
    assert ratings()["import_selectors"] == ["cluster-1: env=prod"]
    assert "cluster cluster-3 labelled: env=prod" in run(lines[relabel:opt_out])
    wait_for(lambda: ratings()["imported_to"] == ["cluster-2", "cluster-3"], what="cluster-3 imports ratings")
    run(lines[opt_out:])
    wait_for(lambda: ratings() is None, what="ratings opted out: federated nowhere")
    kubectl = ["kubectl", "--kubeconfig", str(demo.workdir / "kubeconfigs" / "cluster-3.yaml"), "-n", "bookinfo",
               "get", "workloadentries,services", "-l", "federation.mesh/service-name=ratings", "-o", "name"]
    wait_for(lambda: subprocess.run(kubectl, capture_output=True, text=True, timeout=30).stdout.strip() == "",
             what="ratings' entries and stub pruned from cluster-3")
