"""What a pusher knows about one cluster's objects, kept current per object.

The ledger holds the desired objects, the owned objects as last listed or
written, and the outcome of each object's last write. From them it keeps, per
object, whether work is outstanding (``to_apply``, ``to_delete``) and whether
the live object matches (``matching``). Any change re-judges only the objects
it touches (``mark``); a full hand-over or an inventory re-judges everything
once (``mark_all``). So a push pass and its status cost O(changed objects),
not O(objects in the cluster). No I/O here; one thread (the pusher's worker)
owns it.

Watched changes of owned objects (``observe``) are judged by content: an
object whose hash annotation or hub-set fields differ from the desired one is
written again. Repeated fights over one object back off exponentially
(``Fight``) and are reported with the other field manager's name.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace
from itertools import chain, islice
from typing import Iterator, Mapping

from federation import errors
from federation.kube.resources import SERVICE, ResourceType, resource_type_of
from federation.model.ids import MANAGED_BY, resource_version
from federation.model.mesh_policy import MESH_POLICY_ANNOTATION
from federation.model.ownership import taken_over
from federation.push.digest import (
    DEFAULT_HUB_ID, LEGACY, Ref, content_matches, describe, last_editor, owned_digest, owner_of,
    stamped_body,
)
from federation.push.owned import LISTED_WHOLE, Inventory, LiveObject, newer
from federation.push.packing import Packed, pack, unpacked

# Back-off of repeated repairs of one object: the first is at once, then
# FIGHT_BASE * 2**(n-2) seconds up to FIGHT_MAX; a quiet FIGHT_RESET forgets it.
FIGHT_BASE = 1.0
FIGHT_MAX = 60.0
FIGHT_RESET = 120.0


@dataclass(frozen=True, slots=True)
class Fight:
    """Someone else changed or deleted an owned object ``count`` times, the last
    at ``last`` (monotonic); ``editor`` is their field manager ("" when unknown)."""

    count: int
    last: float
    editor: str
    deleted: bool

    @property
    def hold(self) -> float:
        """Seconds after ``last`` before the next repair."""
        return 0.0 if self.count <= 1 else min(FIGHT_MAX, FIGHT_BASE * 2 ** (self.count - 2))

    def describe(self, ref: Ref, now: float) -> str:
        what = "deleted" if self.deleted else "changed"
        who = f" by {self.editor}" if self.editor else ""
        text = f"{describe(ref)} {what}{who}; repaired {self.count} time(s)"
        wait = self.last + self.hold - now
        return text + (f", next repair in {wait:.1f}s" if wait > 0 else "")


@dataclass(frozen=True, slots=True)
class Wanted:
    """A desired object, held packed (see ``push.packing``), and the digest it has
    once stamped; ``error`` when it cannot be written at all."""

    rtype: ResourceType | None
    packed: Packed | None
    digest: str
    error: str | None = None

    @classmethod
    def of(cls, ref: Ref, obj: Mapping | Packed, hub_id: str = DEFAULT_HUB_ID) -> "Wanted":
        if isinstance(obj, Packed):
            return _wanted_packed(tuple(ref), obj, hub_id)
        return cls._of(ref, obj, hub_id)

    @classmethod
    def _of(cls, ref: Ref, obj: Mapping | Packed, hub_id: str) -> "Wanted":
        try:
            body = unpacked(obj)
            rtype = resource_type_of(dict(body))
            digest = owned_digest(ref, body, hub_id)
            packed = obj if isinstance(obj, Packed) else pack(body)
        except errors.ValidationError as exc:
            return cls(None, None, "", str(exc))
        return cls(rtype, packed, digest)

    def body(self) -> dict:
        """The object to write: a new dict, the caller's to change."""
        assert self.packed is not None
        return self.packed.unpack()


