"""Digests, stamping and status messages of pushed objects (pure)."""

from __future__ import annotations

import copy

import pytest

from federation import errors
from federation.model.ids import MANAGED_BY, MANAGED_BY_LABEL, ref_of
from federation.push import HASH_ANNOTATION, content_digest
from federation.push.digest import DEFAULT_HUB_ID, HUB_LABEL
from federation.push.digest import owned_digest, safe_message, stamped, stamped_body
from tests.push.support import cacerts, workload_entry


def test_digest_ignores_key_order_and_its_own_annotation():
    obj = workload_entry("a")
    reordered = {key: obj[key] for key in reversed(list(obj))}
    annotated = copy.deepcopy(obj)
    annotated["metadata"]["annotations"] = {HASH_ANNOTATION: "stale"}
    assert content_digest(obj) == content_digest(reordered) == content_digest(annotated)
    assert content_digest(obj) != content_digest(workload_entry("a", "10.0.0.2"))


def test_stamped_copy_is_owned_and_annotated_and_the_original_untouched():
    obj = workload_entry("a")
    obj["metadata"]["labels"] = {"app": "a"}
    original = copy.deepcopy(obj)
    body, digest = stamped(ref_of(obj), obj)
    assert obj == original
    assert body["metadata"]["labels"] == {"app": "a", MANAGED_BY_LABEL: MANAGED_BY,
                                          HUB_LABEL: DEFAULT_HUB_ID}
    assert body["metadata"]["annotations"] == {HASH_ANNOTATION: digest}
    assert content_digest(body) == digest


def test_stamping_an_object_under_another_ref_is_a_validation_error():
    obj = workload_entry("a")
    with pytest.raises(errors.ValidationError, match="identifies as"):
        stamped(("networking.istio.io/v1", "WorkloadEntry", "default", "b"), obj)


def test_status_messages_about_secrets_stop_at_the_status_code():
    ref = ref_of(cacerts())
    exc = errors.ValidationError(
        "cluster 'c1': PATCH /api/v1/namespaces/istio-system/secrets/cacerts: 422 data[ca-key.pem]: LS0tLS1CRUdJTg")
    assert safe_message(ref, exc) == \
        "cluster 'c1': PATCH /api/v1/namespaces/istio-system/secrets/cacerts: 422"
    other = ref_of(workload_entry("a"))
    assert "spec.address" in safe_message(other, errors.ValidationError("x: 422 spec.address: bad"))


def test_the_owned_digest_is_the_stamped_bodys_and_stamping_copies_only_the_metadata():
    obj = workload_entry("a")
    digest = owned_digest(ref_of(obj), obj)
    body = stamped_body(obj, digest)
    assert stamped(ref_of(obj), obj) == (body, digest)
    assert content_digest(body) == digest
    assert body["spec"] is obj["spec"]  # shared, not copied: the pusher keeps no second copy
    assert body["metadata"] is not obj["metadata"] and obj["metadata"].get("annotations") is None
