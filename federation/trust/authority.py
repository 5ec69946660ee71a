"""The trust authority: the mesh root, per-cluster intermediates, VM workload
certificates and root rotation, all persisted in the Store.

Every write is a compare-and-swap against the rotation plan's revision (and the
record's own), so several hub replicas may call any method at the same time and
a restarted hub picks up exactly where the stored state is. Private keys are
sealed before they reach the store and never logged.

Store layout under ``prefix`` (default ``trust/``)::

    rotation                          the plan (JSON): step, current/new/previous root
    roots/<root id>                   root certificate + sealed key
    intermediates/<cluster>           a member cluster's intermediate + sealed key
    hub/workload-intermediate         the hub's issuer of VM workload certificates
    confirmations/<rotation>/<step>/{clusters,agents}/<name>
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass
from typing import Callable, Iterable

from federation import errors
from federation.model.ids import check_cluster_name
from federation.store.base import Compare, Put, Store
from federation.store.keys import Keys, TrustKeys
from federation.trust import rotation, sealing
from federation.trust.cacerts import CACerts
from federation.trust.gating import INTERMEDIATE_CHECK
from federation.trust.certificates import (
    CertifiedKey, as_datetime, certificate_pem, create_root, fingerprint, issue_intermediate,
    load_certificate, load_root, needs_renewal, renewal_due_at,
)
from federation.trust.records import CARecord, seal_record
from federation.trust.rotation import RotationPlan, RotationProgress, Step
from federation.trust.workload import (
    DEFAULT_TTL, WorkloadCertificate, check_csr, check_trust_domain, check_ttl, issue_leaf,
    spiffe_id,
)

log = logging.getLogger(__name__)

_CAS_ATTEMPTS = 8


@dataclass(frozen=True)
class ExpiryItem:
    """One CA certificate's remaining life, for the expiry metric."""

    kind: str  # "root" | "intermediate" | "workload-intermediate"
    name: str  # root id or cluster name ("hub" for the workload issuer)
    seconds: float


