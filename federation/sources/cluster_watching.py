"""Watching one member cluster and turning what it shows into change sets.

A ``ClusterWatcher`` runs one reflector per kind it reads (Namespace, Node,
Service, EndpointSlice, Pod, DestinationRule, VirtualService, and ServiceExport
in ``service-export`` mode) and feeds their events to its ``ClusterIndex``
(``indexing``), which keeps what matters and notes what each event can affect.
It emits a ``ChangeSet`` only for ClusterServices, ClusterInfo and user-owned
rule and route hosts that differ from what it emitted last. Nothing is emitted
until every kind has been listed once; then the full state goes out in one change set.

States reported through ``on_state``: ``synced`` (first full sync, or back after
being unreachable), ``unreachable`` (failing before its first sync: nothing
emitted), ``stale`` (failing after a sync: its ClusterInfo goes out with
``stale=True`` and its services are kept).
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from typing import Callable, Iterable

from federation.kube.client import (
    DESTINATION_RULE, ENDPOINT_SLICE, NAMESPACE, NODE, POD, SERVICE, SERVICE_EXPORT, VIRTUAL_SERVICE,
    KubeClient, ResourceType,
)
from federation.model import ChangeSet, ClusterChange, ClusterInfo, ClusterService, ServiceChange
from federation.model import UserRulesChange
from federation.model.cluster import ClusterState
from federation.model.scope import import_selector
from federation.model.ids import MANAGED_BY, MANAGED_BY_LABEL, ServiceKey
from federation.sources import deriving
from federation.sources.indexing import ClusterIndex
from federation.sources.reflecting import Reflector, ReflectorEvent, slim_identity
from federation.sources.settings import EXPORT_SERVICE_EXPORT, SourceSettings

log = logging.getLogger(__name__)

SYNCING, SYNCED, UNREACHABLE, STALE = ClusterState


class ClusterWatcher:
    """Watches one member cluster; ``emit(ChangeSet)`` and ``on_state(state)`` are
    called from its reflector threads, one at a time and in order."""

    def __init__(
        self,
        name: str,
        kube: KubeClient,
        settings: SourceSettings | None = None,
        emit: Callable[[ChangeSet], None] | None = None,
        on_state: Callable[[ClusterState], None] | None = None,
        resolve: Callable[[str], Iterable[str]] | None = None,
    ):
        self.name = name
        self.kube = kube
        self.index = ClusterIndex(name, settings or SourceSettings(), resolve)
        self._emit = emit or (lambda changes: None)
        self._on_state = on_state or (lambda state: None)
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self.state = SYNCING
        self.last_error = ""
        self._started = False
        # what was emitted last
        self._emitted_info: ClusterInfo | None = None
        self._emitted_services: dict[ServiceKey, ClusterService] = {}
        self._emitted_hosts: tuple[frozenset[str], frozenset[str]] | None = None  # rules', routes' hosts
        self._listed: set[str] = set()
        self._failing: set[str] = set()
        self._stale = False
        self.reflectors: dict[str, Reflector] = {}
        for rtype, handler, selector, missing_ok in self._kinds():
            self.reflectors[rtype.kind] = Reflector(
                kube, rtype,
                # Handlers keep what they derive; the caches need only what a delete found
                # by a relist is handled with (the hub's thousands of stubs among them).
                slim=deriving.slim_pod if rtype == POD else slim_identity,
                on_event=lambda event, h=handler: self._on_event(h, event),
                on_synced=lambda kind=rtype.kind: self._on_synced(kind),
                stop_event=self._stop,
                label_selector=selector,
                settings=self.settings,
                on_failure=lambda exc, n, kind=rtype.kind: self._on_failure(kind, exc, n),
                missing_ok=missing_ok,
            )

    def _kinds(self) -> list[tuple[ResourceType, Callable[[ReflectorEvent], None], str | None, bool]]:
        index = self.index
        kinds = [
            (NAMESPACE, index.namespace_event, None, False),
            (NODE, index.node_event, None, False),
            (SERVICE, index.service_event, None, False),
            (ENDPOINT_SLICE, index.slice_event, deriving.SERVICE_NAME_LABEL, False),
            (POD, index.pod_event, None, False),
            # The hub's own rules are filtered on the server; a cluster without
            # Istio's CRDs simply has no user rules.
            (DESTINATION_RULE, index.rule_event, f"{MANAGED_BY_LABEL}!={MANAGED_BY}", True),
            (VIRTUAL_SERVICE, index.route_event, f"{MANAGED_BY_LABEL}!={MANAGED_BY}", True),
        ]
        if self.settings.export_mode == EXPORT_SERVICE_EXPORT:
            kinds.append((SERVICE_EXPORT, index.export_event, None, True))
        return kinds

    # -- lifecycle --------------------------------------------------------------
    def start(self) -> None:
        with self._lock:
            if self._started:
                return
            self._started = True
        log.info("watching cluster", extra={"fields": {
            "cluster": self.name, "server": self.kube.server, "export_mode": self.settings.export_mode}})
        for reflector in self.reflectors.values():
            reflector.start()

    def stop(self, timeout: float | None = None) -> bool:
        """Stop every reflector; True when all threads ended within ``timeout``."""
        deadline = time.monotonic() + (self.settings.stop_timeout_seconds if timeout is None else timeout)
        self._stop.set()
        for reflector in self.reflectors.values():
            reflector.interrupt()
        stopped = all([r.join(max(0.0, deadline - time.monotonic())) for r in self.reflectors.values()])
        if not stopped:
            log.warning("cluster watcher threads still running after stop", extra={"fields": {
                "cluster": self.name, "alive": [r.name for r in self.reflectors.values() if r.alive]}})
        return stopped

    @property
    def settings(self) -> SourceSettings:
        return self.index.settings

    @property
    def synced(self) -> bool:
        with self._lock:
            return self.state in (SYNCED, STALE)

    def set_labels(self, labels: tuple[tuple[str, str], ...]) -> None:
        """New registration labels: only the ClusterInfo goes out again (no relist)."""
        with self._lock:
            self.index.settings = dataclasses.replace(self.settings, labels=labels)
            self._flush()

    # -- reflector callbacks ----------------------------------------------------------
    def _on_event(self, handler: Callable[[ReflectorEvent], None], event: ReflectorEvent) -> None:
        with self._lock:
            handler(event)
            self.index.pending.touch(event.observed_at)
            if not event.relisted:  # a list's events are flushed together when it completes
                self._flush()

    def _on_synced(self, kind: str) -> None:
        with self._lock:
            self._listed.add(kind)
            self._failing.discard(kind)
            if self.state in (SYNCING, UNREACHABLE):
                if self._listed.issuperset(self.reflectors):
                    self._first_sync()
                return
            if self._stale and not self._failing:
                self._recover()
                return
            self._flush()

    def _on_failure(self, kind: str, exc: Exception, consecutive: int) -> None:
        with self._lock:
            self.last_error = str(exc)
            self._failing.add(kind)
            if consecutive < self.settings.unreachable_after_failures or self._stop.is_set():
                return
            if self.state == SYNCING:
                self._set_state(UNREACHABLE, exc)
            elif self.state == SYNCED:
                self._stale = True
                self._flush()  # carries the ClusterInfo with stale=True
                self._set_state(STALE, exc)

    def _set_state(self, state: str, exc: Exception | None = None) -> None:
        self.state = state
        fields = {"cluster": self.name, "state": state}
        if exc is not None:
            fields["error"] = str(exc)
        log.info("cluster watch state", extra={"fields": fields})
        try:
            self._on_state(state)
        except Exception:  # noqa: BLE001 - a consumer's bug must not stop the watch
            log.exception("state handler raised", extra={"fields": {"cluster": self.name}})

    def _first_sync(self) -> None:
        self.index.mark_all()
        self._flush(initial=True)
        self._set_state(SYNCED)

    def _recover(self) -> None:
        self._stale = False
        self.index.mark_all(also=self._emitted_services)
        self._flush()
        self._set_state(SYNCED)

    # -- emitting -------------------------------------------------------------------
    def _flush(self, initial: bool = False) -> None:
        """Emit what changed since the last emission; ``initial``: the full state."""
        if self.state in (SYNCING, UNREACHABLE) and not initial:
            return  # until the first sync only the indexes are kept; it emits everything
        pending = self.index.take_pending()
        changes: list = []
        info = self.index.info(self._stale)
        if initial or info != self._emitted_info:
            changes.append(ClusterChange(self.name, info))
            self._emitted_info = info
        for key in sorted(pending.services):
            service = self.index.cluster_service(key)
            if service == self._emitted_services.get(key):
                if not (initial and service is not None):
                    continue
            elif service is None:
                del self._emitted_services[key]
            else:
                before = self._emitted_services.get(key)
                if (service.import_selector and import_selector(service.import_selector) is None
                        and (before is None or before.import_selector != service.import_selector)):
                    log.warning("import selector does not parse: imported nowhere", extra={"fields": {
                        "cluster": self.name, "service": str(key), "selector": service.import_selector}})
                self._emitted_services[key] = service
            changes.append(ServiceChange(self.name, key, service))
        if pending.rules:
            hosts = self.index.user_hosts()
            if initial or hosts != self._emitted_hosts:
                changes.append(UserRulesChange(self.name, *hosts))
                self._emitted_hosts = hosts
        if not changes:
            return
        observed_at = pending.observed_at if pending.observed_at is not None else time.monotonic()
        try:
            self._emit(ChangeSet(tuple(changes), observed_at=observed_at, sources=(self.name,)))
        except Exception:  # noqa: BLE001
            log.exception("emit failed", extra={"fields": {"cluster": self.name}})
