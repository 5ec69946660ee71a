"""MeshPolicy on the command line: apply -f, get by any of its names (meshpolicies, mp, any
case) with a wide summary, delete -f; and a refused document's error on stderr."""

from __future__ import annotations

import pytest
import yaml

from federation import manifests
from tests.cli.test_output import hub, run  # noqa: F401  (the fixture)

POLICY = {"apiVersion": "federation.mesh/v1alpha1", "kind": "MeshPolicy",
          "metadata": {"name": "strict-mtls", "namespace": "istio-system"},
          "spec": {"clusterSelector": {"clusters": ["cluster-1"], "matchLabels": {"env": "prod"}},
                   "objects": [{"apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication",
                                "metadata": {"name": "default"}, "spec": {"mtls": {"mode": "STRICT"}}}]}}


@pytest.mark.parametrize("name", ["meshpolicy", "meshpolicies", "mp", "MeshPolicy", "MESHPOLICIES", "Mp"])
def test_every_name_of_the_kind_is_meshpolicy(name):
    assert manifests.canonical_kind(name) == "MeshPolicy"


def test_apply_get_and_delete_a_mesh_policy(hub, capsys, tmp_path):  # noqa: F811
    path = tmp_path / "mp.yaml"
    path.write_text(yaml.safe_dump(POLICY))
    status, out, err = run(hub, capsys, "apply", "-f", str(path))
    assert (status, out.strip()) == (0, "MeshPolicy istio-system/strict-mtls created"), err
    for kind in ("meshpolicies", "mp", "MeshPolicy"):
        status, out, err = run(hub, capsys, "get", kind)
        assert status == 0, err
        assert [line.split() for line in out.splitlines()] == [
            ["KIND", "NAMESPACE", "NAME"], ["MeshPolicy", "istio-system", "strict-mtls"]]
    _, out, _ = run(hub, capsys, "get", "mp", "-o", "wide")
    assert out.splitlines()[1].split()[-2:] == ["clusters=cluster-1,env=prod", "objects=PeerAuthentication/default"]
    _, out, _ = run(hub, capsys, "get", "mp", "strict-mtls", "-o", "yaml")
    [stored] = yaml.safe_load_all(out)
    assert stored["spec"]["objects"][0]["metadata"] == {"name": "default", "namespace": "istio-system"}
    status, out, _ = run(hub, capsys, "delete", "-f", str(path))
    assert (status, out.strip()) == (0, "MeshPolicy istio-system/strict-mtls deleted")


def test_a_refused_mesh_policy_names_the_field_on_stderr(hub, capsys, tmp_path):  # noqa: F811
    bad = {**POLICY, "spec": {"objects": [{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "x"}}]}}
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(bad))
    status, out, err = run(hub, capsys, "apply", "-f", str(path))
    assert status != 0 and out == ""
    assert "MeshPolicy istio-system/strict-mtls: spec.objects[0].kind: 'Secret' cannot be carried" in err
