"""Desired objects held packed: canonical JSON bytes instead of nested dicts.

The hub keeps every object it wants in every member cluster for as long as it
runs, so their form sets its memory per object. A rendered WorkloadEntry as
dicts takes about 4 KB; its canonical JSON (sorted keys, no spaces) about
0.7 KB, and two packed objects are equal exactly when their content is. What
the pusher writes is unpacked from it once per write.
"""

from __future__ import annotations

import json
from typing import Mapping

from federation import errors


# Built once: json.dumps with arguments builds an encoder per call, which costs as
# much as encoding a small object.
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_json(obj) -> str:
    """Sorted keys, no spaces: equal content, equal text. Raises TypeError or
    ValueError for what is not JSON."""
    return _CANONICAL.encode(obj)


class Packed(bytes):
    """One object's canonical JSON. Only ``pack`` makes them, so the bytes always
    decode to a JSON object."""

    __slots__ = ()

    def unpack(self) -> dict:
        return json.loads(self)


def pack(obj: Mapping) -> Packed:
    """``obj`` packed; ValidationError when it is not JSON."""
    try:
        return Packed(canonical_json(obj).encode())
    except (TypeError, ValueError) as exc:
        raise errors.ValidationError(f"not JSON-serialisable: {exc}") from exc


def unpacked(obj: Mapping | Packed) -> Mapping:
    """The object as a mapping, whichever form it is held in."""
    return obj.unpack() if isinstance(obj, Packed) else obj
