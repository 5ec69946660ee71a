"""Hub resources: what ``federation apply`` stores under ``policies/<kind>/``.

The kinds render reads (``RENDERED``: FailoverPolicy, and the traffic kinds as
they are added) are loaded here into one ``PolicySet`` handed to the renderer;
a change to any of them re-renders. Features add kinds of their own (VM
onboarding: ``WorkloadGroup``) with a parser and, optionally, a handler of
their store events.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Callable

from federation import errors
from federation.model.mesh_policy import parse_mesh_policy
from federation.model.policies import PolicySet
from federation.model.policy import FailoverPolicy, parse_policy
from federation.model.traffic_split import parse_traffic_split
from federation.store import Store
from federation.store.base import WatchEvent
from federation.store.keys import Keys

log = logging.getLogger(__name__)

FAILOVER = "FailoverPolicy"
# kind -> (parser, the PolicySet field its resources fill)
RENDERED: dict[str, tuple[Callable, str]] = {
    FAILOVER: (parse_policy, "failover"),
    "MeshPolicy": (parse_mesh_policy, "mesh"),
    "TrafficSplit": (parse_traffic_split, "splits"),
}


@dataclass(frozen=True)
class Kind:
    parse: Callable  # (doc) -> resource with .namespace, .name, .to_dict()


class Resources:
    def __init__(self, store: Store):
        self._store = store
        self._kinds: dict[str, Kind] = {kind: Kind(parse) for kind, (parse, _) in RENDERED.items()}
        self._handlers: dict[str, Callable[[WatchEvent], None]] = {}
        self._set = PolicySet()

    def kinds(self) -> dict[str, Kind]:
        """Hub resource kinds accepted by ``federation apply``: kind -> parser."""
        return dict(self._kinds)

    def add_kind(self, kind: str, parse: Callable, on_change: Callable[[WatchEvent], None] | None = None) -> None:
        self._kinds[kind] = Kind(parse)
        if on_change is not None:
            self._handlers[kind] = on_change

    @property
    def policies(self) -> list[FailoverPolicy]:
        return list(self._set.failover)

    @property
    def policy_set(self) -> PolicySet:
        """Every resource render reads, as stored now."""
        return self._set

    def load_policies(self) -> None:
        fields: dict[str, tuple] = {}
        for kind, (parse, field) in RENDERED.items():
            items, _ = self._store.range(f"{Keys.POLICIES}{kind}/")
            loaded = []
            for kv in items:  # in key order: (namespace, name)
                try:
                    loaded.append(parse(json.loads(kv.value)))
                except (errors.ValidationError, ValueError) as exc:
                    log.error("stored resource invalid; ignored", extra={"fields": {
                        "key": kv.key, "error": str(exc)}})
            fields[field] = tuple(loaded)
        self._set = PolicySet(**fields)

    def on_event(self, event: WatchEvent) -> bool:
        """A store event under ``policies/``; True when a kind render reads changed."""
        kind = event.key[len(Keys.POLICIES):].split("/", 1)[0]
        if kind in RENDERED:
            self.load_policies()
            return True
        handler = self._handlers.get(kind)
        if handler is not None:
            handler(event)
        return False
