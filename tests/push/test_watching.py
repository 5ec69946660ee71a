"""What the owned-object watch keeps and hands over of each object (pure)."""

from __future__ import annotations

import copy

from federation.model.ownership import taken_over
from federation.push.digest import HUB_LABEL, last_editor, owner_of
from federation.push.watching import slim_owned, trimmed
from federation.sources.reflecting import Kept


def stub_service(name: str, hub: str = "hub-a", spec_by: str = "mesh-federation") -> dict:
    return {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {
            "name": name, "namespace": "shop", "uid": f"uid-{name}", "resourceVersion": "42",
            "labels": {"app.kubernetes.io/managed-by": "mesh-federation", HUB_LABEL: hub,
                       "federation.mesh/service-name": name},
            "annotations": {"federation.mesh/hash": "abc"},
            "managedFields": [
                {"manager": "mesh-federation", "operation": "Apply", "time": "2026-01-01T00:00:00Z",
                 "fieldsV1": {"f:metadata": {"f:labels": {"f:a": {}}}, "f:spec": {"f:ports": {}}}},
                {"manager": spec_by, "operation": "Update", "time": "2026-01-02T00:00:00Z",
                 "fieldsV1": {"f:spec": {"f:selector": {"f:app": {}}}}},
            ],
        },
        "spec": {"ports": [{"port": 80}]},
        "status": {"loadBalancer": {}},
    }


def test_a_handed_over_event_keeps_what_the_ledger_reads_and_not_the_rest():
    for spec_by in ("mesh-federation", "kubectl"):
        obj = stub_service("cart", spec_by=spec_by)
        before = copy.deepcopy(obj)
        cut = trimmed(obj)
        assert obj == before  # the reflector's object is not changed
        assert "status" not in cut and cut["spec"] == obj["spec"]
        assert cut["metadata"]["annotations"] == obj["metadata"]["annotations"]
        assert taken_over(cut) == taken_over(obj) == (spec_by != "mesh-federation")
        assert last_editor(cut, "mesh-federation") == last_editor(obj, "mesh-federation")
        assert owner_of(cut) == "hub-a"
        assert cut["metadata"]["managedFields"][0]["fieldsV1"] == {"f:metadata": {}, "f:spec": {}}


def test_the_cache_keeps_version_and_owner_with_owner_labels_shared():
    first, second = slim_owned(stub_service("cart")), slim_owned(stub_service("shelf"))
    owner = {"app.kubernetes.io/managed-by": "mesh-federation", HUB_LABEL: "hub-a"}
    assert first == Kept("42", owner)
    assert first.labels is second.labels
    # A delete a relist finds is handed over as the identity rebuilt from the key.
    assert first.object("shop/cart") == {"metadata": {"name": "cart", "namespace": "shop",
                                                      "resourceVersion": "42", "labels": owner}}
    assert owner_of(first.object("shop/cart")) == "hub-a"
    other = slim_owned(stub_service("cart", hub="hub-b"))
    assert owner_of(other.object("shop/cart")) == "hub-b" and other.labels is not first.labels
    legacy = stub_service("old")
    del legacy["metadata"]["labels"][HUB_LABEL]
    assert owner_of(slim_owned(legacy).object("shop/old")) == owner_of(legacy) == ""


def test_owner_labels_are_shared_even_after_many_other_owners_were_seen():
    for n in range(200):  # other hubs' objects, more than are kept shared
        slim_owned(stub_service("x", hub=f"hub-{n}"))
    first, second = slim_owned(stub_service("cart", hub="hub-z")), slim_owned(stub_service("shelf", hub="hub-z"))
    assert first.labels is second.labels
