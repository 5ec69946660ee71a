"""What a pusher knows about one cluster's objects, kept current per object.

The ledger holds the desired objects, the owned objects as last listed or
written, and the outcome of each object's last write. From them it keeps, per
object, whether work is outstanding (``to_apply``, ``to_delete``) and whether
the live object matches (``matching``). Any change re-judges only the objects
it touches (``mark``); a full hand-over or an inventory re-judges everything
once (``mark_all``). So a push pass and its status cost O(changed objects),
not O(objects in the cluster). No I/O here; one thread (the pusher's worker)
owns it.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import chain, islice
from typing import Iterator, Mapping

from federation import errors
from federation.kubeapi import ResourceType, resource_type_of
from federation.model.ids import MANAGED_BY
from federation.push.digest import Ref, describe, owned_digest
from federation.push.inventory import LISTED_WHOLE, Inventory, LiveObject


@dataclass(frozen=True)
class Wanted:
    """A desired object: the handed-over dict itself (not a copy) and the
    digest it has once stamped; ``error`` when it cannot be written at all."""

    rtype: ResourceType | None
    source: Mapping | None
    digest: str
    error: str | None = None

    @classmethod
    def of(cls, ref: Ref, obj: Mapping) -> "Wanted":
        try:
            rtype = resource_type_of(dict(obj))
            digest = owned_digest(ref, obj)
        except errors.ValidationError as exc:
            return cls(None, None, "", str(exc))
        return cls(rtype, obj, digest)


class Ledger:
    """One cluster's desired and owned objects and the work between them."""

    def __init__(self) -> None:
        self.desired: dict[Ref, Wanted] = {}
        self.live: dict[Ref, LiveObject] = {}
        # Names of objects of the kinds listed whole that exist and are not ours.
        self.foreign: set[Ref] = set()
        self.inventoried = False
        self.prune_ready = False
        # Removed by a change before the first full set: deletable even so.
        self._removed: set[Ref] = set()
        self._rejected: dict[Ref, tuple[str, str]] = {}  # ref -> (digest, message)
        self._conflicts: dict[Ref, str] = {}  # ref -> digest left alone
        self._delete_failed: dict[Ref, str] = {}
        self._invalid: dict[Ref, str] = {}
        # Derived per object by _judge; insertion-ordered for a stable write order.
        self.to_apply: dict[Ref, None] = {}
        self.to_delete: dict[Ref, None] = {}
        self.matching: set[Ref] = set()
        self._dirty: dict[Ref, None] = {}
        self._all_dirty = False
        self._conflict_text: tuple[str, ...] | None = ()

    # -- hand-overs and inventories --------------------------------------------
    def replace_desired(self, full: Mapping[Ref, Mapping]) -> None:
        self.desired = {ref: Wanted.of(tuple(ref), obj) for ref, obj in full.items()}
        self.prune_ready = True
        self._removed.clear()
        for table in (self._rejected, self._conflicts):
            for ref in [ref for ref in table if ref not in self.desired]:
                del table[ref]
        self._conflict_text = None
        self._all_dirty = True

    def change_desired(self, ref: Ref, obj: Mapping | None) -> None:
        if obj is None:
            self.desired.pop(ref, None)
            if not self.prune_ready:
                self._removed.add(ref)
            self._rejected.pop(ref, None)
            if self._conflicts.pop(ref, None) is not None:
                self._conflict_text = None
        else:
            self.desired[ref] = Wanted.of(tuple(ref), obj)
            self._removed.discard(ref)
        self._dirty[ref] = None

    def take_inventory(self, inventory: Inventory) -> None:
        """Start over from a fresh listing: every rejection and conflict is retried."""
        self.live = inventory.owned
        self.foreign = inventory.foreign
        self.inventoried = True
        self._rejected.clear()
        self._conflicts.clear()
        self._delete_failed.clear()
        self._conflict_text = ()
        self._all_dirty = True

    def settle(self) -> None:
        """Re-judge what changed since the last call."""
        if self._all_dirty:
            self._all_dirty = False
            self._dirty.clear()
            self.to_apply, self.to_delete, self.matching, self._invalid = {}, {}, set(), {}
            for ref in chain(self.desired, [ref for ref in self.live if ref not in self.desired]):
                self._judge(ref)
            return
        dirty, self._dirty = self._dirty, {}
        for ref in dirty:
            self._judge(ref)

    def _judge(self, ref: Ref) -> None:
        want = self.desired.get(ref)
        live = self.live.get(ref)
        if want is None:
            self.matching.discard(ref)
            self.to_apply.pop(ref, None)
            self._invalid.pop(ref, None)
            if self._is_orphan(ref):
                self.to_delete[ref] = None
            else:
                self.to_delete.pop(ref, None)
            return
        self.to_delete.pop(ref, None)
        if live is not None and live.digest == want.digest:
            self.matching.add(ref)
        else:
            self.matching.discard(ref)
        if self._needs_apply(ref, want):
            self.to_apply[ref] = None
        else:
            self.to_apply.pop(ref, None)
        if want.error is not None:
            self._invalid[ref] = want.error
        else:
            self._invalid.pop(ref, None)

    def _needs_apply(self, ref: Ref, want: Wanted) -> bool:
        if want.error is not None:
            return False
        live = self.live.get(ref)
        if live is not None and live.digest == want.digest:
            return False
        rejected = self._rejected.get(ref)
        if rejected is not None and rejected[0] == want.digest:
            return False
        return self._conflicts.get(ref) != want.digest

    def _is_orphan(self, ref: Ref) -> bool:
        return (self.inventoried and ref in self.live and ref not in self._delete_failed
                and (self.prune_ready or ref in self._removed))

    # -- outcomes of writes ------------------------------------------------------
    def must_look(self, ref: Ref, rtype: ResourceType) -> bool:
        """Whether an object of this name may exist and not be ours, so it must
        be read before a write. Names in neither the owned nor the foreign
        listing are written without a look; see ``ClusterPusher._apply``."""
        return ref not in self.live and (ref in self.foreign or rtype not in LISTED_WHOLE)

    def record_live(self, ref: Ref, live: LiveObject) -> None:
        self.live[ref] = live
        self.foreign.discard(ref)
        self._judge(ref)

    def record_absent(self, ref: Ref) -> None:
        self.foreign.discard(ref)

    def record_applied(self, ref: Ref, live: LiveObject) -> None:
        self._rejected.pop(ref, None)
        if self._conflicts.pop(ref, None) is not None:
            self._conflict_text = None
        self.record_live(ref, live)

    def record_rejected(self, ref: Ref, digest: str, message: str) -> None:
        self._rejected[ref] = (digest, message)
        self._judge(ref)

    def record_conflict(self, ref: Ref, digest: str, exists: bool = True) -> None:
        self._conflicts[ref] = digest
        self._conflict_text = None
        if exists:
            self.foreign.add(ref)
        self._judge(ref)

    def record_deleted(self, ref: Ref) -> None:
        self.live.pop(ref, None)
        self._removed.discard(ref)
        self._judge(ref)

    def record_delete_failed(self, ref: Ref, message: str) -> None:
        self._delete_failed[ref] = message
        self._judge(ref)

    # -- status ------------------------------------------------------------------
    @property
    def outstanding(self) -> int:
        return len(self.to_apply) + len(self.to_delete)

    @property
    def has_problems(self) -> bool:
        return bool(self._invalid or self._rejected or self._delete_failed)

    def problems(self, limit: int) -> tuple[str, ...]:
        """Up to ``limit`` messages, never object content."""
        found: Iterator[str] = chain(
            self._invalid.values(),
            (message for _, message in self._rejected.values()),
            (f"delete failed: {message}" for message in self._delete_failed.values()))
        return tuple(islice(found, limit))

    def conflicts(self) -> tuple[str, ...]:
        if self._conflict_text is None:
            self._conflict_text = tuple(sorted(
                f"{describe(ref)} exists and is not managed by {MANAGED_BY}" for ref in self._conflicts))
        return self._conflict_text

    def rejection(self, ref: Ref) -> str | None:
        rejected = self._rejected.get(ref)
        return rejected[1] if rejected else None

    def delete_failure(self, ref: Ref) -> str | None:
        return self._delete_failed.get(ref)
