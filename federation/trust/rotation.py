"""Root rotation: Istio's three steps as a resumable plan kept in the store.

    step 0 none           one root; intermediates from it
    step 1 bundle         every root-cert.pem carries old + new; intermediates still from old
    step 2 intermediates  intermediates re-issued from the new root; bundle still old + new
    step 3 finalize       old root dropped: bundle and intermediates from the new root only

A step is left only when every member cluster (and every listed VM agent) has
confirmed it and then a soak time has passed: at least one workload-certificate
lifetime, so no workload still holds a certificate the next step stops trusting.
The soak runs from the last confirmation (confirmations carry their time in the
store, so it survives a restart). Step 3 has no successor, but it is reported
complete only when it too is confirmed everywhere and soaked. The plan is one small JSON document written with compare-and-swap,
so of two hub replicas advancing at once exactly one wins; confirmations are
separate keys so thousands of agents never contend on the plan. A restarted hub
reads the plan and carries on at the stored step.
"""

from __future__ import annotations

import json
import logging
import secrets
from dataclasses import dataclass, replace
from enum import IntEnum
from typing import Iterable, Mapping

from federation import errors
from federation.model.ids import check_cluster_name
from federation.store.base import Compare, Delete, Put, Store
from federation.trust.cacerts import CACerts, build_cacerts
from federation.store.keys import TrustKeys
from federation.trust.records import check_agent_id

log = logging.getLogger(__name__)

_CAS_ATTEMPTS = 8


class Step(IntEnum):
    NONE = 0
    BUNDLE = 1
    INTERMEDIATES = 2
    FINALIZE = 3

    @classmethod
    def parse(cls, value: "Step | int | str") -> "Step":
        if isinstance(value, str) and not value.isdigit():
            try:
                return cls[value.upper()]
            except KeyError:
                raise errors.ValidationError(f"unknown rotation step {value!r}") from None
        try:
            return cls(int(value))
        except ValueError:
            raise errors.ValidationError(f"unknown rotation step {value!r}") from None

    @property
    def label(self) -> str:
        return self.name.lower()


@dataclass(frozen=True)
class RotationPlan:
    """The trust state machine. Outside a rotation ``current_root`` is the only root;
    during one ``current_root`` is the old root and ``new_root`` its successor; at
    FINALIZE ``current_root`` is the new root and ``previous_root`` the dropped one."""

    step: Step
    current_root: str
    new_root: str = ""
    previous_root: str = ""
    rotation_id: str = ""
    started_at: float = 0.0
    updated_at: float = 0.0
    trust_domain: str = ""

    @property
    def in_progress(self) -> bool:
        return self.step in (Step.BUNDLE, Step.INTERMEDIATES)

    def bundle_root_ids(self) -> tuple[str, ...]:
        """The roots every cluster and VM must trust at this step."""
        if self.in_progress:
            return (self.current_root, self.new_root)
        return (self.current_root,)

    def issuing_root_id(self) -> str:
        """The root that intermediates must come from at this step."""
        return self.new_root if self.step == Step.INTERMEDIATES else self.current_root

    def started(self, new_root: str, rotation_id: str, now: float) -> "RotationPlan":
        if self.in_progress:
            raise errors.Conflict(f"a root rotation is already at step {self.step.label}")
        if new_root == self.current_root:
            raise errors.CARejected("the new root is the current root")
        return replace(self, step=Step.BUNDLE, new_root=new_root, previous_root="",
                       rotation_id=rotation_id, started_at=now, updated_at=now)

    def advanced(self, now: float) -> "RotationPlan":
        if self.step == Step.BUNDLE:
            return replace(self, step=Step.INTERMEDIATES, updated_at=now)
        if self.step == Step.INTERMEDIATES:
            return replace(self, step=Step.FINALIZE, current_root=self.new_root, new_root="",
                           previous_root=self.current_root, updated_at=now)
        raise errors.Conflict(f"no rotation step follows {self.step.label}")

    def to_bytes(self) -> bytes:
        doc = {"step": int(self.step), "current_root": self.current_root,
               "new_root": self.new_root, "previous_root": self.previous_root,
               "rotation_id": self.rotation_id, "started_at": self.started_at,
               "updated_at": self.updated_at, "trust_domain": self.trust_domain}
        return json.dumps(doc, sort_keys=True).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> "RotationPlan":
        try:
            doc = json.loads(data)
            return cls(step=Step(int(doc["step"])), current_root=str(doc["current_root"]),
                       new_root=str(doc.get("new_root", "")),
                       previous_root=str(doc.get("previous_root", "")),
                       rotation_id=str(doc.get("rotation_id", "")),
                       started_at=float(doc.get("started_at", 0.0)),
                       updated_at=float(doc.get("updated_at", 0.0)),
                       trust_domain=str(doc.get("trust_domain", "")))
        except (ValueError, KeyError, TypeError) as exc:
            raise errors.TrustError("the stored rotation plan is malformed") from exc


