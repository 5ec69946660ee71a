"""Stored objects and their history: entries with cached JSON, watch events, bounded event logs.

Also the API server's conventions that every write path shares: the order of
metadata keys, and the ``details`` of a Status that names one object.
"""

from __future__ import annotations

import bisect
import json
from typing import NamedTuple

from federation.errors import NotFound, ResourceExpired
from kubesim.resources import ServedType


class Entry:
    """A stored object with its cached JSON encoding."""

    __slots__ = ("obj", "raw", "rv")

    def __init__(self, obj: dict):
        self.obj = obj
        self.raw = json.dumps(obj, separators=(",", ":")).encode()
        self.rv = int(obj["metadata"]["resourceVersion"])

    @property
    def labels(self) -> dict:
        return self.obj["metadata"].get("labels") or {}

    def copy(self) -> dict:
        return json.loads(self.raw)


class Event(NamedTuple):
    rv: int
    type: str  # ADDED, MODIFIED, DELETED
    entry: Entry  # the object after the write (for DELETED: as deleted)
    prev: Entry | None


class EventLog:
    """Bounded history of one resource type; ``compacted`` is the newest rv no longer held."""

    def __init__(self, limit: int):
        self.limit = max(1, limit)
        self.events: list[Event] = []
        self.rvs: list[int] = []
        self.compacted = 0

    def append(self, event: Event) -> None:
        self.events.append(event)
        self.rvs.append(event.rv)
        if len(self.events) > self.limit + max(16, self.limit // 8):  # trim in batches
            self.drop(len(self.events) - self.limit)

    def drop(self, count: int) -> None:
        if count <= 0:
            return
        self.compacted = max(self.compacted, self.rvs[count - 1])
        del self.events[:count], self.rvs[:count]

    def since(self, rv: int) -> list[Event]:
        if rv < self.compacted:
            raise ResourceExpired(f"too old resource version: {rv} ({self.compacted})")
        return self.events[bisect.bisect_right(self.rvs, rv):]


def details_of(rtype: ServedType, name: str) -> dict:
    """The ``details`` of a Status naming one object, as the API server writes them."""
    details = {"name": name, "group": rtype.group, "kind": rtype.plural}
    if not rtype.group:
        del details["group"]
    return details


def not_found(rtype: ServedType, name: str) -> NotFound:
    exc = NotFound(f'{rtype.qualified_resource} "{name}" not found')
    exc.details = details_of(rtype, name)  # type: ignore[attr-defined]
    return exc


_META_ORDER = ("name", "generateName", "namespace", "uid", "resourceVersion", "generation", "creationTimestamp")


def ordered_metadata(meta: dict) -> dict:
    """Metadata keys in the order the API server prints them (identity first, managedFields last)."""
    out = {k: meta[k] for k in _META_ORDER if k in meta}
    out.update((k, v) for k, v in meta.items() if k not in out and k != "managedFields")
    if "managedFields" in meta:
        out["managedFields"] = meta["managedFields"]
    return out


# Fields the API server drops when empty (``omitempty`` in its typed objects); custom kinds keep
# their own empty maps, but their metadata is typed too.
_OMITTED_METADATA = ("labels", "annotations", "finalizers", "ownerReferences")
_OMITTED_BY_KIND = {"ConfigMap": ("data", "binaryData"), "Secret": ("data",)}


def omit_empty(rtype: ServedType, obj: dict) -> None:
    """Drop empty omitempty fields in place, as a write through the API server would."""
    meta = obj.get("metadata")
    if isinstance(meta, dict):
        for key in _OMITTED_METADATA:
            if key in meta and not meta[key]:
                del meta[key]
    if not rtype.custom and not rtype.group:
        for key in _OMITTED_BY_KIND.get(rtype.kind, ()):
            if key in obj and not obj[key]:
                del obj[key]
