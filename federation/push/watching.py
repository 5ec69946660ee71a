"""Watching the objects the hub wrote into one member cluster, for drift repair.

One reflector (list, then watch; see ``sources.reflecting``) per written kind,
selected by the managed-by label (and by name where RBAC grants only that,
see ``FIELD_SELECTORS``), so every hub's objects are seen: this hub's
own ones to repair, other hubs' ones to report and never to write over. Each
change is handed to ``on_change(rtype, deleted, obj)`` on the reflector's
thread; the pusher only records it and wakes its worker.

Every write the hub makes comes back here as an event, and a pass that writes a
thousand objects holds a thousand of them until the next one: so an event is
handed over ``trimmed`` (what the ledger reads of it), and the reflectors cache
no more than ``slim_owned``. The echo of the hub's own write, whose version its
answer gave, is not even parsed (``known``).
"""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass
from typing import Callable

from federation.kube.client import KubeClient, ResourceType
from federation.model.ids import MANAGED_BY, MANAGED_BY_LABEL, Ref
from federation.push.digest import HUB_LABEL, MANAGED_SELECTOR
from federation.push.inventory import FIELD_SELECTORS, OWNED_KINDS
from federation.sources.reflecting import DELETED, Kept, Reflector, ReflectorEvent
from federation.sources.settings import SourceSettings

ChangeCallback = Callable[[ResourceType, bool, dict], None]


@dataclass(frozen=True)
class _InNamespace:
    """A kind seen through one namespace only (Secrets: istio-system), so the
    watch needs no cluster-wide read access to it."""

    rtype: ResourceType
    namespace: str

    def path(self, namespace: str | None = None, name: str | None = None) -> str:
        return self.rtype.path(self.namespace, name)

    def __getattr__(self, attr: str):
        return getattr(self.rtype, attr)


class OwnedWatch:
    """Label-selected reflectors over every written kind of one cluster."""

    def __init__(self, kube: KubeClient, on_change: ChangeCallback, watch_timeout: int = 300,
                 known: Callable[[str], tuple[str, Kept] | None] | None = None):
        self._stop = threading.Event()
        settings = SourceSettings(watch_timeout=watch_timeout)
        self._reflectors = []
        for rtype, namespace in OWNED_KINDS:
            seen = rtype if namespace is None else _InNamespace(rtype, namespace)
            self._reflectors.append(Reflector(
                kube, seen, on_event=lambda event, t=rtype: _hand(on_change, t, event),
                on_synced=lambda: None, stop_event=self._stop, label_selector=MANAGED_SELECTOR,
                field_selector=FIELD_SELECTORS.get(rtype), slim=slim_owned,
                settings=settings, missing_ok=True, known=known))

    def start(self) -> None:
        for reflector in self._reflectors:
            reflector.start()

    def request_stop(self) -> None:
        self._stop.set()
        for reflector in self._reflectors:
            reflector.interrupt()

    def stop(self, timeout: float) -> bool:
        """Stop every reflector; True when all ended within ``timeout``."""
        self.request_stop()
        return all([reflector.join(timeout) for reflector in self._reflectors])

    @property
    def skipped(self) -> int:
        """Events taken unparsed as echoes of the hub's own writes (for tests)."""
        return sum(reflector.skipped for reflector in self._reflectors)

    @property
    def watching(self) -> int:
        """Watch streams opened so far (for tests)."""
        return sum(reflector.watches for reflector in self._reflectors)


def _hand(on_change: ChangeCallback, rtype: ResourceType, event: ReflectorEvent) -> None:
    on_change(rtype, event.type == DELETED, trimmed(event.obj))


def trimmed(obj: dict) -> dict:
    """``obj`` without its status, and its managedFields cut to each manager, time
    and the top-level fields it set: what ``Ledger.observe`` reads (who edited
    last, whether someone else wrote a Service's spec). The field sets left out
    are often most of an object."""
    meta = obj.get("metadata") or {}
    out = {key: value for key, value in obj.items() if key != "status"}
    entries = meta.get("managedFields")
    if isinstance(entries, list):
        out["metadata"] = {**meta, "managedFields": [_entry_outline(entry) for entry in entries
                                                     if isinstance(entry, dict)]}
    return out


def _entry_outline(entry: dict) -> dict:
    fields = entry.get("fieldsV1")
    outline = {key: entry[key] for key in ("manager", "operation", "time") if key in entry}
    if isinstance(fields, dict):
        outline["fieldsV1"] = dict.fromkeys(fields, {})
    return outline


@functools.lru_cache(maxsize=64)  # as many as hubs writing into a cluster; anyone may label objects
def _owner_labels(managed_by: str | None, hub: str | None) -> dict:
    """The labels ``owner_of`` reads, one dict per owner shared by every cached object (read only)."""
    return {key: value for key, value in ((MANAGED_BY_LABEL, managed_by), (HUB_LABEL, hub)) if value is not None}


def slim_owned(obj: dict) -> Kept:
    """What an owned object's cache entry keeps: its version and whose it is (the
    labels ``owner_of`` reads, shared); a delete found by a relist carries these."""
    meta = obj.get("metadata") or {}
    labels = meta.get("labels") or {}
    return Kept(str(meta.get("resourceVersion") or ""),
                _owner_labels(_label(labels, MANAGED_BY_LABEL), _label(labels, HUB_LABEL)))


def own_echo(ref: Ref, version: str, hub_id: str) -> tuple[str, Kept]:
    """The cache key and entry of the echo of the hub's own write of ``ref`` answered
    with ``version``: what ``slim_owned`` keeps of it, the labels being those the
    pusher stamps."""
    _, _, namespace, name = ref
    return (f"{namespace}/{name}" if namespace else name,
            Kept(version, _owner_labels(MANAGED_BY, hub_id)))


def _label(labels: dict, key: str) -> str | None:
    value = labels.get(key)
    return value if isinstance(value, str) else None