def initial_plan(root_id: str, trust_domain: str, now: float) -> RotationPlan:
    return RotationPlan(step=Step.NONE, current_root=root_id, updated_at=now,
                        trust_domain=trust_domain)


def desired_cacerts(plan: RotationPlan, root_pems: Mapping[str, str], *,
                    intermediate_cert_pem: str, intermediate_key_pem: str,
                    intermediate_issuer: str, intermediate_fingerprint: str = "") -> CACerts:
    """What a cluster must hold at ``plan.step``, given its intermediate (pure).

    TrustError when the intermediate is not from the root this step issues from.
    """
    if intermediate_issuer != plan.issuing_root_id():
        raise errors.TrustError(
            f"intermediate from root {intermediate_issuer} does not belong to step "
            f"{plan.step.label} (expected root {plan.issuing_root_id()})")
    bundle = plan.bundle_root_ids()
    missing = [r for r in bundle if r not in root_pems]
    if missing:
        raise errors.TrustError(f"root certificates missing: {', '.join(missing)}")
    return build_cacerts(intermediate_cert_pem=intermediate_cert_pem,
                         intermediate_key_pem=intermediate_key_pem,
                         issuer_root_pem=root_pems[intermediate_issuer],
                         bundle_pems=[root_pems[r] for r in bundle], roots=bundle,
                         step=plan.step, intermediate_fingerprint=intermediate_fingerprint)


@dataclass(frozen=True)
class RotationProgress:
    """Where the plan stands after ``advance``: who has yet to confirm ``step``."""

    step: Step
    advanced: bool
    pending_clusters: tuple[str, ...] = ()
    pending_agents: tuple[str, ...] = ()
    soak_left: float = 0.0  # seconds before the step may be left (once nobody is pending)

    @property
    def in_progress(self) -> bool:
        return self.step in (Step.BUNDLE, Step.INTERMEDIATES)

    @property
    def pending(self) -> bool:
        return bool(self.pending_clusters or self.pending_agents)

    @property
    def complete(self) -> bool:
        """Nothing left to wait for: no rotation, or step 3 confirmed and soaked."""
        return self.step == Step.NONE or (
            self.step == Step.FINALIZE and not self.pending and self.soak_left <= 0)


# --- store side ---------------------------------------------------------------
def read_plan(store: Store, keys: TrustKeys) -> tuple[RotationPlan | None, int]:
    """The stored plan and its mod revision (None, 0 before any root exists)."""
    kv = store.get(keys.rotation)
    if kv is None:
        return None, 0
    return RotationPlan.from_bytes(kv.value), kv.mod_revision


def require_plan(store: Store, keys: TrustKeys) -> tuple[RotationPlan, int]:
    plan, revision = read_plan(store, keys)
    if plan is None:
        raise errors.NotFound("no mesh root yet: initialise or import one first")
    return plan, revision


def new_rotation_id() -> str:
    return secrets.token_hex(6)


def record_confirmation(store: Store, keys: TrustKeys, kind: str, name: str,
                        step: Step | int | str, now: float) -> None:
    """Record that a cluster (``kind`` "clusters") or agent ("agents") runs ``step``."""
    name = check_cluster_name(name) if kind == "clusters" else check_agent_id(name)
    wanted = Step.parse(step)
    for _ in range(_CAS_ATTEMPTS):
        plan, revision = require_plan(store, keys)
        if not plan.rotation_id or plan.step == Step.NONE:
            raise errors.Conflict("no root rotation to confirm")
        if wanted == Step.NONE or wanted > plan.step:
            raise errors.Conflict(f"cannot confirm step {wanted.label}: the rotation is at "
                                  f"step {plan.step.label}")
        key = keys.confirmation(plan.rotation_id, wanted, kind, name)
        body = json.dumps({"at": now}).encode()
        # Guarded by the plan's revision: a confirmation can never land on a rotation
        # that finished or restarted in between.
        if store.txn([Compare(keys.rotation, revision)], [Put(key, body)]):
            return
    raise errors.Conflict("the rotation plan kept changing; confirmation not recorded")


def _confirmed(store: Store, keys: TrustKeys, plan: RotationPlan, kind: str) -> dict[str, float]:
    """Who confirmed the plan's step, with when (0 for a record without a time)."""
    prefix = f"{keys.confirmations(plan.rotation_id, plan.step)}{kind}/"
    kvs, _ = store.range(prefix)
    return {kv.key[len(prefix):]: _confirmed_at(kv.value) for kv in kvs}


def _confirmed_at(value: bytes) -> float:
    try:
        return float(json.loads(value).get("at", 0.0))
    except (ValueError, TypeError, AttributeError):
        return 0.0


