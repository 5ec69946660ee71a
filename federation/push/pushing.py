"""Pushing the desired objects into one member cluster, writing only what changed.

A ``ClusterPusher`` owns one worker thread. The hub hands it changes
(``update``) or a full desired set (``replace_all``); both only record the
latest wanted state under a lock and wake the worker, so the hub never waits
on the network. The worker:

1. takes everything handed over since the last pass (latest wins);
2. on its first pass (and every ``resync_interval``) lists the owned objects of
   the written kinds and reads their ``federation.mesh/hash`` annotations;
3. applies (server-side apply, forced) each desired object whose live hash
   differs; an existing object of that name that is not owned is left alone
   and reported as a conflict;
4. deletes owned objects that are no longer desired: those removed explicitly,
   and, once a full desired set has arrived, every owned orphan. Nothing is
   pruned before that cluster's first full sync after a start.

Transient failures end the pass and it is retried with capped exponential
back-off and jitter; the work is recomputed from state, so nothing is lost.
A per-object rejection (422, 403, ...) is kept in status and not retried until
that object's desired content changes or the next resync.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from dataclasses import dataclass, replace
from typing import Callable, Mapping

import tenacity

from federation import errors
from federation.kubeapi import KubeClient, ResourceType, resource_type_of
from federation.model.ids import MANAGED_BY
from federation.push.digest import Ref, describe, is_owned, safe_message, stamped
from federation.push.inventory import LiveObject, delete_owned, read_inventory
from federation.push.status import PushStatus

log = logging.getLogger(__name__)

MAX_ERRORS = 5
# Upper bound of one idle wait; waking up early costs nothing.
IDLE_WAIT_SECONDS = 60.0

StatusCallback = Callable[[PushStatus], None]
AppliedCallback = Callable[[str, float, float], None]


@dataclass(frozen=True)
class RetryPolicy:
    """Back-off between attempts of a failed pass: ``initial_delay * 2**n``,
    capped at ``max_delay``, plus up to ``jitter`` seconds at random."""

    initial_delay: float = 0.5
    max_delay: float = 30.0
    jitter: float = 0.5

    def waiting(self) -> tenacity.wait.wait_base:
        return (tenacity.wait_exponential(multiplier=self.initial_delay, max=self.max_delay)
                + tenacity.wait_random(0, self.jitter))


@dataclass(frozen=True)
class _Desired:
    rtype: ResourceType | None
    body: dict | None
    digest: str
    error: str | None = None


def _prepare(ref: Ref, obj: Mapping) -> _Desired:
    try:
        rtype = resource_type_of(dict(obj))
        body, digest = stamped(ref, obj)
    except errors.ValidationError as exc:
        return _Desired(None, None, "", str(exc))
    return _Desired(rtype, body, digest)


class ClusterPusher:
    """Makes one member cluster's owned objects equal the desired set."""

    def __init__(self, cluster: str, kube: KubeClient,
                 on_status: StatusCallback | None = None,
                 on_applied: AppliedCallback | None = None,
                 field_manager: str = MANAGED_BY,
                 retry: RetryPolicy | None = None,
                 resync_interval: float | None = 600.0,
                 tracer=None):
        self.cluster = cluster
        self._tracer = tracer  # OpenTelemetry tracer: one span per push pass
        self._kube = kube
        self._on_status = on_status
        self._on_applied = on_applied
        self._field_manager = field_manager
        self._retry = retry or RetryPolicy()
        self._resync_interval = resync_interval
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        # Handed over by the hub, guarded by _lock.
        self._intake_full: dict[Ref, dict] | None = None
        self._intake: dict[Ref, dict | None] = {}
        self._intake_observed: float | None = None
        self._resync_requested = False
        # Hand-overs counted, so a status read right after one is never "synced"
        # before a pass has completed with it.
        self._handed_seq = 0
        self._taken_seq = 0
        self._done_seq = 0
        # Owned by the worker thread.
        self._desired: dict[Ref, _Desired] = {}
        self._removed: set[Ref] = set()
        self._live: dict[Ref, LiveObject] = {}
        self._inventoried = False
        self._inventory_at = 0.0
        self._prune_ready = False
        self._rejected: dict[Ref, tuple[str, str]] = {}
        self._conflicts: dict[Ref, str] = {}
        self._delete_failed: dict[Ref, str] = {}
        self._pass_error: str | None = None
        self._failed = False
        self._failing_ref: Ref | None = None
        self._batch_observed: float | None = None
        self._applies = self._deletes = self._failures = 0
        self._last_push: float | None = None
        self._status = PushStatus(cluster)  # published under _lock

    # -- hub side ------------------------------------------------------------
    def update(self, changes: Mapping[Ref, dict | None], observed_at: float | None = None) -> None:
        """Record changed desired objects (None: no longer desired) and wake the worker."""
        with self._lock:
            self._intake.update(changes)
            self._note_observed(observed_at)
            self._handed_seq += 1
        self._wake.set()

    def replace_all(self, desired: Mapping[Ref, dict], observed_at: float | None = None) -> None:
        """Record the full desired set; it supersedes every change handed over before."""
        full = dict(desired)
        with self._lock:
            self._intake_full = full
            self._intake = {}
            self._note_observed(observed_at)
            self._handed_seq += 1
        self._wake.set()

    def resync(self) -> None:
        """List the cluster again on the next pass and retry rejected objects."""
        with self._lock:
            self._resync_requested = True
        self._wake.set()

    def _note_observed(self, observed_at: float | None) -> None:
        if observed_at is not None and (self._intake_observed is None
                                        or observed_at < self._intake_observed):
            self._intake_observed = observed_at

    @property
    def prune_ready(self) -> bool:
        return self.status().prune_ready

    def status(self) -> PushStatus:
        with self._lock:
            return self._current_status()

    def _current_status(self) -> PushStatus:
        waiting = len(self._intake)
        if self._intake_full is not None:
            waiting += len(self._intake_full)
        if not waiting and self._done_seq == self._handed_seq:
            return self._status
        return replace(self._status, pending=self._status.pending + waiting, synced=False)

    def wait_status(self, predicate: Callable[[PushStatus], bool],
                    timeout: float) -> PushStatus | None:
        """Block until ``predicate(status)`` holds (the status then) or ``timeout`` passes (None)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                status = self._current_status()
                if predicate(status):
                    return status
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._changed.wait(remaining)

    # -- lifecycle -----------------------------------------------------------
    def start(self) -> None:
        if self._thread is not None:
            raise errors.FederationError(f"pusher of cluster {self.cluster!r} already started")
        self._thread = threading.Thread(target=self._run, name=f"push-{self.cluster}", daemon=True)
        self._wake.set()  # the first pass takes the inventory
        self._thread.start()

    def request_stop(self) -> None:
        """Ask the worker to stop without waiting for it."""
        self._stopping.set()
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> bool:
        """Stop the worker; True when it ended within ``timeout``. A call to the
        API server in flight ends within the client's own timeout."""
        self.request_stop()
        thread = self._thread
        if thread is None:
            return True
        thread.join(timeout)
        return not thread.is_alive()

    # -- worker --------------------------------------------------------------
    def _run(self) -> None:
        while not self._stopping.is_set():
            woke = self._wake.wait(self._idle_timeout())
            if self._stopping.is_set():
                break
            if woke:
                self._wake.clear()
            elif not (self._failed or self._resync_due()):
                continue
            self._run_pass()
        log.debug("pusher stopped", extra={"fields": {"cluster": self.cluster}})

    def _idle_timeout(self) -> float:
        if self._failed:
            return self._retry.max_delay
        if self._resync_interval is None or not self._inventoried:
            return IDLE_WAIT_SECONDS
        due_in = self._inventory_at + self._resync_interval - time.monotonic()
        return min(IDLE_WAIT_SECONDS, max(0.01, due_in))

    def _resync_due(self) -> bool:
        return (self._resync_interval is not None and self._inventoried
                and time.monotonic() - self._inventory_at >= self._resync_interval)

    def _run_pass(self) -> None:
        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception_type(errors.Transient),
            wait=self._retry.waiting(),
            stop=tenacity.stop_when_event_set(self._stopping),
            sleep=self._stopping.wait,
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt, self._span():
                    self._pass()
            self._failed = False
        except errors.FederationError:
            self._failed = True  # recorded in status by _pass
        except Exception:  # noqa: BLE001 - a bug must not kill the worker silently
            log.exception("push pass crashed", extra={"fields": {"cluster": self.cluster}})
            self._failed = True

    def _span(self):
        if self._tracer is None:
            return contextlib.nullcontext()
        return self._tracer.start_as_current_span("push", attributes={"cluster": self.cluster})

    def _pass(self) -> None:
        if self._stopping.is_set():
            return
        self._failing_ref = None
        try:
            self._take_intake()
            requested = self._take_resync_request()
            if requested or not self._inventoried or self._resync_due():
                if not self._take_inventory():
                    return  # stopping
            self._write_changes()
        except Exception as exc:
            if not isinstance(exc, errors.FederationError):
                self._pass_error = f"internal error: {exc.__class__.__name__}"
            elif self._failing_ref is not None:
                self._pass_error = safe_message(self._failing_ref, exc)
            else:
                self._pass_error = str(exc).split("\n")[0][:300]
            log.warning("push pass failed", extra={"fields": {
                "cluster": self.cluster, "error": self._pass_error}})
            self._publish()
            raise
        if self._stopping.is_set():
            return
        self._pass_error = None
        self._last_push = time.time()
        self._publish(completed=True)
        observed, self._batch_observed = self._batch_observed, None
        if observed is not None and self._on_applied is not None:
            try:
                self._on_applied(self.cluster, observed, time.time())
            except Exception:  # noqa: BLE001 - a metrics hook must not stop pushing
                log.exception("on_applied callback failed", extra={"fields": {"cluster": self.cluster}})

    def _take_resync_request(self) -> bool:
        with self._lock:
            requested, self._resync_requested = self._resync_requested, False
        return requested

    def _take_intake(self) -> None:
        with self._lock:
            full, changes, observed = self._intake_full, self._intake, self._intake_observed
            self._intake_full, self._intake, self._intake_observed = None, {}, None
            self._taken_seq = self._handed_seq
        if observed is not None and (self._batch_observed is None or observed < self._batch_observed):
            self._batch_observed = observed
        if full is not None:
            self._desired = {}
            for ref, obj in full.items():
                self._desired[ref] = _prepare(tuple(ref), obj)
            self._prune_ready = True
            self._removed.clear()
        for ref, obj in changes.items():
            if obj is None:
                self._desired.pop(ref, None)
                self._removed.add(ref)
            else:
                self._desired[ref] = _prepare(tuple(ref), obj)
                self._removed.discard(ref)
        for table in (self._rejected, self._conflicts):
            for ref in [ref for ref in table if ref not in self._desired]:
                del table[ref]

    def _take_inventory(self) -> bool:
        try:
            live = read_inventory(self._kube, self._stopping.is_set)
        except errors.FederationError:
            self._failures += 1
            raise
        if live is None:
            return False
        self._live = live
        self._inventoried = True
        self._inventory_at = time.monotonic()
        self._rejected.clear()
        self._conflicts.clear()
        self._delete_failed.clear()
        log.debug("inventory taken", extra={"fields": {"cluster": self.cluster, "owned": len(live)}})
        return True

    def _needs_apply(self, ref: Ref, want: _Desired) -> bool:
        if want.error is not None:
            return False
        live = self._live.get(ref)
        if live is not None and live.digest == want.digest:
            return False
        rejected = self._rejected.get(ref)
        if rejected is not None and rejected[0] == want.digest:
            return False
        return self._conflicts.get(ref) != want.digest

    def _orphans(self) -> list[Ref]:
        if not self._inventoried:
            return []
        return [ref for ref in self._live
                if ref not in self._desired and ref not in self._delete_failed
                and (self._prune_ready or ref in self._removed)]

    def _write_changes(self) -> None:
        # Applies before deletes: new configuration is in place before old goes.
        for ref, want in list(self._desired.items()):
            if self._stopping.is_set():
                return
            if self._needs_apply(ref, want):
                self._apply(ref, want)
        for ref in self._orphans():
            if self._stopping.is_set():
                return
            self._delete(ref)

    def _apply(self, ref: Ref, want: _Desired) -> None:
        assert want.rtype is not None and want.body is not None
        _, _, namespace, name = ref
        fields = {"cluster": self.cluster, "object": describe(ref)}
        try:
            if ref not in self._live:
                # Not known as ours: look before writing so that an object
                # someone else made under this name is never taken over.
                current = self._kube.get(want.rtype, namespace or None, name)
                if current is not None:
                    if not is_owned(current):
                        self._conflicts[ref] = want.digest
                        log.warning("object exists and is not owned; left alone", extra={"fields": fields})
                        return
                    self._live[ref] = LiveObject.of(want.rtype, current)
                    if self._live[ref].digest == want.digest:
                        return
            result = self._kube.apply(want.rtype, want.body, self._field_manager, force=True)
        except errors.Transient:
            self._failures += 1
            self._failing_ref = ref
            raise
        except errors.FederationError as exc:
            self._failures += 1
            self._rejected[ref] = (want.digest, safe_message(ref, exc))
            log.warning("object rejected", extra={"fields": {**fields, "error": self._rejected[ref][1]}})
            return
        self._live[ref] = LiveObject(want.rtype, (result.get("metadata") or {}).get("uid"), want.digest)
        self._applies += 1
        self._rejected.pop(ref, None)
        self._conflicts.pop(ref, None)
        log.debug("object applied", extra={"fields": fields})

    def _delete(self, ref: Ref) -> None:
        live = self._live[ref]
        fields = {"cluster": self.cluster, "object": describe(ref)}
        try:
            deleted = delete_owned(self._kube, ref, live)
        except errors.Transient:
            self._failures += 1
            self._failing_ref = ref
            raise
        except errors.FederationError as exc:
            self._failures += 1
            self._delete_failed[ref] = safe_message(ref, exc)
            log.warning("delete failed", extra={"fields": {**fields, "error": self._delete_failed[ref]}})
            return
        del self._live[ref]
        self._removed.discard(ref)
        if deleted:
            self._deletes += 1
            log.debug("object deleted", extra={"fields": fields})

    # -- status --------------------------------------------------------------
    def _publish(self, completed: bool = False) -> None:
        outstanding = sum(1 for ref, want in self._desired.items() if self._needs_apply(ref, want))
        outstanding += len(self._orphans())
        problems = [self._pass_error] if self._pass_error else []
        problems += [want.error for want in self._desired.values() if want.error]
        problems += [message for _, message in self._rejected.values()]
        problems += [f"delete failed: {message}" for message in self._delete_failed.values()]
        conflicts = tuple(sorted(f"{describe(ref)} exists and is not managed by {MANAGED_BY}"
                                 for ref in self._conflicts))
        objects = sum(1 for ref, want in self._desired.items()
                      if ref in self._live and self._live[ref].digest == want.digest)
        status = PushStatus(
            cluster=self.cluster,
            synced=(self._inventoried and self._prune_ready and outstanding == 0
                    and not problems and not conflicts),
            last_push=self._last_push,
            objects=objects,
            pending=outstanding,
            errors=tuple(problems[:MAX_ERRORS]),
            conflicts=conflicts,
            applies=self._applies,
            deletes=self._deletes,
            failures=self._failures,
            inventoried=self._inventoried,
            prune_ready=self._prune_ready,
        )
        with self._changed:
            if completed:
                self._done_seq = self._taken_seq
            self._changed.notify_all()
            if status == self._status:
                return
            self._status = status
        if self._on_status is not None:
            try:
                self._on_status(status)
            except Exception:  # noqa: BLE001 - a status hook must not stop pushing
                log.exception("on_status callback failed", extra={"fields": {"cluster": self.cluster}})
