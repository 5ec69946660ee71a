"""Object identity, ownership and content digests of what the hub writes.

Every written object carries ``app.kubernetes.io/managed-by: mesh-federation``,
the hub's identity ``federation.mesh/hub: <id>`` (set once per installation) and
``federation.mesh/hash``: the sha256 of its canonical JSON without that
annotation. The pusher stamps all three, so render stays unaware of them.
Comparing the hash with the desired digest tells whether a write is needed
without reading the live object; ``content_matches`` also compares what the
hub set, so an edit that kept the annotation is still seen.

Ownership (``owner_of``): an object is this hub's when both labels say so.
One with the managed-by label but no hub label was written before hub
identities existed ("legacy"); one labelled by another hub is never ours.
"""


from __future__ import annotations

import functools
import hashlib
import json
import re
from typing import Mapping

from federation import errors
from federation.model.ids import MANAGED_BY, MANAGED_BY_LABEL, Ref, ref_of
from federation.push.packing import Packed, canonical_json

HASH_ANNOTATION = "federation.mesh/hash"
HUB_LABEL = "federation.mesh/hub"
MANAGED_SELECTOR = f"{MANAGED_BY_LABEL}={MANAGED_BY}"
DEFAULT_HUB_ID = "standalone"  # pushers built outside a hub (tests, tools)
LEGACY = ""  # owner_of: managed by mesh-federation, no hub identity


_STATUS_CODE = re.compile(r"^(.*?: \d{3})\b")


def describe(ref: Ref) -> str:
    """``Kind namespace/name (apiVersion)`` for messages; never content."""
    api_version, kind, namespace, name = ref
    where = f"{namespace}/{name}" if namespace else name
    return f"{kind} {where} ({api_version})"


def owner_of(obj: Mapping) -> str | None:
    """The hub id an object is labelled with, ``LEGACY`` when it is managed by
    mesh-federation without one, None when it is not managed by it at all."""
    labels = (obj.get("metadata") or {}).get("labels") or {}
    if labels.get(MANAGED_BY_LABEL) != MANAGED_BY:
        return None
    hub = labels.get(HUB_LABEL)
    return hub if isinstance(hub, str) else LEGACY


def is_owned(obj: Mapping, hub_id: str = DEFAULT_HUB_ID) -> bool:
    return owner_of(obj) == hub_id


def hub_selector(hub_id: str) -> str:
    return f"{MANAGED_SELECTOR},{HUB_LABEL}={hub_id}"


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
        text = canonical_json(body)
    except (TypeError, ValueError) as exc:
        raise errors.ValidationError(f"{describe(ref_of(obj))}: not JSON-serialisable") from exc
    return hashlib.sha256(text.encode()).hexdigest()


def owned_digest(ref: Ref, obj: Mapping, hub_id: str = DEFAULT_HUB_ID) -> str:
    """The digest ``obj`` has once labelled as owned: what its hash annotation will say.

    Nothing is copied but the top level and the metadata, and ``obj`` is never
    changed. Raises ValidationError when ``obj`` does not match ``ref``.
    """
    if not isinstance(obj, Mapping) or not isinstance(obj.get("metadata"), Mapping):
        raise errors.ValidationError(f"{describe(ref)}: desired object has no metadata")
    if ref_of(obj) != tuple(ref):
        raise errors.ValidationError(
            f"{describe(ref)}: object identifies as {describe(ref_of(obj))}")
    return content_digest(_labelled(obj, hub_id))


def stamped_body(obj: Mapping, digest: str, hub_id: str = DEFAULT_HUB_ID) -> dict:
    """``obj`` labelled as owned and annotated with ``digest``, ready to apply.

    Only the top level and the metadata are new dicts; everything under them is
    shared with ``obj`` and must not be changed by the caller.
    """
    body = _labelled(obj, hub_id)
    meta = body["metadata"]
    meta["annotations"] = {**(meta.get("annotations") or {}), HASH_ANNOTATION: digest}
    return body


_COMPACT = json.JSONEncoder(separators=(",", ":"))


@functools.lru_cache(maxsize=2048)
def stamped_bytes(packed: Packed, digest: str, hub_id: str = DEFAULT_HUB_ID) -> bytes:
    """``stamped_body`` of a packed object, serialised: the apply's body. Made once for
    every pusher writing the same object (the targets sharing a rendering), not once
    per cluster; a pure function of its arguments, sized for the writes in flight."""
    return _COMPACT.encode(stamped_body(packed.unpack(), digest, hub_id)).encode()


def stamped(ref: Ref, obj: Mapping, hub_id: str = DEFAULT_HUB_ID) -> tuple[dict, str]:
    """``obj`` labelled as owned and annotated with its digest, and that digest.

    The caller's dict is never changed (rendered objects may be shared between
    clusters); nested parts of the result are shared with it, not copied.
    """
    digest = owned_digest(ref, obj, hub_id)
    return stamped_body(obj, digest, hub_id), digest


def _labelled(obj: Mapping, hub_id: str) -> dict:
    body = dict(obj)
    meta = dict(body["metadata"])
    meta["labels"] = {**(meta.get("labels") or {}), MANAGED_BY_LABEL: MANAGED_BY, HUB_LABEL: hub_id}
    body["metadata"] = meta
    return body


def _projected(live, wanted):
    """``live`` cut down to the shape of ``wanted``: mappings keep only the keys
    ``wanted`` has, lists of equal length are cut element by element, anything
    else is taken whole. Fields the server adds (defaults, uid, status) drop out."""
    if isinstance(wanted, Mapping) and isinstance(live, Mapping):
        return {key: _projected(live[key], value) for key, value in wanted.items() if key in live}
    if isinstance(wanted, list) and isinstance(live, list) and len(wanted) == len(live):
        return [_projected(item, want) for item, want in zip(live, wanted)]
    return live


def content_matches(live: Mapping, body: Mapping, digest: str) -> bool:
    """Whether ``live`` still holds everything of ``body`` (the stamped desired
    object, whose digest is ``digest``): its hash annotation and every field
    the hub set, compared by digest."""
    if live_digest(live) != digest:
        return False
    return content_digest(_projected(live, body)) == digest


def last_editor(obj: Mapping, field_manager: str) -> str:
    """The most recent field manager of ``obj`` other than ``field_manager``
    (from managedFields), or "" when there is none."""
    entries = [entry for entry in (obj.get("metadata") or {}).get("managedFields") or ()
               if isinstance(entry, Mapping) and entry.get("manager") not in (None, field_manager)]
    if not entries:
        return ""
    latest = max(entries, key=lambda entry: str(entry.get("time") or ""))
    return str(latest.get("manager"))[:80]


def safe_message(ref: Ref, exc: BaseException) -> str:
    """An error message fit for status: a Secret's server message is cut after
    the status code so no key material an API server might echo can leak."""
    text = str(exc).split("\n")[0][:300]
    if ref[1] == "Secret":
        match = _STATUS_CODE.match(text)
        text = match.group(1) if match else exc.__class__.__name__
    return text
