"""Per target cluster, the objects rendered for it, grouped in buckets.

A bucket is a service key or ``CLUSTER_BUCKET`` (gateways, cacerts). Replacing a
bucket returns only the differences, so a change to one service costs O(that
service's objects), not O(mesh). No I/O here.
"""

from __future__ import annotations

from typing import Hashable, Iterable

from federation.render import object_ref

CLUSTER_BUCKET = "__cluster__"

Ref = tuple[str, str, str, str]


class DesiredState:
    def __init__(self) -> None:
        self._buckets: dict[str, dict[Hashable, dict[Ref, dict]]] = {}

    def targets(self) -> list[str]:
        return list(self._buckets)

    def set_bucket(self, target: str, bucket: Hashable, objects: Iterable[dict]) -> dict[Ref, dict | None]:
        """Replace one bucket; returns {ref: new object, or None if no longer desired}."""
        buckets = self._buckets.setdefault(target, {})
        old = buckets.get(bucket, {})
        new = {object_ref(obj): obj for obj in objects}
        changes: dict[Ref, dict | None] = {ref: obj for ref, obj in new.items() if old.get(ref) != obj}
        changes.update({ref: None for ref in old if ref not in new})
        if new:
            buckets[bucket] = new
        else:
            buckets.pop(bucket, None)
        return changes

    def buckets(self, target: str) -> list[Hashable]:
        return list(self._buckets.get(target, {}))

    def all(self, target: str) -> dict[Ref, dict]:
        out: dict[Ref, dict] = {}
        for objects in self._buckets.get(target, {}).values():
            out.update(objects)
        return out

    def count(self, target: str) -> int:
        return sum(len(objs) for objs in self._buckets.get(target, {}).values())

    def drop(self, target: str) -> None:
        self._buckets.pop(target, None)
