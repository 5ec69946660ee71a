"""Keeping every member cluster's ``cacerts`` current, and driving root rotations.

``TrustKeeper`` is one thread beside the hub. Each pass it:

1. builds the ``istio-system/cacerts`` Secret of every member cluster (issuing an
   intermediate for a new cluster, renewing one at two thirds of its life,
   re-issuing from the root a rotation step calls for) and keeps the Secrets in
   memory, where the hub's render thread picks them up without store I/O or
   crypto (``cluster_objects``: the keeper is a cluster-object source declared
   to the hub's reconciling); when one changed, it asks the hub to re-render;
2. forgets the intermediates of clusters that were removed;
3. during a rotation, confirms a cluster's step once its Secret holds what the
   step requires and its istiod publishes exactly the step's roots (see
   ``gating``), then asks the authority to take the next step once every
   cluster and every VM agent confirmed and the soak time passed.

All of it is recomputed from the store, so a restarted hub (or another
replica) carries on at the stored step. A Secret is kept for every cluster with
a stored record (not only the members running at the moment), and one the
keeper has not built yet is built when the hub first asks for it: the first
full desired set of a cluster always holds its ``cacerts``, so the pusher never
prunes (or rewrites) an existing one for want of it.
"""

from __future__ import annotations

import base64
import logging
import threading
import time
from dataclasses import replace
from typing import Callable, Iterable, Protocol

from federation import errors
from federation.kube.client import CONFIG_MAP, SECRET, ResourceType
from federation.trust.authority import TrustAuthority
from federation.trust.cacerts import SECRET_NAME, SECRET_NAMESPACE
from federation.trust.gating import (
    ROOTS_CONFIGMAP, ROOTS_NAMESPACE, ClusterGate, holds_cacerts, judge, judge_signer,
)
from federation.trust.metrics import ExpiryGauge
from federation.trust.signer_probe import served_certificate
from federation.trust.rotation import RotationPlan, Step
from federation.store import Store
from federation.store.keys import Keys
from federation.workers import Worker, deadline_in

log = logging.getLogger(__name__)

AgentSource = Callable[[], Iterable[str]]


class MemberClusters(Protocol):
    """What the keeper needs of the hub (``federation.hub.app.Hub``): its store,
    the member clusters running here (their records name istiod's CA address),
    one object of a member read with the hub's credentials, and a re-render
    once the keeper's ``cluster_objects`` changed."""

    store: Store

    def clusters(self) -> dict: ...  # name -> view with .record
    def read_member_object(self, cluster: str, kind: ResourceType, namespace: str,
                           name: str) -> dict | None: ...
    def refresh_cluster_objects(self) -> None: ...


