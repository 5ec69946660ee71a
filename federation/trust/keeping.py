"""Keeping every member cluster's ``cacerts`` current, and driving root rotations.

``TrustKeeper`` is one thread beside the hub. Each pass it:

1. builds the ``istio-system/cacerts`` Secret of every member cluster (issuing an
   intermediate for a new cluster, renewing one at two thirds of its life,
   re-issuing from the root a rotation step calls for) and keeps the Secrets in
   memory, where the hub's render thread picks them up without store I/O or
   crypto; when one changed, it asks the hub to re-render;
2. forgets the intermediates of clusters that were removed;
3. during a rotation, reads each cluster's live Secret back and confirms the
   step once it holds what the step requires, then asks the authority to take
   the next step once every cluster and every VM agent confirmed.

All of it is recomputed from the store, so a restarted hub (or another
replica) carries on at the stored step.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Callable, Iterable

from federation import errors, kubeapi
from federation.catalog import Keys
from federation.model.ids import MANAGED_BY, MANAGED_BY_LABEL
from federation.trust.authority import TrustAuthority
from federation.trust.cacerts import SECRET_NAME, SECRET_NAMESPACE
from federation.trust.metrics import ExpiryGauge
from federation.trust.rotation import RotationPlan, Step

log = logging.getLogger(__name__)

AgentSource = Callable[[], Iterable[str]]


class TrustKeeper:
    """Delivers the trust root to ``hub``'s member clusters (see the module doc).

    ``interval`` bounds how long a new cluster waits for its Secret; while a
    rotation step waits for clusters to hold it, passes come every
    ``rotation_interval``.
    Every ``sweep_interval`` each intermediate is checked for renewal and the
    expiry gauge is refreshed.
    """

    def __init__(self, hub, authority: TrustAuthority, *, interval: float = 1.0,
                 rotation_interval: float = 0.25, sweep_interval: float = 60.0):
        self._hub = hub
        self.authority = authority
        self.interval = interval
        self.rotation_interval = rotation_interval
        self.sweep_interval = sweep_interval
        self.expiry = ExpiryGauge()
        # Replaced as a whole, never mutated: the render thread reads it unlocked.
        self._secrets: dict[str, dict] = {}
        self._revisions: dict[str, tuple[int, int]] = {}  # (plan, intermediate) per Secret
        self._held: dict[str, tuple[str, int]] = {}  # cluster -> (rotation id, step) confirmed
        self._agent_source: AgentSource | None = None
        self._swept_at: float | None = None
        self._rotating = False
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- what the hub and the onboarding feature call --------------------------
    def cluster_objects(self, target: str) -> list[dict]:
        """The objects for ``target`` (its cacerts Secret once a root exists); no I/O."""
        secret = self._secrets.get(target)
        return [secret] if secret is not None else []

    def set_agent_source(self, source: AgentSource | None) -> None:
        """``source()`` returns the names of the live VM agents a rotation step waits for."""
        self._agent_source = source
        self.wake()

    def wake(self) -> None:
        """Run a pass now (after a root was created, a rotation started, an agent confirmed)."""
        self._wake.set()

    def agents(self) -> frozenset[str]:
        """The VM agents a rotation step waits for; raises what the source raises."""
        source = self._agent_source
        return frozenset(source()) if source is not None else frozenset()

    def cluster_names(self) -> list[str]:
        return sorted(self._hub.members())

    # -- lifecycle ------------------------------------------------------------
    def prime(self) -> None:
        """Build the Secrets of the registered clusters before the hub first renders,
        so a restarted hub never prunes a cluster's cacerts for want of it."""
        try:
            plan, plan_revision = self.authority.plan_state()
            if plan is not None:
                self._refresh(self._registered(), plan_revision, full=True)
        except errors.FederationError as exc:
            log.warning("trust state not loaded before the first render", extra={"fields": {
                "error": str(exc)}})

    def start(self) -> None:
        if self._thread is not None:
            raise errors.FederationError("the trust keeper is already started")
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="trust-keeper", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> bool:
        """Stop the thread; a pass in flight ends within one cluster request's timeout."""
        self._stop.set()
        self._wake.set()
        thread, self._thread = self._thread, None
        if thread is None:
            return True
        thread.join(timeout)
        return not thread.is_alive()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            try:
                self.run_once()
            except errors.FederationError as exc:
                log.warning("trust pass failed; retrying", extra={"fields": {"error": str(exc)}})
            except Exception:  # noqa: BLE001 - a bug must not end the keeper silently
                log.exception("trust pass crashed")
            self._wake.wait(self.rotation_interval if self._rotating else self.interval)

    # -- one pass ---------------------------------------------------------------
    def run_once(self) -> None:
        plan, plan_revision = self.authority.plan_state()
        if plan is None:
            self._rotating = False
            return
        names = self.cluster_names()
        now = time.monotonic()
        sweep = self._swept_at is None or now - self._swept_at >= self.sweep_interval
        changed = self._refresh(names, plan_revision, full=sweep)
        if sweep:
            self._forget_departed()
            self.expiry.record(self.authority.seconds_to_expiry())
            self._swept_at = now
        elif changed:
            self.expiry.record(self.authority.seconds_to_expiry())
        if changed:
            self._hub.refresh_cluster_objects()
        self._rotating = False
        if plan.step != Step.NONE and not self._stop.is_set():
            self._drive(plan, plan_revision, names)

    def _refresh(self, names: Iterable[str], plan_revision: int, *, full: bool) -> bool:
        """Rebuild the Secrets of new clusters, of all when the plan moved, and check
        every intermediate for renewal when ``full``; True when a Secret changed."""
        secrets = dict(self._secrets)
        revisions = dict(self._revisions)
        wanted = set(names)
        changed = False
        for name in sorted(wanted):
            if self._stop.is_set():
                return False
            known = revisions.get(name)
            if not full and name in secrets and known and known[0] == plan_revision:
                continue
            try:
                self.authority.ensure_intermediate(name)  # new, renewed or re-issued
                revision = self.authority.cacerts_revision(name)
                if revision == known and name in secrets:
                    continue
                secret = self.authority.cacerts_secret(name)
            except errors.ValidationError as exc:
                log.warning("no cacerts for cluster", extra={"fields": {
                    "cluster": name, "error": str(exc)}})
                continue
            revisions[name] = revision
            if secrets.get(name) != secret:
                secrets[name] = secret
                changed = True
        for name in set(secrets) - wanted:
            del secrets[name]
            revisions.pop(name, None)
            self._held.pop(name, None)
            self._forget_if_removed(name)
        self._secrets, self._revisions = secrets, revisions
        return changed

    def _registered(self) -> list[str]:
        kvs, _ = self._hub.store.range(Keys.CLUSTERS)
        return [kv.key[len(Keys.CLUSTERS):] for kv in kvs]

    def _forget_if_removed(self, name: str) -> None:
        # A member also vanishes for a moment when its record is updated: only a
        # deleted record means the cluster left.
        if self._hub.store.get(Keys.cluster(name)) is None:
            self.authority.forget_cluster(name)

    def _forget_departed(self) -> None:
        """Intermediates of clusters removed while no hub was watching."""
        registered = set(self._registered())
        for name in self.authority.member_clusters():
            if name not in registered:
                self.authority.forget_cluster(name)

    # -- rotation ------------------------------------------------------------------
    def _drive(self, plan: RotationPlan, plan_revision: int, names: list[str]) -> None:
        step = plan.step
        members = self._hub.members()
        for name in names:
            if self._stop.is_set():
                return
            if self._held.get(name) == (plan.rotation_id, int(step)):
                continue
            wanted = self._secrets.get(name)
            member = members.get(name)
            if wanted is None or member is None or self._revisions[name][0] != plan_revision:
                continue
            try:
                live = member.kube.get(kubeapi.SECRET, SECRET_NAMESPACE, SECRET_NAME)
            except errors.FederationError as exc:
                log.debug("cacerts not readable", extra={"fields": {
                    "cluster": name, "error": type(exc).__name__}})
                continue
            if _holds(live, wanted):
                try:
                    self.authority.confirm(name, step)
                except errors.Conflict:
                    return  # the plan moved on (or restarted) meanwhile: look again next pass
                self._held[name] = (plan.rotation_id, int(step))
                log.info("cluster holds the rotation step", extra={"fields": {
                    "cluster": name, "rotation": plan.rotation_id, "step": step.label}})
        if not plan.in_progress or self._stop.is_set():
            return
        try:
            agents = self.agents()
        except Exception as exc:  # noqa: BLE001 - the source belongs to another feature
            log.warning("VM agent list unavailable; rotation waits", extra={"fields": {
                "error": type(exc).__name__}})
            return
        progress = self.authority.advance(clusters=names, agents=agents)
        # Poll quickly only while pushes are awaited; agents confirm through the
        # onboarding API, which wakes the keeper.
        self._rotating = bool(progress.pending_clusters)
        if progress.advanced:
            self._wake.set()  # build and push the next step's Secrets at once


def _holds(live: dict | None, wanted: dict) -> bool:
    """The cluster's Secret is ours and carries exactly the files the step requires."""
    if not live:
        return False
    labels = (live.get("metadata") or {}).get("labels") or {}
    return labels.get(MANAGED_BY_LABEL) == MANAGED_BY and live.get("data") == wanted["data"]
