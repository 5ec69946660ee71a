"""Object identity, ownership and content digests of what the hub writes.

Every written object carries ``federation.mesh/hash``: the sha256 of its
canonical JSON without that annotation. Comparing it with the desired digest
tells whether a write is needed without reading or diffing the live object.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Mapping, Tuple

from federation import errors
from federation.model.ids import MANAGED_BY, MANAGED_BY_LABEL

HASH_ANNOTATION = "federation.mesh/hash"
MANAGED_SELECTOR = f"{MANAGED_BY_LABEL}={MANAGED_BY}"

# (apiVersion, kind, namespace, name); namespace is "" for cluster-scoped kinds.
Ref = Tuple[str, str, str, str]

_STATUS_CODE = re.compile(r"^(.*?: \d{3})\b")


def ref_of(obj: Mapping) -> Ref:
    meta = obj.get("metadata") or {}
    return (obj.get("apiVersion", ""), obj.get("kind", ""),
            meta.get("namespace") or "", meta.get("name", ""))


def describe(ref: Ref) -> str:
    """``Kind namespace/name (apiVersion)`` for messages; never content."""
    api_version, kind, namespace, name = ref
    where = f"{namespace}/{name}" if namespace else name
    return f"{kind} {where} ({api_version})"


def is_owned(obj: Mapping) -> bool:
    labels = (obj.get("metadata") or {}).get("labels") or {}
    return labels.get(MANAGED_BY_LABEL) == MANAGED_BY


def live_digest(obj: Mapping) -> str | None:
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    value = annotations.get(HASH_ANNOTATION)
    return value if isinstance(value, str) else None


def content_digest(obj: Mapping) -> str:
    """sha256 of the canonical JSON of ``obj`` without the hash annotation."""
    body = dict(obj)  # shallow: only metadata is changed, and on copies
    meta = dict(body.get("metadata") or {})
    annotations = dict(meta.get("annotations") or {})
    annotations.pop(HASH_ANNOTATION, None)
    if annotations:
        meta["annotations"] = annotations
    else:
        meta.pop("annotations", None)
    body["metadata"] = meta
    try:
        text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        raise errors.ValidationError(f"{describe(ref_of(obj))}: not JSON-serialisable") from exc
    return hashlib.sha256(text.encode()).hexdigest()


def owned_digest(ref: Ref, obj: Mapping) -> str:
    """The digest ``obj`` has once labelled as owned: what its hash annotation will say.

    Nothing is copied but the top level and the metadata, and ``obj`` is never
    changed. Raises ValidationError when ``obj`` does not match ``ref``.
    """
    if not isinstance(obj, Mapping) or not isinstance(obj.get("metadata"), Mapping):
        raise errors.ValidationError(f"{describe(ref)}: desired object has no metadata")
    if ref_of(obj) != tuple(ref):
        raise errors.ValidationError(
            f"{describe(ref)}: object identifies as {describe(ref_of(obj))}")
    return content_digest(_labelled(obj))


def stamped_body(obj: Mapping, digest: str) -> dict:
    """``obj`` labelled as owned and annotated with ``digest``, ready to apply.

    Only the top level and the metadata are new dicts; everything under them is
    shared with ``obj`` and must not be changed by the caller.
    """
    body = _labelled(obj)
    meta = body["metadata"]
    meta["annotations"] = {**(meta.get("annotations") or {}), HASH_ANNOTATION: digest}
    return body


def stamped(ref: Ref, obj: Mapping) -> tuple[dict, str]:
    """``obj`` labelled as owned and annotated with its digest, and that digest.

    The caller's dict is never changed (rendered objects may be shared between
    clusters); nested parts of the result are shared with it, not copied.
    """
    digest = owned_digest(ref, obj)
    return stamped_body(obj, digest), digest


def _labelled(obj: Mapping) -> dict:
    body = dict(obj)
    meta = dict(body["metadata"])
    meta["labels"] = {**(meta.get("labels") or {}), MANAGED_BY_LABEL: MANAGED_BY}
    body["metadata"] = meta
    return body


def safe_message(ref: Ref, exc: BaseException) -> str:
    """An error message fit for status: a Secret's server message is cut after
    the status code so no key material an API server might echo can leak."""
    text = str(exc).split("\n")[0][:300]
    if ref[1] == "Secret":
        match = _STATUS_CODE.match(text)
        text = match.group(1) if match else exc.__class__.__name__
    return text