@functools.lru_cache(maxsize=4096)
def _wanted_packed(ref: Ref, packed: Packed, hub_id: str) -> Wanted:
    """``Wanted.of`` a packed object, once for every pusher handed the same one: the
    targets that share a rendering (``render.sharing``) share its digest and record
    too. A pure function of its arguments, so any hit is right; sized for the
    objects of the passes in flight."""
    return Wanted._of(ref, packed, hub_id)


class Ledger:
    """One cluster's desired and owned objects and the work between them."""

    def __init__(self, hub_id: str = DEFAULT_HUB_ID, field_manager: str = MANAGED_BY) -> None:
        self.hub_id = hub_id
        self.field_manager = field_manager
        # Listed or watched content of owned objects not desired yet: checked
        # once they are, then dropped (only until the first full desired set).
        self._unverified: dict[Ref, dict] = {}
        # Objects of other hubs seen here (name -> hub id): foreign, and reported.
        self.other_hubs: dict[Ref, str] = {}
        self.fights: dict[Ref, Fight] = {}
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
    def replace_desired(self, full: Mapping[Ref, Mapping | Packed]) -> None:
        self.desired = {ref: Wanted.of(tuple(ref), obj, self.hub_id) for ref, obj in full.items()}
        for ref, raw in self._unverified.items():
            self._verify(ref, raw)
        self._unverified.clear()
        self.prune_ready = True
        self._removed.clear()
        for table in (self._rejected, self._conflicts):
            for ref in [ref for ref in table if ref not in self.desired]:
                del table[ref]
        self._conflict_text = None
        self._all_dirty = True

    def change_desired(self, ref: Ref, obj: Mapping | Packed | None) -> None:
        if obj is None:
            self.desired.pop(ref, None)
            if not self.prune_ready:
                self._removed.add(ref)
            self._rejected.pop(ref, None)
            if self._conflicts.pop(ref, None) is not None:
                self._conflict_text = None
        else:
            self.desired[ref] = Wanted.of(tuple(ref), obj, self.hub_id)
            self._removed.discard(ref)
            raw = self._unverified.pop(ref, None)
            if raw is not None:
                self._verify(ref, raw)
        self._dirty[ref] = None

    def take_inventory(self, inventory: Inventory) -> None:
        """Start over from a fresh listing: every rejection and conflict is retried."""
        self.live = inventory.owned
        self.foreign = inventory.foreign
        self.other_hubs = dict(inventory.other_hubs)
        self._unverified = {}
        for ref, raw in inventory.raw.items():
            self._check_content(ref, raw)
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

    # -- content checks and watched changes ------------------------------------
    def _check_content(self, ref: Ref, raw: dict) -> bool:
        """Check ``raw`` now if desired, else once it is; True when it is
        known to differ from the desired object."""
        if ref in self.desired:
            return self._verify(ref, raw)
        if not self.prune_ready:
            self._unverified[ref] = raw
        return False

    def _verify(self, ref: Ref, raw: dict) -> bool:
        want, live = self.desired.get(ref), self.live.get(ref)
        if want is None or want.error is not None or live is None or live.digest is None:
            return False
        if content_matches(raw, stamped_body(want.body(), want.digest, self.hub_id), want.digest):
            return False
        self.live[ref] = replace(live, digest=None)  # edited: write it again
        self._dirty[ref] = None
        return True

    def observe(self, ref: Ref, rtype: ResourceType, deleted: bool, obj: dict, now: float) -> bool:
        """A watched change of an object of the written kinds; True when it
        undid what the hub wrote (a repair is due, maybe after a back-off)."""
        owner = owner_of(obj)
        ours = owner == self.hub_id or (owner == LEGACY and ref in self.live)
        current = self.live.get(ref)
        version = resource_version(obj)
        if current is not None and current.version and version and not newer(version, current.version):
            return False  # older than what was last written or seen
        if not ours:
            self._conflict_text = None  # other hubs' objects are part of it
            if deleted:
                self.foreign.discard(ref)
                self.other_hubs.pop(ref, None)
            elif owner is not None and owner != LEGACY:
                self.foreign.add(ref)
                self.other_hubs[ref] = owner
                if current is not None:  # relabelled to another hub: no longer ours
                    self.live.pop(ref, None)
                    self._judge(ref)
            return False
        want = self.desired.get(ref)
        matched = current is not None and want is not None and current.digest == want.digest
        if deleted:
            if current is None:
                return False
            self.live.pop(ref, None)
            self._judge(ref)
            return self._fought(ref, matched, "", now, deleted=True)
        self.foreign.discard(ref)
        self.other_hubs.pop(ref, None)
        if rtype == SERVICE and taken_over(obj):
            # A user's Service applied over the hub's stub is theirs: never repaired
            # back; the render drops the stub and the pusher then lets go of it.
            self.live[ref] = replace(LiveObject.of(rtype, obj), digest=want.digest if want else None)
            self._judge(ref)
            return False
        self.live[ref] = LiveObject.of(rtype, obj)
        drifted = self._check_content(ref, obj)
        self._judge(ref)
        return drifted and self._fought(ref, matched, last_editor(obj, self.field_manager), now)

    def _fought(self, ref: Ref, matched: bool, editor: str, now: float, deleted: bool = False) -> bool:
        if not matched or ref not in self.desired:
            return False  # not a change of what the hub had in place
        previous = self.fights.get(ref)
        count = 1 if previous is None or now - previous.last > FIGHT_RESET else previous.count + 1
        self.fights[ref] = Fight(count, now, editor, deleted)
        return True

    def held(self, ref: Ref, now: float) -> bool:
        """Whether the repair of ``ref`` waits for its fight's back-off."""
        fight = self.fights.get(ref)
        return fight is not None and now < fight.last + fight.hold

    def next_release(self, now: float) -> float | None:
        """Seconds until the earliest held repair may run, None when none waits."""
        waits = [max(0.0, fight.last + fight.hold - now) for ref, fight in self.fights.items()
                 if ref in self.to_apply]
        return min(waits) if waits else None

    def fight_report(self, now: float, limit: int) -> tuple[str, ...]:
        for ref in [ref for ref, fight in self.fights.items() if now - fight.last > FIGHT_RESET]:
            del self.fights[ref]
        return tuple(fight.describe(ref, now) for ref, fight in
                     islice(sorted(self.fights.items(), key=lambda item: -item[1].last), limit))

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

    def record_conflict(self, ref: Ref, digest: str, exists: bool = True,
                        owner: str | None = None) -> None:
        self._conflicts[ref] = digest
        self._conflict_text = None
        if exists:
            self.foreign.add(ref)
        if owner:  # another hub's
            self.other_hubs[ref] = owner
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
            self._conflict_text = tuple(sorted(self._conflict_line(ref) for ref in self._conflicts))
        hubs: dict[str, int] = {}
        for hub in self.other_hubs.values():
            hubs[hub] = hubs.get(hub, 0) + 1
        return self._conflict_text + tuple(
            f"{n} object(s) of another hub ({hub}) in this cluster; left alone"
            for hub, n in sorted(hubs.items()))

    def _conflict_line(self, ref: Ref) -> str:
        other = self.other_hubs.get(ref)
        if other is not None:
            line = f"{describe(ref)} exists and belongs to another hub ({other})"
        else:
            line = f"{describe(ref)} exists and is not managed by {MANAGED_BY}"
        return line + self._wanted_by(ref)

    def _wanted_by(self, ref: Ref) -> str:
        """Which hub resource wanted the name, when the object says (a MeshPolicy's)."""
        want = self.desired.get(ref)
        meta = want.body().get("metadata") or {} if want is not None and want.packed is not None else {}
        policy = (meta.get("annotations") or {}).get(MESH_POLICY_ANNOTATION)
        return f"; MeshPolicy {policy} wants that name: not written, the existing object left alone" \
            if policy else ""

    def rejection(self, ref: Ref) -> str | None:
        rejected = self._rejected.get(ref)
        return rejected[1] if rejected else None

    def delete_failure(self, ref: Ref) -> str | None:
        return self._delete_failed.get(ref)
