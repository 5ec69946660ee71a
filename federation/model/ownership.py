"""Who owns a live object: the pure rule shared by the watchers and the pusher."""

from __future__ import annotations

from federation.model.ids import MANAGED_BY


def taken_over(obj: dict) -> bool:
    """(For Services.) A hub stub Service someone else has written the spec of: a user who rolls the
    service out to that cluster applied their own Service over the stub. It is then
    the member's own Service: watchers read it as such, and the hub lets go of it
    (drops its own fields) instead of deleting or repairing it."""
    for entry in (obj.get("metadata") or {}).get("managedFields") or ():
        if entry.get("manager") != MANAGED_BY and "f:spec" in (entry.get("fieldsV1") or {}):
            return True
    return False