def confirmed_steps(store: Store, keys: TrustKeys, plan: RotationPlan,
                    kind: str) -> dict[str, int]:
    """The highest step each cluster (``kind`` "clusters") or agent confirmed in the
    plan's rotation; empty outside any rotation."""
    if not plan.rotation_id or plan.step == Step.NONE:
        return {}
    base = keys.confirmations(plan.rotation_id)
    kvs, _ = store.range(base)
    steps: dict[str, int] = {}
    for kv in kvs:
        step, _, rest = kv.key[len(base):].partition("/")
        found_kind, _, name = rest.partition("/")
        if found_kind == kind and name and step.isdigit():
            steps[name] = max(steps.get(name, 0), int(step))
    return steps


def gate_state(store: Store, keys: TrustKeys, plan: RotationPlan, clusters: Iterable[str],
               agents: Iterable[str], *, soak: float, now: float
               ) -> tuple[tuple[str, ...], tuple[str, ...], float]:
    """(pending clusters, pending agents, soak seconds left) for the plan's step.

    The soak runs from the latest confirmation of the waited-for clusters and
    agents; it is reported as ``soak`` whole while anyone is pending."""
    if not plan.rotation_id or plan.step == Step.NONE:
        return (), (), 0.0
    clusters, agents = set(clusters), set(agents)
    by_cluster = _confirmed(store, keys, plan, "clusters")
    by_agent = _confirmed(store, keys, plan, "agents")
    clusters_left = tuple(sorted(clusters - set(by_cluster)))
    agents_left = tuple(sorted(agents - set(by_agent)))
    if clusters_left or agents_left:
        return clusters_left, agents_left, max(0.0, soak)
    times = [by_cluster[c] for c in clusters] + [by_agent[a] for a in agents]
    settled = max(times, default=plan.updated_at)
    return (), (), max(0.0, settled + soak - now) if soak > 0 else 0.0


def advance(store: Store, keys: TrustKeys, clusters: Iterable[str], agents: Iterable[str],
            now: float, soak: float = 0.0) -> RotationProgress:
    """Move the plan one step when everyone confirmed the current one at least
    ``soak`` seconds ago.

    Returns the (possibly new) step, who must still confirm it and the soak left.
    A replica that loses the compare-and-swap to another reports ``advanced=False``.
    """
    clusters, agents = sorted(set(clusters)), sorted(set(agents))
    plan, revision = require_plan(store, keys)
    pending_c, pending_a, left = gate_state(store, keys, plan, clusters, agents,
                                            soak=soak, now=now)
    if not plan.in_progress or pending_c or pending_a or left > 0:
        return RotationProgress(plan.step, False, pending_c, pending_a, left)
    following = plan.advanced(now)
    ops: list[Put | Delete] = [Put(keys.rotation, following.to_bytes())]
    if following.step == Step.FINALIZE:
        # The old root's key is destroyed with the step that stops trusting it.
        ops.append(Delete(keys.root(following.previous_root)))
    if not store.txn([Compare(keys.rotation, revision)], ops):
        plan, _ = require_plan(store, keys)
        pending_c, pending_a, left = gate_state(store, keys, plan, clusters, agents,
                                                soak=soak, now=now)
        return RotationProgress(plan.step, False, pending_c, pending_a, left)
    log.info("root rotation advanced", extra={"fields": {
        "rotation": plan.rotation_id, "from_step": plan.step.label,
        "to_step": following.step.label}})
    if following.step == Step.FINALIZE:
        _drop_confirmations(store, keys, following.rotation_id, (Step.BUNDLE, Step.INTERMEDIATES))
    pending_c, pending_a, left = gate_state(store, keys, following, clusters, agents,
                                            soak=soak, now=now)
    return RotationProgress(following.step, True, pending_c, pending_a, left)


def _drop_confirmations(store: Store, keys: TrustKeys, rotation_id: str,
                        steps: Iterable[Step] | None = None) -> None:
    """Delete confirmations one by one: an etcd transaction holds at most 128 operations."""
    prefixes = ([keys.confirmations(rotation_id)] if steps is None
                else [keys.confirmations(rotation_id, s) for s in steps])
    for prefix in prefixes:
        kvs, _ = store.range(prefix)
        for kv in kvs:
            store.delete(kv.key)


def drop_old_confirmations(store: Store, keys: TrustKeys, keep_rotation_id: str) -> None:
    """Remove confirmations of every rotation but ``keep_rotation_id``."""
    base = f"{keys.prefix}confirmations/"
    kvs, _ = store.range(base)
    stale = {kv.key[len(base):].split("/", 1)[0] for kv in kvs} - {keep_rotation_id}
    for rotation_id in sorted(stale):
        _drop_confirmations(store, keys, rotation_id)
