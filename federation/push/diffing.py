"""What the hub would change in a member: desired objects against live ones (pure).

Only what the hub sets is compared: a live object is projected onto the fields
of the desired one, so what the API server adds (uid, defaults, status,
managedFields) is no difference. Secret data is compared by digest and never
shown. Used by ``federation diff``, as ``kubectl diff`` shows a manifest.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from federation.model.ids import Ref

CREATE, UPDATE, DELETE, CONFLICT = "create", "update", "delete", "conflict"
REDACTED = "<redacted>"


@dataclass(frozen=True)
class Difference:
    """One object the hub would change; the API carries it as ``control.ObjectDiff`` (YAML text)."""

    ref: Ref
    action: str  # create | update | delete | conflict
    live: dict | None  # projected and redacted
    desired: dict | None  # redacted


def project(live, desired):
    """``live`` reduced to the keys ``desired`` has (recursively into mappings)."""
    if isinstance(desired, dict) and isinstance(live, dict):
        return {k: project(live[k], v) for k, v in desired.items() if k in live}
    return live


def redacted(obj: dict | None) -> dict | None:
    """A copy with Secret data replaced by a digest (equal data, equal text)."""
    if obj is None or obj.get("kind") != "Secret" or "data" not in obj:
        return obj
    digest = hashlib.sha256(json.dumps(obj["data"], sort_keys=True).encode()).hexdigest()[:12]
    return {**obj, "data": {k: f"{REDACTED} (data {digest})" for k in sorted(obj["data"])}}


def differences(desired: dict[Ref, dict], live: dict[Ref, dict], foreign: set[Ref]) -> list[Difference]:
    """Every object the hub would create, update, delete or cannot write, sorted by ref."""
    out = []
    for ref in sorted(set(desired) | set(live)):
        want, have = desired.get(ref), live.get(ref)
        if want is None:
            out.append(Difference(ref, DELETE, redacted(_clean(have)), None))
        elif ref in foreign:
            out.append(Difference(ref, CONFLICT, None, redacted(want)))
        elif have is None:
            out.append(Difference(ref, CREATE, None, redacted(want)))
        else:
            seen = project(have, want)
            if seen != want:
                out.append(Difference(ref, UPDATE, redacted(seen), redacted(want)))
    return out


def _clean(obj: dict | None) -> dict | None:
    if obj is None:
        return None
    meta = {k: v for k, v in (obj.get("metadata") or {}).items()
            if k in ("name", "namespace", "labels", "annotations")}
    return {**{k: v for k, v in obj.items() if k not in ("metadata", "status")}, "metadata": meta}
