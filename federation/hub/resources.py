"""Hub resources: what ``federation apply`` stores under ``policies/<kind>/``.

``FailoverPolicy`` is the hub's own kind, read here and handed to the renderer;
features add theirs (VM onboarding: ``WorkloadGroup``) with a parser and,
optionally, a handler of their store events.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Callable

from federation import errors
from federation.model.policy import FailoverPolicy, parse_policy
from federation.store import Store
from federation.store.base import WatchEvent
from federation.store.keys import Keys

log = logging.getLogger(__name__)

FAILOVER = "FailoverPolicy"


@dataclass(frozen=True)
class Kind:
    parse: Callable  # (doc) -> resource with .namespace, .name, .to_dict()


class Resources:
    def __init__(self, store: Store):
        self._store = store
        self._kinds: dict[str, Kind] = {FAILOVER: Kind(parse_policy)}
        self._handlers: dict[str, Callable[[WatchEvent], None]] = {}
        self._policies: dict[str, FailoverPolicy] = {}

    def kinds(self) -> dict[str, Kind]:
        """Hub resource kinds accepted by ``federation apply``: kind -> parser."""
        return dict(self._kinds)

    def add_kind(self, kind: str, parse: Callable, on_change: Callable[[WatchEvent], None] | None = None) -> None:
        self._kinds[kind] = Kind(parse)
        if on_change is not None:
            self._handlers[kind] = on_change

    @property
    def policies(self) -> list[FailoverPolicy]:
        return list(self._policies.values())

    def load_policies(self) -> None:
        items, _ = self._store.range(f"{Keys.POLICIES}{FAILOVER}/")
        policies = {}
        for kv in items:
            try:
                policies[kv.key] = parse_policy(json.loads(kv.value))
            except (errors.ValidationError, ValueError) as exc:
                log.error("stored policy invalid; ignored", extra={"fields": {
                    "key": kv.key, "error": str(exc)}})
        self._policies = policies

    def on_event(self, event: WatchEvent) -> bool:
        """A store event under ``policies/``; True when the failover policies changed."""
        kind = event.key[len(Keys.POLICIES):].split("/", 1)[0]
        if kind == FAILOVER:
            self.load_policies()
            return True
        handler = self._handlers.get(kind)
        if handler is not None:
            handler(event)
        return False
