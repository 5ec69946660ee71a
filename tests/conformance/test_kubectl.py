"""The real kubectl: discovery by short name, get, apply --server-side (conflicts, --force-conflicts), delete."""

from __future__ import annotations

import json

import yaml

from tests.sim.helpers import WORKLOAD_ENTRY_YAML

MANIFEST = WORKLOAD_ENTRY_YAML.replace("namespace: default", "namespace: {ns}")


def test_get_by_short_name_and_label(kubectl, client, ns):
    kubectl("apply", "--server-side", "-f", "-", stdin=MANIFEST.format(ns=ns))
    names = kubectl("get", "we", "-n", ns, "-l", "app=reviews", "-o", "name").stdout.split()
    assert names == ["workloadentry.networking.istio.io/vm-1"]
    listed = json.loads(kubectl("get", "workloadentries", "-n", ns, "-o", "json").stdout)
    assert listed["items"][0]["spec"]["weight"] == 3
    assert kubectl("get", "namespace", ns, "-o", "jsonpath={.status.phase}").stdout == "Active"


def test_server_side_apply_conflicts_and_force(kubectl, ns):
    manifest = MANIFEST.format(ns=ns)
    assert "serverside-applied" in kubectl("apply", "--server-side", "-f", "-", stdin=manifest).stdout
    stored = yaml.safe_load(kubectl("get", "we", "vm-1", "-n", ns, "-o", "yaml", "--show-managed-fields").stdout)
    assert [(m["manager"], m["operation"]) for m in stored["metadata"]["managedFields"]] == [("kubectl", "Apply")]
    rv = stored["metadata"]["resourceVersion"]
    kubectl("apply", "--server-side", "-f", "-", stdin=manifest)  # unchanged: no new resourceVersion
    assert kubectl("get", "we", "vm-1", "-n", ns, "-o", "jsonpath={.metadata.resourceVersion}").stdout == rv

    changed = manifest.replace("weight: 3", "weight: 5")
    refused = kubectl("apply", "--server-side", "--field-manager", "other", "-f", "-", stdin=changed, check=False)
    assert refused.returncode != 0
    assert 'conflict with "kubectl"' in refused.stderr and ".spec.weight" in refused.stderr
    kubectl("apply", "--server-side", "--field-manager", "other", "--force-conflicts", "-f", "-", stdin=changed)
    assert kubectl("get", "we", "vm-1", "-n", ns, "-o", "jsonpath={.spec.weight}").stdout == "5"


def test_invalid_apply_names_the_field(kubectl, ns):
    bad = MANIFEST.format(ns=ns).replace("weight: 3", "weight: -3")
    result = kubectl("apply", "--server-side", "-f", "-", stdin=bad, check=False)
    assert result.returncode != 0 and "spec.weight" in result.stderr


def test_delete_then_get_is_not_found(kubectl, ns):
    kubectl("apply", "--server-side", "-f", "-", stdin=MANIFEST.format(ns=ns))
    assert "deleted" in kubectl("delete", "we", "vm-1", "-n", ns).stdout
    missing = kubectl("get", "we", "vm-1", "-n", ns, check=False)
    assert missing.returncode == 1 and "NotFound" in missing.stderr
    again = kubectl("delete", "we", "vm-1", "-n", ns, check=False)
    assert again.returncode == 1 and "NotFound" in again.stderr