class TrustAuthority:
    """The mesh's CA, backed by ``store``; ``kek`` (32 bytes) seals every private key."""

    def __init__(self, store: Store, kek: bytes, trust_domain: str = "cluster.local",
                 clock: Callable[[], float] = time.time, *, prefix: str = Keys.TRUST,
                 org: str = "mesh-federation", intermediate_algorithm: str = "ecdsa-p256",
                 intermediate_validity_days: int = 365, rotation_soak: float = 0.0):
        if not isinstance(kek, (bytes, bytearray)) or len(kek) != sealing.KEK_SIZE:
            raise errors.ConfigError(f"the key-encryption key must be {sealing.KEK_SIZE} bytes")
        self._store = store
        self._kek = bytes(kek)
        self.trust_domain = check_trust_domain(trust_domain)
        self._clock = clock
        self.keys = TrustKeys(prefix)
        self.org = org
        self._algorithm = intermediate_algorithm
        self._validity_days = intermediate_validity_days
        if not rotation_soak >= 0:
            raise errors.ConfigError(f"the rotation soak must be >= 0 seconds, not {rotation_soak!r}")
        # Seconds each rotation step is held after everyone confirmed it; the hub
        # passes --rotation-soak (a workload-certificate lifetime, 24 h by default).
        self.rotation_soak = float(rotation_soak)

    def __repr__(self) -> str:
        return f"TrustAuthority(trust_domain={self.trust_domain!r}, prefix={self.keys.prefix!r})"

    def _now(self) -> float:
        return float(self._clock())

    # --- roots ------------------------------------------------------------------
    def has_root(self) -> bool:
        return rotation.read_plan(self._store, self.keys)[0] is not None

    def init_root(self, algorithm: str = "ecdsa-p256", validity_days: int = 3650,
                  org: str | None = None) -> str:
        """Create the mesh root; AlreadyExists when there is one (rotate it instead)."""
        self._refuse_second_root()
        now = self._now()
        root = create_root(algorithm=algorithm, validity_days=validity_days,
                           trust_domain=self.trust_domain, org=org or self.org, now=now)
        return self._write_first_root(root, imported=False, now=now)

    def import_root(self, cert_pem: bytes | str, key_pem: bytes | str) -> str:
        """Adopt an operator's root; CARejected (nothing written) when it is unusable."""
        self._refuse_second_root()
        now = self._now()
        root = load_root(cert_pem, key_pem, now=now)
        return self._write_first_root(root, imported=True, now=now)

    def _refuse_second_root(self) -> None:
        if self.has_root():
            raise errors.AlreadyExists("a mesh root exists already; replace it by a rotation")

    def _write_first_root(self, root: CertifiedKey, *, imported: bool, now: float) -> str:
        key = self.keys.root(root.id)
        record = seal_record(self._kek, key, root, name=root.id, created_at=now,
                             imported=imported, trust_domain=self.trust_domain)
        plan = rotation.initial_plan(root.id, self.trust_domain, now)
        ok = self._store.txn([Compare(self.keys.rotation, 0), Compare(key, 0)],
                             [Put(key, record.to_bytes()),
                              Put(self.keys.rotation, plan.to_bytes())])
        if not ok:
            raise errors.AlreadyExists("a mesh root exists already; replace it by a rotation")
        log.info("mesh root stored", extra={"fields": {
            "root": root.id, "fingerprint": root.fingerprint, "imported": imported,
            "not_after": root.not_after.isoformat()}})
        return root.id

    def _root_record(self, root_id: str) -> CARecord:
        key = self.keys.root(root_id)
        kv = self._store.get(key)
        if kv is None:
            raise errors.NotFound(f"root {root_id} is not in the store")
        return CARecord.from_bytes(kv.value, key)

    def _root_pems(self) -> dict[str, str]:
        kvs, _ = self._store.range(self.keys.roots)
        return {kv.key[len(self.keys.roots):]: CARecord.from_bytes(kv.value, kv.key).cert_pem
                for kv in kvs}

    def bundle_fingerprints(self, plan: RotationPlan) -> dict[str, str]:
        """Root id → SHA-256 fingerprint of every root ``plan``'s step trusts."""
        pems = self._root_pems()
        missing = [r for r in plan.bundle_root_ids() if r not in pems]
        if missing:
            raise errors.Conflict(f"root certificates missing: {', '.join(missing)}")
        return {r: fingerprint(load_certificate(pems[r])) for r in plan.bundle_root_ids()}

    def trust_bundle(self) -> str:
        """PEM of every root to trust now (two during a rotation)."""
        for _ in range(_CAS_ATTEMPTS):
            plan, _ = rotation.require_plan(self._store, self.keys)
            pems = self._root_pems()
            if all(r in pems for r in plan.bundle_root_ids()):
                return "".join(pems[r] for r in plan.bundle_root_ids())
        raise errors.Conflict("the trust state kept changing while reading the bundle")

    # --- intermediates ------------------------------------------------------------
    def ensure_intermediate(self, cluster: str) -> CARecord:
        """The cluster's intermediate: created, renewed (two thirds of its life gone) or
        re-issued from the root the rotation step calls for, as needed."""
        check_cluster_name(cluster)
        record, _ = self._ensure_ca(self.keys.intermediate(cluster), cluster,
                                    common_name=f"{cluster} intermediate", locality=cluster)
        return record

    def _ensure_workload_issuer(self) -> tuple[CARecord, RotationPlan]:
        return self._ensure_ca(self.keys.workload_issuer, "hub",
                               common_name=f"{self.org} workload intermediate", locality="hub")

    def _ensure_ca(self, store_key: str, name: str, *, common_name: str,
                   locality: str) -> tuple[CARecord, RotationPlan]:
        for _ in range(_CAS_ATTEMPTS):
            now = self._now()
            plan, plan_revision = rotation.require_plan(self._store, self.keys)
            kv = self._store.get(store_key)
            record = CARecord.from_bytes(kv.value, store_key) if kv else None
            issuer_id = plan.issuing_root_id()
            if record and record.issuer == issuer_id and not needs_renewal(record.cert, now):
                return record, plan
            issuer = self._root_record(issuer_id).open(self._kek, self.keys.root(issuer_id))
            ca = issue_intermediate(issuer, common_name=common_name, org=self.org,
                                    locality=locality, algorithm=self._algorithm,
                                    validity_days=self._validity_days, now=now)
            fresh = seal_record(self._kek, store_key, ca, name=name, issuer=issuer_id,
                                created_at=now, trust_domain=self.trust_domain)
            guards = [Compare(self.keys.rotation, plan_revision),
                      Compare(store_key, kv.mod_revision if kv else 0)]
            if self._store.txn(guards, [Put(store_key, fresh.to_bytes())]):
                log.info("intermediate issued", extra={"fields": {
                    "name": name, "issuer": issuer_id, "fingerprint": ca.fingerprint,
                    "not_after": ca.not_after.isoformat(),
                    "reason": "new" if record is None else
                              "rotation" if record.issuer != issuer_id else "renewal"}})
                return fresh, plan
            # Another replica wrote first or the plan moved: look again.
        raise errors.Conflict(f"intermediate for {name} kept changing; try again")

    def cacerts(self, cluster: str) -> CACerts:
        """The cacerts content the cluster must hold at the current rotation step."""
        for _ in range(_CAS_ATTEMPTS):
            record = self.ensure_intermediate(cluster)
            plan, _ = rotation.require_plan(self._store, self.keys)
            pems = self._root_pems()
            if record.issuer != plan.issuing_root_id() or not all(
                    r in pems for r in (*plan.bundle_root_ids(), record.issuer)):
                continue  # the plan advanced in between
            ca = record.open(self._kek, self.keys.intermediate(cluster))
            return rotation.desired_cacerts(
                plan, pems, intermediate_cert_pem=record.cert_pem,
                intermediate_key_pem=ca.key_pem(), intermediate_issuer=record.issuer,
                intermediate_fingerprint=fingerprint(record.cert))
        raise errors.Conflict(f"the trust state kept changing while building cacerts for {cluster}")

    def cacerts_revision(self, cluster: str) -> tuple[int, int]:
        """Store revisions a cluster's cacerts derive from: the plan's and the
        intermediate's (0 when absent). Roots change only with the plan, so equal
        revisions mean an equal Secret and a caller may skip rebuilding it."""
        plan_kv = self._store.get(self.keys.rotation)
        kv = self._store.get(self.keys.intermediate(check_cluster_name(cluster)))
        return (plan_kv.mod_revision if plan_kv else 0, kv.mod_revision if kv else 0)

    def cacerts_secret(self, cluster: str) -> dict:
        """The ``istio-system/cacerts`` Secret object for ``cluster``."""
        return self.cacerts(cluster).secret()

    def member_clusters(self) -> list[str]:
        """Clusters holding an intermediate: the default set a rotation waits for."""
        kvs, _ = self._store.range(self.keys.intermediates)
        return [kv.key[len(self.keys.intermediates):] for kv in kvs]

    def forget_cluster(self, cluster: str) -> bool:
        """Drop a departed cluster's intermediate so rotations stop waiting for it."""
        removed = self._store.delete(self.keys.intermediate(check_cluster_name(cluster)))
        if removed:
            log.info("intermediate removed", extra={"fields": {"cluster": cluster}})
        return removed

    # --- workload certificates --------------------------------------------------
    def workload_issuer_pem(self) -> str:
        """The certificate (PEM) of the hub's issuer of VM certificates; "" before it exists."""
        kv = self._store.get(self.keys.workload_issuer)
        return CARecord.from_bytes(kv.value, kv.key).cert_pem if kv else ""

    def sign_workload_csr(self, csr_pem: bytes | str, namespace: str, service_account: str,
                          ttl: dt.timedelta | float = DEFAULT_TTL) -> WorkloadCertificate:
        """Sign a VM's CSR for the granted identity; CSRRejected saying why otherwise."""
        identity = spiffe_id(self.trust_domain, namespace, service_account)
        # Checked before any store access, so a refusal writes nothing.
        csr = check_csr(csr_pem, identity)
        lifetime = check_ttl(ttl)
        for _ in range(_CAS_ATTEMPTS):
            record, plan = self._ensure_workload_issuer()
            pems = self._root_pems()
            if not all(r in pems for r in (*plan.bundle_root_ids(), record.issuer)):
                continue
            issuer = record.open(self._kek, self.keys.workload_issuer)
            leaf = issue_leaf(csr, issuer, identity, ttl=lifetime, now=self._now())
            result = WorkloadCertificate(
                spiffe_id=identity, cert_pem=certificate_pem(leaf),
                chain_pem=record.cert_pem + pems[record.issuer],
                trust_bundle_pem="".join(pems[r] for r in plan.bundle_root_ids()),
                serial=leaf.serial_number, not_before=leaf.not_valid_before_utc,
                not_after=leaf.not_valid_after_utc)
            log.info("workload certificate issued", extra={"fields": {
                "spiffe_id": identity, "serial": format(leaf.serial_number, "x"),
                "not_after": result.not_after.isoformat()}})
            return result
        raise errors.Conflict("the trust state kept changing while signing; try again")

    # --- rotation ------------------------------------------------------------------
    def rotation_plan(self) -> RotationPlan:
        return rotation.require_plan(self._store, self.keys)[0]

    def plan_state(self) -> tuple[RotationPlan | None, int]:
        """The stored plan and its revision; (None, 0) before any root exists."""
        return rotation.read_plan(self._store, self.keys)

    def start_rotation(self, algorithm: str = "ecdsa-p256", validity_days: int = 3650, *,
                       cert_pem: bytes | str | None = None, key_pem: bytes | str | None = None,
                       org: str | None = None) -> RotationPlan:
        """Step 0 (or a finished rotation) → step 1: store a new root (created, or
        imported from ``cert_pem``/``key_pem``) and bundle it with the current one."""
        plan, revision = rotation.require_plan(self._store, self.keys)
        if plan.in_progress:
            raise errors.Conflict(f"a root rotation is already at step {plan.step.label}")
        now = self._now()
        if (cert_pem is None) != (key_pem is None):
            raise errors.ValidationError("importing a new root takes both cert_pem and key_pem")
        if cert_pem is not None:
            root = load_root(cert_pem, key_pem, now=now)
        else:
            root = create_root(algorithm=algorithm, validity_days=validity_days,
                               trust_domain=self.trust_domain, org=org or self.org, now=now)
        following = plan.started(root.id, rotation.new_rotation_id(), now)
        key = self.keys.root(root.id)
        record = seal_record(self._kek, key, root, name=root.id, created_at=now,
                             imported=cert_pem is not None, trust_domain=self.trust_domain)
        ok = self._store.txn([Compare(self.keys.rotation, revision), Compare(key, 0)],
                             [Put(key, record.to_bytes()),
                              Put(self.keys.rotation, following.to_bytes())])
        if not ok:
            raise errors.Conflict("the trust state changed while starting the rotation; retry")
        rotation.drop_old_confirmations(self._store, self.keys, following.rotation_id)
        log.info("root rotation started", extra={"fields": {
            "rotation": following.rotation_id, "old_root": plan.current_root, "new_root": root.id,
            "fingerprint": root.fingerprint}})
        return following

    def confirm(self, cluster: str, step: Step | int | str) -> None:
        """Record that ``cluster`` runs with the cacerts of ``step``."""
        rotation.record_confirmation(self._store, self.keys, "clusters", cluster, step,
                                     self._now())

    def confirm_agent(self, agent_id: str, step: Step | int | str) -> None:
        """Record that a VM agent holds the trust bundle (and certificate) of ``step``."""
        rotation.record_confirmation(self._store, self.keys, "agents", agent_id, step,
                                     self._now())

    def advance(self, clusters: Iterable[str] | None = None,
                agents: Iterable[str] = ()) -> RotationProgress:
        """Take the next rotation step once ``clusters`` (default: every cluster holding
        an intermediate) and ``agents`` all confirmed the current one."""
        members = self.member_clusters() if clusters is None else list(clusters)
        return rotation.advance(self._store, self.keys, members, agents, self._now(),
                                soak=self.rotation_soak)

    # --- observing -------------------------------------------------------------------
    def status(self, clusters: Iterable[str] | None = None, agents: Iterable[str] = ()) -> dict:
        """Roots, intermediates and the rotation step (no key material), JSON-ready.

        Pending confirmations are reported for ``clusters`` (default: every cluster
        holding an intermediate) and ``agents``, the sets ``advance`` waits for."""
        plan, _ = rotation.require_plan(self._store, self.keys)
        now = as_datetime(self._now())
        roles = {plan.current_root: "old" if plan.in_progress else "current"}
        if plan.new_root:
            roles[plan.new_root] = "new"
        roots = []
        kvs, _ = self._store.range(self.keys.roots)
        for kv in kvs:
            record = CARecord.from_bytes(kv.value, kv.key)
            roots.append({**_describe(record.cert), "id": record.name,
                          "role": roles.get(record.name, "retired"),
                          "algorithm": record.algorithm, "imported": record.imported})
        intermediates = []
        confirmed = rotation.confirmed_steps(self._store, self.keys, plan, "clusters")
        kvs, _ = self._store.range(self.keys.intermediates)
        for kv in kvs:
            record = CARecord.from_bytes(kv.value, kv.key)
            intermediates.append({**self._describe_ca(record, plan, now),
                                  "confirmed_step": confirmed.get(record.name, 0)})
        kv = self._store.get(self.keys.workload_issuer)
        workload = (self._describe_ca(CARecord.from_bytes(kv.value, kv.key), plan, now)
                    if kv else None)
        waited_for = [i["cluster"] for i in intermediates] if clusters is None else clusters
        agents = sorted(set(agents))
        pending_c, pending_a, soak_left = rotation.gate_state(
            self._store, self.keys, plan, waited_for, agents, soak=self.rotation_soak,
            now=self._now())
        progress = RotationProgress(plan.step, False, pending_c, pending_a, soak_left)
        waiting = [f"cluster {c} has not confirmed step {plan.step.label}" for c in pending_c]
        waiting += [f"VM agent {a} has not confirmed step {plan.step.label}" for a in pending_a]
        if soak_left > 0:
            waiting.append(f"soak: {soak_left:.0f}s left of {self.rotation_soak:.0f}s"
                           + (" (starts once everyone confirmed)" if progress.pending else ""))
        return {
            "trust_domain": self.trust_domain,
            "roots": roots,
            "intermediates": intermediates,
            "workload_intermediate": workload,
            "rotation": {"step": int(plan.step), "step_name": plan.step.label,
                         "rotation_id": plan.rotation_id, "current_root": plan.current_root,
                         "new_root": plan.new_root, "previous_root": plan.previous_root,
                         "bundle": list(plan.bundle_root_ids()),
                         "pending_clusters": list(pending_c),
                         "pending_agents": list(pending_a),
                         "complete": progress.complete,
                         "soak_seconds": self.rotation_soak, "soak_left_seconds": soak_left,
                         "clusters": [], "waiting_for": waiting,
                         "intermediate_check": INTERMEDIATE_CHECK if plan.step else ""},
        }

    @staticmethod
    def _describe_ca(record: CARecord, plan: RotationPlan, now: dt.datetime) -> dict:
        return {**_describe(record.cert), "cluster": record.name, "issuer_root": record.issuer,
                "renew_at": renewal_due_at(record.cert).isoformat(),
                "up_to_date": record.issuer == plan.issuing_root_id()
                and not needs_renewal(record.cert, now)}

    def seconds_to_expiry(self) -> list[ExpiryItem]:
        now = as_datetime(self._now())
        items: list[ExpiryItem] = []
        for prefix, kind in ((self.keys.roots, "root"), (self.keys.intermediates, "intermediate")):
            kvs, _ = self._store.range(prefix)
            for kv in kvs:
                record = CARecord.from_bytes(kv.value, kv.key)
                left = (record.cert.not_valid_after_utc - now).total_seconds()
                items.append(ExpiryItem(kind, record.name, left))
        kv = self._store.get(self.keys.workload_issuer)
        if kv:
            record = CARecord.from_bytes(kv.value, kv.key)
            items.append(ExpiryItem("workload-intermediate", "hub",
                                    (record.cert.not_valid_after_utc - now).total_seconds()))
        return items


def _describe(cert) -> dict:
    return {"subject": cert.subject.rfc4514_string(), "fingerprint": fingerprint(cert),
            "not_before": cert.not_valid_before_utc.isoformat(),
            "not_after": cert.not_valid_after_utc.isoformat()}
