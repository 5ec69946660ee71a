"""Watching the objects the hub wrote into one member cluster, for drift repair.

One reflector (list, then watch; see ``sources.reflecting``) per written kind,
selected by the managed-by label (and by name where RBAC grants only that,
see ``FIELD_SELECTORS``), so every hub's objects are seen: this hub's
own ones to repair, other hubs' ones to report and never to write over. Each
change is handed to ``on_change(rtype, deleted, obj)`` on the reflector's
thread; the pusher only records it and wakes its worker.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Callable

from federation.kube.client import KubeClient, ResourceType
from federation.push.digest import MANAGED_SELECTOR
from federation.push.inventory import FIELD_SELECTORS, OWNED_KINDS
from federation.sources.reflecting import DELETED, Reflector, ReflectorEvent, slim_identity
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

    def __init__(self, kube: KubeClient, on_change: ChangeCallback, watch_timeout: int = 300):
        self._stop = threading.Event()
        settings = SourceSettings(watch_timeout=watch_timeout)
        self._reflectors = []
        for rtype, namespace in OWNED_KINDS:
            seen = rtype if namespace is None else _InNamespace(rtype, namespace)
            self._reflectors.append(Reflector(
                kube, seen, on_event=lambda event, t=rtype: _hand(on_change, t, event),
                on_synced=lambda: None, stop_event=self._stop, label_selector=MANAGED_SELECTOR,
                field_selector=FIELD_SELECTORS.get(rtype), slim=slim_identity,
                settings=settings, missing_ok=True))

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
    def watching(self) -> int:
        """Watch streams opened so far (for tests)."""
        return sum(reflector.watches for reflector in self._reflectors)


def _hand(on_change: ChangeCallback, rtype: ResourceType, event: ReflectorEvent) -> None:
    on_change(rtype, event.type == DELETED, event.obj)