class TrustKeeper:
    """Delivers the trust root to ``hub``'s member clusters (see the module doc).

    ``interval`` bounds how long a new cluster waits for its Secret; while a
    rotation step waits for clusters to hold it, passes come every
    ``rotation_interval``.
    Every ``sweep_interval`` each intermediate is checked for renewal and the
    expiry gauge is refreshed. Outside a rotation the roots each istiod publishes
    are read for the status every ``sweep_interval``, or every ``look_interval``
    while one does not publish the hub's root.
    """

    def __init__(self, hub: MemberClusters, authority: TrustAuthority, *, interval: float = 1.0,
                 rotation_interval: float = 0.25, sweep_interval: float = 60.0,
                 look_interval: float = 5.0):
        self._hub = hub
        self.authority = authority
        self.interval = interval
        self.rotation_interval = rotation_interval
        self.sweep_interval = sweep_interval
        self.look_interval = look_interval
        self.expiry = ExpiryGauge()
        # Replaced as a whole, never mutated: the render thread reads it unlocked.
        self._secrets: dict[str, dict] = {}
        self._revisions: dict[str, tuple[int, int]] = {}  # (plan, intermediate) per Secret
        self._held: dict[str, tuple[str, int]] = {}  # cluster -> (rotation id, step) confirmed
        # (rotation id, step, {cluster: gate}): what each cluster's istiod was last seen doing.
        self._gates: tuple[str, int, dict[str, ClusterGate]] = ("", 0, {})
        self._build_lock = threading.Lock()
        self._soak_wait: float | None = None  # seconds until a soak ends, when that is all
        self._has_root: bool | None = None  # as last seen in the store; None: not looked yet
        self._looked_at = float("-inf")  # outside a rotation: when the istiods were last read
        self._built_early = False  # a Secret was built for the render since the last pass
        self._agent_source: AgentSource | None = None
        self._swept_at: float | None = None
        self._rotating = False
        self.passes = 0  # passes of the thread completed, failed ones too (what a test waits on)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._worker = Worker("trust-keeper", self._run, stop=self._stop, wake=self._wake.set)

    # -- what the hub and the onboarding feature call --------------------------
    def cluster_objects(self, target: str) -> list[dict]:
        """The objects for ``target`` (its cacerts Secret once a root exists); no I/O
        but for a cluster the keeper has not built a Secret for yet."""
        secret = self._secrets.get(target)
        if secret is None:
            secret = self._build_now(target)
        return [secret] if secret is not None else []

    def _build_now(self, target: str) -> dict | None:
        """Build ``target``'s Secret at once (a cluster registered since the last pass):
        its first full desired set must not lack it."""
        if self._has_root is False:
            return None  # no root yet (a pass sees it within ``interval`` once there is one)
        with self._build_lock:
            if target in self._secrets:
                return self._secrets[target]
            try:
                plan, plan_revision = self.authority.plan_state()
                if plan is None:
                    return None
                built = self._refresh([*self._secrets, target], plan_revision, full=False,
                                      keep=True)
            except errors.FederationError as exc:
                log.warning("no cacerts for cluster yet", extra={"fields": {
                    "cluster": target, "error": str(exc)}})
                return None
        if built:
            self._built_early = True  # the next pass refreshes the expiry gauge
            # The caller may be a dry run, not the render: make sure it is pushed.
            self._hub.refresh_cluster_objects()
        return self._secrets.get(target)

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
        return sorted(self._hub.clusters())

    # -- lifecycle ------------------------------------------------------------
    def prime(self) -> None:
        """Build the Secrets of the registered clusters before the hub first renders,
        so a restarted hub never prunes a cluster's cacerts for want of it."""
        try:
            plan, plan_revision = self.authority.plan_state()
            self._has_root = plan is not None
            if plan is not None:
                with self._build_lock:
                    self._refresh(self._registered(), plan_revision, full=True)
        except errors.FederationError as exc:
            log.warning("trust state not loaded before the first render", extra={"fields": {
                "error": str(exc)}})

    def start(self) -> None:
        if self._worker.alive:
            raise errors.FederationError("the trust keeper is already started")
        self._stop.clear()
        self._worker.start()

    def stop(self, timeout: float = 10.0) -> bool:
        """Stop the thread; a pass in flight ends within one cluster request's timeout."""
        return self._worker.stop(deadline_in(timeout))

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            try:
                self.run_once()
            except errors.FederationError as exc:
                log.warning("trust pass failed; retrying", extra={"fields": {"error": str(exc)}})
            except Exception:  # noqa: BLE001 - a bug must not end the keeper silently
                log.exception("trust pass crashed")
            self.passes += 1
            wait = self.rotation_interval if self._rotating else self.interval
            if self._soak_wait is not None:
                wait = min(wait, max(self._soak_wait, 0.01))  # take the step once the soak ends
            self._wake.wait(wait)

    # -- one pass ---------------------------------------------------------------
    def run_once(self) -> None:
        plan, plan_revision = self.authority.plan_state()
        self._has_root = plan is not None
        if plan is None:
            self._rotating = False
            return
        names = self.cluster_names()
        now = time.monotonic()
        sweep = self._swept_at is None or now - self._swept_at >= self.sweep_interval
        with self._build_lock:
            changed = self._refresh(names, plan_revision, full=sweep)
            early, self._built_early = self._built_early, False
        if sweep:
            self._forget_departed()
            self.expiry.record(self.authority.seconds_to_expiry())
            self._swept_at = now
        elif changed or early:
            self.expiry.record(self.authority.seconds_to_expiry())
        if changed:
            self._hub.refresh_cluster_objects()
        self._rotating = False
        self._soak_wait = None
        if self._stop.is_set():
            return
        if plan.step != Step.NONE:
            self._drive(plan, plan_revision, names)
        else:
            self._look(plan, plan_revision, names, now)

    def _refresh(self, names: Iterable[str], plan_revision: int, *, full: bool,
                 keep: bool = False) -> bool:
        """Rebuild the Secrets of new clusters, of all when the plan moved, and check
        every intermediate for renewal when ``full``; True when a Secret changed.
        The caller holds ``_build_lock``. A Secret is dropped only with its cluster's
        record (``keep``: never): a member restarted for an updated record must find
        its Secret in its first full desired set."""
        secrets = dict(self._secrets)
        revisions = dict(self._revisions)
        wanted = set(names)
        if not keep:
            wanted |= {name for name in set(secrets) - wanted
                       if self._hub.store.get(Keys.cluster(name)) is not None}
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
        for name in set() if keep else set(secrets) - wanted:
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
        members = self._hub.clusters()
        expected = self.authority.bundle_fingerprints(plan)
        hub_roots = {plan.current_root, plan.new_root, plan.previous_root} - {""}
        rotation_id, _, seen = self._gates
        gates = dict(seen) if (rotation_id, self._gates[1]) == (plan.rotation_id, int(step)) else {}
        for name in names:
            if self._stop.is_set():
                return
            if self._held.get(name) == (plan.rotation_id, int(step)):
                continue
            gate = self._observe(name, members.get(name), plan_revision, expected, hub_roots)
            if gate.waiting_for and gate != gates.get(name):
                log.info("rotation step not in use in cluster yet", extra={"fields": {
                    "cluster": name, "step": step.label, "waiting_for": gate.waiting_for}})
            gates[name] = gate
            # published per cluster: status reads the store's confirmations at any moment
            self._gates = (plan.rotation_id, int(step), dict(gates))
            if gate.confirmed:
                try:
                    self.authority.confirm(name, step)
                except errors.Conflict:
                    return  # the plan moved on (or restarted) meanwhile: look again next pass
                self._held[name] = (plan.rotation_id, int(step))
                log.info("cluster runs the rotation step", extra={"fields": {
                    "cluster": name, "rotation": plan.rotation_id, "step": step.label}})
        self._gates = (plan.rotation_id, int(step), gates)
        try:
            agents = self.agents()
        except Exception as exc:  # noqa: BLE001 - the source belongs to another feature
            log.warning("VM agent list unavailable; rotation waits", extra={"fields": {
                "error": type(exc).__name__}})
            return
        progress = self.authority.advance(clusters=names, agents=agents)
        # Poll quickly only while clusters are awaited; agents confirm through the
        # onboarding API, which wakes the keeper; a soak ends at a known time.
        self._rotating = bool(progress.pending_clusters)
        if not progress.pending and progress.soak_left > 0 and progress.in_progress:
            self._soak_wait = progress.soak_left
        if progress.advanced:
            self._wake.set()  # build and push the next step's Secrets at once

    def _look(self, plan: RotationPlan, plan_revision: int, names: list[str],
              now: float) -> None:
        """Outside a rotation: what each istiod publishes, for the status only (an
        istiod not using the hub's cacerts shows before a rotation would stall on it)."""
        rotation_id, step, gates = self._gates
        settled = ((rotation_id, step) == (plan.rotation_id, int(plan.step))
                   and set(gates) == set(names) and all(g.confirmed for g in gates.values()))
        if now - self._looked_at < (self.sweep_interval if settled else self.look_interval):
            return
        self._looked_at = now
        members = self._hub.clusters()
        expected = self.authority.bundle_fingerprints(plan)
        looked = {name: self._observe(name, members.get(name), plan_revision, expected,
                                      {plan.current_root}) for name in names}
        self._gates = (plan.rotation_id, int(plan.step), looked)

    def _observe(self, name: str, member, plan_revision: int, expected: dict[str, str],
                 hub_roots: set[str]) -> ClusterGate:
        """Read ``name``'s cacerts and the roots its istiod publishes; judge the step."""
        wanted = self._secrets.get(name)
        known = self._revisions.get(name)
        if wanted is None or known is None or known[0] != plan_revision:
            return ClusterGate(name, waiting_for="the hub has not built this step's cacerts yet")
        if member is None:
            return ClusterGate(name, waiting_for="the cluster is not running on this hub")
        try:
            live = self._hub.read_member_object(name, SECRET, SECRET_NAMESPACE, SECRET_NAME)
            configmap = (self._hub.read_member_object(name, CONFIG_MAP, ROOTS_NAMESPACE, ROOTS_CONFIGMAP)
                         if holds_cacerts(live, wanted) else None)
        except errors.PermissionDenied:
            return ClusterGate(name, waiting_for=(
                f"the hub may not read {SECRET_NAMESPACE}/{SECRET_NAME} or "
                f"{ROOTS_NAMESPACE}/{ROOTS_CONFIGMAP} (apply deploy/member)"))
        except errors.FederationError as exc:
            return ClusterGate(name, waiting_for=f"cluster not readable ({type(exc).__name__})")
        gate = judge(name, live_secret=live, wanted_secret=wanted, configmap=configmap,
                     expected=expected, hub_roots=hub_roots)
        address = member.record.istiod_ca
        served, probe_error = None, ""
        if address and gate.confirmed:
            try:
                served = served_certificate(address)
            except errors.FederationError as exc:
                probe_error = str(exc)
        return judge_signer(gate, address=address, served=served, probe_error=probe_error,
                            expected_ca_pem=base64.b64decode(wanted["data"]["ca-cert.pem"]))

    # -- status ----------------------------------------------------------------------
    def status(self) -> dict:
        """The authority's status for the clusters and agents this keeper waits for,
        with what each cluster's istiod was last seen publishing."""
        status = self.authority.status(clusters=self.cluster_names(), agents=self.agents())
        rot = status["rotation"]
        rotation_id, step, gates = self._gates
        current = rotation_id == rot["rotation_id"] and step == rot["step"]
        if rot["step"] == 0:  # nothing is waited for; what each istiod publishes, as seen
            rot["clusters"] = [(gates[name] if current and name in gates else ClusterGate(
                name, waiting_for="not observed yet")).to_dict() for name in self.cluster_names()]
            return status
        pending = set(rot["pending_clusters"])
        clusters = []
        for name in self.cluster_names():
            gate = gates.get(name) if current else None
            if name not in pending:
                gate = (replace(gate, confirmed=True, waiting_for="", cacerts_written=True) if gate
                        else ClusterGate(name, True, "", (), True))
            elif gate is None or gate.confirmed:
                gate = ClusterGate(name, waiting_for="not observed yet")
            clusters.append(gate.to_dict())
        rot["clusters"] = clusters
        reasons = {c["cluster"]: c["waiting_for"] for c in clusters}
        rot["waiting_for"] = [f"cluster {c}: {reasons.get(c) or 'not observed yet'}"
                              for c in rot["pending_clusters"]] + [
            line for line in rot["waiting_for"] if not line.startswith("cluster ")]
        return status
