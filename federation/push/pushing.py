"""Pushing the desired objects into one member cluster, writing only what changed.

A ``ClusterPusher`` owns one worker thread. The hub hands it changes
(``update``) or a full desired set (``replace_all``); both only record the
latest wanted state under a lock and wake the worker, so the hub never waits
on the network. The worker:

1. takes everything handed over since the last pass (latest wins);
2. on its first pass (and every ``resync_interval``) lists the written kinds,
   reading the owned objects' ``federation.mesh/hash`` annotations and the
   names of objects that are not owned (foreign);
3. applies (server-side apply) each desired object whose live hash differs;
   an existing object of that name that is not owned is left alone and
   reported as a conflict. Applies that need no look first go pipelined, up to
   ``pipeline`` back to back on one connection before their answers are read;
4. deletes owned objects that are no longer desired: those removed explicitly,
   and, once a full desired set has arrived, every owned orphan. Nothing is
   pruned before that cluster's first full sync after a start.

With ``watch_owned`` the objects of the written kinds are also watched
(``OwnedWatch``): a deleted or edited owned object is written again on the next
pass, within about a second, without a render; repeated fights back off (see
``Ledger``). The watch event of the hub's own write (its echo) is known by the
version the write answered and skipped unparsed. With ``fence`` the worker
writes only while ``fence()`` is true (the replica proves it holds its lease):
each write, or pipelined batch of applies, checks it first.

A pass visits only the objects handed over, listed or watched since the last
one, plus those whose write is still outstanding (see ``Ledger``), so its cost
follows the size of the change, not of the cluster. Objects are handed over packed
(``push.packing``, as the hub's desired state holds them) or as dicts, which are
read when the worker takes them, not copied before: the caller must not change
them afterwards.

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
from opentelemetry import trace

from federation import errors
from federation.kube.client import KubeClient
from federation.model.ids import MANAGED_BY, resource_version
from federation.kube.client import ResourceType
from federation.push.digest import (
    DEFAULT_HUB_ID, LEGACY, Ref, describe, owner_of, safe_message, stamped_bytes,
)
from federation.push.inventory import LiveObject, delete_owned, live_ref, take_inventory
from federation.push.ledger import Ledger, Wanted
from federation.push.packing import Packed
from federation.push.status import PushStatus
from federation.push.watching import OwnedWatch, own_echo
from federation.sources.reflecting import Kept
from federation.workers import Worker

log = logging.getLogger(__name__)

MAX_ERRORS = 5
MAX_ORIGINS = 32  # links of one push span to the renders it carries
# Applies sent back to back before their answers are read (HTTP/1.1 pipelining).
PIPELINE = 16
# How long the watch holds an event while writes are in flight, so the echo of one
# is known by its answer's version and skipped unread; after that it is read anyway.
ECHO_WAIT_SECONDS = 5.0
# Upper bound of one idle wait; waking up early costs nothing.
IDLE_WAIT_SECONDS = 60.0

StatusCallback = Callable[[PushStatus], None]
# (cluster, earliest observed_at of the batch, time it was applied): both time.monotonic()
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


def _namespaces_first(ref: Ref) -> int:
    """Sort key: Namespaces before other kinds (sorting is stable otherwise)."""
    return 0 if ref[1] == "Namespace" else 1


class ClusterPusher:
    """Makes one member cluster's owned objects equal the desired set."""

    def __init__(self, cluster: str, kube: KubeClient,
                 on_status: StatusCallback | None = None,
                 on_applied: AppliedCallback | None = None,
                 field_manager: str = MANAGED_BY,
                 retry: RetryPolicy | None = None,
                 resync_interval: float | None = 600.0,
                 tracer=None, hub_id: str = DEFAULT_HUB_ID, watch_owned: bool = False,
                 fence: Callable[[], bool] | None = None, watch_timeout: int = 300,
                 watch_kube: KubeClient | None = None, pipeline: int = PIPELINE):
        self.cluster = cluster
        self._batch = max(1, pipeline)  # applies in flight at once
        self.hub_id = hub_id
        self._fence = fence
        # Long-held watch streams get their own client (``watch_kube``, closed by
        # the pusher when it stops), so they never crowd the writes' connections.
        self._watch_kube = watch_kube
        self._watch = (OwnedWatch(watch_kube or kube, self._on_watched, watch_timeout, known=self._echoed)
                       if watch_owned else None)
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
        self._worker = Worker(f"push-{cluster}", self._run, stop=self._stopping, wake=self._wake.set)
        # Handed over by the hub, guarded by _lock.
        self._intake_full: dict[Ref, dict | Packed] | None = None
        self._intake: dict[Ref, dict | Packed | None] = {}
        self._intake_observed: float | None = None
        self._origins: list = []  # span contexts of the renders handed over since the last pass
        self._resync_requested = False
        self._observed: dict[Ref, tuple[ResourceType, bool, dict, float]] = {}
        # Versions the hub's own writes answered whose watch event has not come yet
        # (an entry lasts until that object's next event, or the next inventory).
        self._echoes: dict[Ref, str] = {}
        self._echo_refs: dict[str, Ref] = {}  # the same by version: the watch skips those events unread
        self._writing: set[Ref] = set()  # the objects writes are in flight for
        self._written = threading.Condition(self._lock)  # notified when no write is in flight
        self.judged_changes = 0  # watched changes handed to the ledger (for tests)
        self.passes = 0  # push passes run (for tests)
        # Hand-overs counted, so a status read right after one is never "synced"
        # before a pass has completed with it.
        self._handed_seq = 0
        self._taken_seq = 0
        self._done_seq = 0
        # Owned by the worker thread.
        self._ledger = Ledger(hub_id, field_manager)
        self._repairs = 0
        self._fenced = False
        self._inventory_at = 0.0
        self._pass_error: str | None = None
        self._failed = False
        self._failing_ref: Ref | None = None
        # Built once: the worker alone runs passes, one at a time.
        self._retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception_type(errors.Transient),
            wait=self._retry.waiting(),
            stop=tenacity.stop_when_event_set(self._stopping),
            sleep=self._stopping.wait,
            reraise=True,
        )
        self._batch_observed: float | None = None
        self._applies = self._deletes = self._failures = 0
        self._last_push: float | None = None
        self._status = PushStatus(cluster)  # published under _lock

    # -- hub side ------------------------------------------------------------
    def update(self, changes: Mapping[Ref, dict | Packed | None], observed_at: float | None = None) -> None:
        """Record changed desired objects (None: no longer desired) and wake the worker."""
        with self._lock:
            self._intake.update(changes)
            self._note_observed(observed_at)
            self._note_origin()
            self._handed_seq += 1
        self._wake.set()

    def replace_all(self, desired: Mapping[Ref, dict | Packed], observed_at: float | None = None) -> None:
        """Record the full desired set; it supersedes every change handed over before."""
        full = dict(desired)
        with self._lock:
            self._intake_full = full
            self._intake = {}
            self._note_observed(observed_at)
            self._note_origin()
            self._handed_seq += 1
        self._wake.set()

    def resync(self) -> None:
        """List the cluster again on the next pass and retry rejected objects."""
        with self._lock:
            self._resync_requested = True
        self._wake.set()

    def _on_watched(self, rtype: ResourceType, deleted: bool, obj: dict) -> None:
        """A watched change (reflector thread): only recorded, latest per object wins.
        The echo of the hub's own write (the version that write answered) is dropped:
        the ledger has that state already, and it would cost a pass per write."""
        ref = live_ref(rtype, obj)
        with self._lock:
            written = self._echoes.pop(ref, None)
            if written is not None:
                self._echo_refs.pop(written, None)
            if written is not None and not deleted and written == resource_version(obj):
                return
            self._observed[ref] = (rtype, deleted, obj, time.monotonic())
            if ref in self._writing:
                return  # most likely the write's own echo: its answer tells (``_end_write``)
        self._wake.set()

    def _echoed(self, version: str) -> tuple[str, Kept] | None:
        """(reflector thread) The watch's cache entry for the echo of the hub's own write
        answered with ``version``, which is then skipped unparsed; None for any other.
        An echo mostly comes before its write's answer: while writes are in flight the
        watch waits for their answers (a batch's round trip), and reads on after."""
        deadline = None  # read only when there is something to wait for: this runs per event
        with self._lock:
            while version not in self._echo_refs and self._writing and not self._stopping.is_set():
                deadline = deadline or time.monotonic() + ECHO_WAIT_SECONDS
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._written.wait(remaining)
            ref = self._echo_refs.pop(version, None)
            if ref is None:
                return None
            self._echoes.pop(ref, None)
        return own_echo(ref, version, self.hub_id)

    def _note_origin(self) -> None:
        """The caller's span (a render): the push pass that carries its changes links to it,
        so a trace leads from reconcile through render to the push in each cluster."""
        context = trace.get_current_span().get_span_context()
        if context.is_valid and len(self._origins) < MAX_ORIGINS:
            self._origins.append(context)

    def _note_observed(self, observed_at: float | None) -> None:
        if observed_at is not None and (self._intake_observed is None
                                        or observed_at < self._intake_observed):
            self._intake_observed = observed_at

    @property
    def unread_echoes(self) -> int:
        """The watch events of its own writes its watch skipped unparsed (for tests)."""
        return self._watch.skipped if self._watch is not None else 0

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

    def owned_refs(self) -> list[Ref]:
        """The owned objects as last listed, watched or written. Exact once the
        worker has stopped; while it runs, a moment's view."""
        for _ in range(3):  # the worker may change the dict while it is copied
            try:
                return sorted(self._ledger.live)
            except RuntimeError:
                continue
        return []

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
        if self._worker.started:
            raise errors.FederationError(f"pusher of cluster {self.cluster!r} already started")
        self._wake.set()  # the first pass takes the inventory
        self._worker.start()
        if self._watch is not None:
            self._watch.start()

    def request_stop(self) -> None:
        """Ask the worker to stop without waiting for it."""
        self._worker.request_stop()
        with self._written:
            self._written.notify_all()  # a watch waiting for answers reads on
        if self._watch is not None:
            self._watch.request_stop()

    def stop(self, timeout: float = 10.0) -> bool:
        """Stop the worker (and its watch); True when they ended within
        ``timeout``. A call to the API server in flight ends within the client's
        own timeout."""
        deadline = time.monotonic() + timeout
        self.request_stop()
        stopped = True
        if self._watch is not None:
            stopped = self._watch.stop(timeout)
        if self._watch_kube is not None and stopped:
            self._watch_kube.close()
        return self._worker.join(deadline) and stopped

    # -- worker --------------------------------------------------------------
    def _run(self) -> None:
        while not self._stopping.is_set():
            woke = self._wake.wait(self._idle_timeout())
            if self._stopping.is_set():
                break
            if woke:
                self._wake.clear()
            elif not (self._failed or self._resync_due()
                      or self._ledger.next_release(time.monotonic()) is not None):
                continue
            self._run_pass()
        log.debug("pusher stopped", extra={"fields": {"cluster": self.cluster}})

    def _idle_timeout(self) -> float:
        if self._failed:
            return self._retry.max_delay
        now = time.monotonic()
        wait = IDLE_WAIT_SECONDS
        release = self._ledger.next_release(now)
        if release is not None:
            wait = min(wait, max(0.01, release))
        if self._resync_interval is None or not self._ledger.inventoried:
            return wait
        due_in = self._inventory_at + self._resync_interval - now
        return min(wait, max(0.01, due_in))

    def _resync_due(self) -> bool:
        return (self._resync_interval is not None and self._ledger.inventoried
                and time.monotonic() - self._inventory_at >= self._resync_interval)

    def _run_pass(self) -> None:
        self.passes += 1
        try:
            try:
                with self._span():
                    self._pass()
            except errors.Transient as exc:
                self._retry_pass(exc)
            self._failed = False
        except errors.FederationError:
            self._failed = True  # recorded in status by _pass
        except Exception:  # noqa: BLE001 - a bug must not kill the worker silently
            log.exception("push pass crashed", extra={"fields": {"cluster": self.cluster}})
            self._failed = True

    def _retry_pass(self, failed: errors.Transient) -> None:
        """Passes again, backing off, until one passes or the pusher stops. The pass
        that just failed is the loop's first attempt: tenacity waits as after any
        failed attempt (a pass that passes, the common case, pays for no loop)."""
        first: errors.Transient | None = failed
        for attempt in self._retrying:
            with attempt, self._span():
                if first is not None:
                    exc, first = first, None
                    raise exc
                self._pass()

    def _span(self):
        if self._tracer is None:
            return contextlib.nullcontext()
        with self._lock:
            origins, self._origins = self._origins, []
        return self._tracer.start_as_current_span("push", attributes={"cluster": self.cluster},
                                                  links=[trace.Link(c) for c in origins])

    def _pass(self) -> None:
        if self._stopping.is_set():
            return
        self._failing_ref = None
        try:
            self._take_intake()
            observed = self._take_observed()
            requested = self._take_resync_request()
            if requested or not self._ledger.inventoried or self._resync_due():
                if not self._take_inventory():
                    return  # stopping
            self._note_changes(observed)
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
        applied_at = time.monotonic()  # the watchers' clock, as observed_at; before status work
        self._last_push = time.time()
        self._publish(completed=True)
        observed, self._batch_observed = self._batch_observed, None
        if observed is not None and self._on_applied is not None:
            try:
                self._on_applied(self.cluster, observed, applied_at)
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
            self._ledger.replace_desired(full)
        for ref, obj in changes.items():
            self._ledger.change_desired(ref, obj)

    def _take_observed(self) -> dict:
        with self._lock:
            observed, self._observed = self._observed, {}
        return observed

    def _note_changes(self, observed: dict) -> None:
        """Judge watched changes; older ones than what the ledger knows drop out there."""
        self.judged_changes += len(observed)
        for ref, (rtype, deleted, obj, seen_at) in observed.items():
            if self._ledger.observe(ref, rtype, deleted, obj, seen_at):
                fight = self._ledger.fights[ref]
                log.warning("owned object changed by someone else; repairing", extra={"fields": {
                    "cluster": self.cluster, "object": describe(ref), "editor": fight.editor or "unknown",
                    "deleted": fight.deleted, "times": fight.count}})

    def _check_fence(self) -> None:
        if self._fence is not None and not self._fence():
            if not self._fenced:
                log.warning("cannot prove this replica holds its lease; not writing",
                            extra={"fields": {"cluster": self.cluster}})
            self._fenced = True
            raise errors.Fenced(f"cluster {self.cluster!r}: this replica cannot prove it holds "
                                "its membership lease; not writing")
        self._fenced = False

    def _take_inventory(self) -> bool:
        try:
            inventory = take_inventory(self._kube, self._stopping.is_set, self.hub_id, keep_raw=True)
        except errors.FederationError:
            self._failures += 1
            raise
        if inventory is None:
            return False
        self._ledger.take_inventory(inventory)
        with self._lock:
            self._echoes.clear()
            self._echo_refs.clear()
        self._inventory_at = time.monotonic()
        log.debug("inventory taken", extra={"fields": {
            "cluster": self.cluster, "owned": len(inventory.owned), "foreign": len(inventory.foreign)}})
        return True

    def _write_changes(self) -> None:
        ledger = self._ledger
        ledger.settle()
        now = time.monotonic()
        # Applies before deletes: new configuration is in place before old goes.
        # Namespaces are created before and deleted after what lives in them.
        batch: list[tuple[Ref, Wanted]] = []
        for ref in sorted(ledger.to_apply, key=_namespaces_first):
            if self._stopping.is_set():
                return
            if ledger.held(ref, now):
                continue  # a fight's back-off: repaired when it ends
            want = ledger.desired[ref]
            if ref[1] != "Namespace" and not ledger.must_look(ref, want.rtype):
                batch.append((ref, want))
                if len(batch) == self._batch:
                    self._apply_batch(batch)
                    batch = []
                continue
            self._apply_batch(batch)  # in order: what came before goes first
            batch = []
            self._check_fence()
            self._apply(ref, want)
        self._apply_batch(batch)
        for ref in sorted(ledger.to_delete, key=_namespaces_first, reverse=True):
            if self._stopping.is_set():
                return
            self._check_fence()
            self._delete(ref)

    def _apply_batch(self, batch: list[tuple[Ref, Wanted]]) -> None:
        """Applies of objects that need no look first, pipelined over one connection
        (``KubeClient.apply_many``): a pass of many objects waits for the cluster once
        per batch, not once per object. Each answer is judged as ``_write`` judges
        one; a conflict on an object not known as ours takes ``_write``'s careful
        path. A transient failure ends the pass once the answers before it are kept."""
        if not batch or self._stopping.is_set():
            return
        if len(batch) == 1:
            self._check_fence()
            self._apply(*batch[0])
            return
        self._check_fence()
        ledger = self._ledger
        forced = [ref in ledger.live for ref, _ in batch]
        applies = []
        for (ref, want), force in zip(batch, forced):
            assert want.rtype is not None and want.packed is not None
            applies.append((want.rtype.path(ref[2] or None, ref[3]),
                            stamped_bytes(want.packed, want.digest, self.hub_id), force))
        if self._watch is not None:
            with self._lock:
                self._writing = {ref for ref, _ in batch}
        answers: list = []
        try:
            answers = self._kube.apply_many(applies, self._field_manager)
        finally:
            if self._watch is not None:
                for (ref, _), answer in zip(batch, answers or [None] * len(batch)):
                    self._end_write(ref, resource_version(answer) if isinstance(answer, dict) else "")
        transient, failed = None, set()
        for (ref, want), force, answer in zip(batch, forced, answers):
            if isinstance(answer, errors.Transient):
                transient = transient or (ref, answer)
                failed.add(id(answer))  # each failed answer; a broken connection once
            elif isinstance(answer, errors.Conflict) and not force:
                self._apply(ref, want, conflicted=True)  # someone may have made it: look, then decide
            elif isinstance(answer, errors.FederationError):
                self._failures += 1
                message = safe_message(ref, answer)
                ledger.record_rejected(ref, want.digest, message)
                log.warning("object rejected", extra={"fields": {
                    "cluster": self.cluster, "object": describe(ref), "error": message}})
            else:
                self._applied(ref, want, answer)
        if transient is not None:
            self._failures += len(failed)
            self._failing_ref = transient[0]
            raise transient[1]

    def _apply(self, ref: Ref, want: Wanted, conflicted: bool = False) -> None:
        if self._watch is None:
            self._write(ref, want, conflicted)
            return
        with self._lock:
            self._writing = {ref}
        version = ""
        try:
            version = self._write(ref, want, conflicted)
        finally:
            self._end_write(ref, version)

    def _write(self, ref: Ref, want: Wanted, conflicted: bool = False) -> str:
        """Apply one object; returns the version it answered ("" when not written).
        ``conflicted``: an unforced apply of it (pipelined) has just answered 409."""
        assert want.rtype is not None and want.packed is not None
        ledger, rtype = self._ledger, want.rtype
        _, _, namespace, name = ref
        fields = {"cluster": self.cluster, "object": describe(ref)}
        ours = ref in ledger.live
        try:
            if ledger.must_look(ref, rtype):
                # Listed as someone else's (or of a kind not listed whole): look
                # before writing so that such an object is never taken over.
                current = self._kube.get(rtype, namespace or None, name)
                if current is not None and not self._ours(current):
                    self._conflict(ref, want, fields, owner=owner_of(current))
                    return ""
                if current is not None:
                    ledger.record_live(ref, LiveObject.of(rtype, current))
                    if ledger.live[ref].digest == want.digest:
                        return ""
                    ours = True
                else:
                    ledger.record_absent(ref)
            body = stamped_bytes(want.packed, want.digest, self.hub_id)
            path = rtype.path(namespace or None, name)
            result = None
            try:
                # Not forced unless known as ours: a name not in the inventory is
                # written without a look, and an object someone made under it
                # since then answers 409 for any field another manager set.
                # (One whose every field equals ours would be taken over: that
                # narrow window closes at the next inventory.)
                result = None if conflicted else self._kube.apply_bytes(path, body, self._field_manager,
                                                                         force=ours)
            except errors.Conflict:
                if ours:
                    raise
            if result is None:  # 409: someone else's, or ours made elsewhere
                self._failures += 1
                current = self._kube.get(rtype, namespace or None, name)
                if current is None or not self._ours(current):
                    self._conflict(ref, want, fields, exists=current is not None,
                                   owner=None if current is None else owner_of(current))
                    return ""
                # Ours (made by another replica, or edited by hand): take it back.
                result = self._kube.apply_bytes(path, body, self._field_manager, force=True)
        except errors.Transient:
            self._failures += 1
            self._failing_ref = ref
            raise
        except errors.FederationError as exc:
            self._failures += 1
            message = safe_message(ref, exc)
            ledger.record_rejected(ref, want.digest, message)
            log.warning("object rejected", extra={"fields": {**fields, "error": message}})
            return ""
        return self._applied(ref, want, result)

    def _applied(self, ref: Ref, want: Wanted, result: dict) -> str:
        """Record an apply's answer; the version it answered."""
        meta = result.get("metadata") or {}
        version = str(meta.get("resourceVersion") or "")
        self._ledger.record_applied(ref, LiveObject(want.rtype, meta.get("uid"), want.digest, version))
        self._applies += 1
        if ref in self._ledger.fights:
            self._repairs += 1
        if log.isEnabledFor(logging.DEBUG):  # per write: no message built for nothing
            log.debug("object applied", extra={"fields": {"cluster": self.cluster, "object": describe(ref)}})
        return version

    def _end_write(self, ref: Ref, version: str) -> None:
        """The write of ``ref`` is over; it answered ``version`` ("" when it failed).
        Its watch event is dropped when it comes, or now if it came first. Any
        other event that came meanwhile wakes the worker (``_on_watched`` did not)."""
        with self._lock:
            self._writing.discard(ref)
            if not self._writing:
                self._written.notify_all()
            waiting = self._observed.get(ref)
            if version and waiting is not None and not waiting[1] and resource_version(waiting[2]) == version:
                del self._observed[ref]
                return
            if version:
                earlier = self._echoes.get(ref)
                if earlier is not None:
                    self._echo_refs.pop(earlier, None)
                self._echoes[ref] = version
                self._echo_refs[version] = ref
        if waiting is not None:
            self._wake.set()

    def _ours(self, obj: dict) -> bool:
        """This hub's, or a legacy object this hub has adopted (see ``inventory``)."""
        owner = owner_of(obj)
        return owner == self.hub_id or (owner == LEGACY and not self._ledger.other_hubs)

    def _conflict(self, ref: Ref, want: Wanted, fields: dict, exists: bool = True,
                  owner: str | None = None) -> None:
        self._ledger.record_conflict(ref, want.digest, exists, owner)
        log.warning("object exists and is not owned; left alone",
                    extra={"fields": {**fields, "owner": owner or "none"}})

    def _delete(self, ref: Ref) -> None:
        ledger = self._ledger
        fields = {"cluster": self.cluster, "object": describe(ref)}
        try:
            deleted = delete_owned(self._kube, ref, ledger.live[ref])
        except errors.Transient:
            self._failures += 1
            self._failing_ref = ref
            raise
        except errors.FederationError as exc:
            self._failures += 1
            message = safe_message(ref, exc)
            ledger.record_delete_failed(ref, message)
            log.warning("delete failed", extra={"fields": {**fields, "error": message}})
            return
        ledger.record_deleted(ref)
        if deleted:
            self._deletes += 1
            log.debug("object deleted", extra={"fields": fields})

    # -- status --------------------------------------------------------------
    def _publish(self, completed: bool = False) -> None:
        ledger = self._ledger
        ledger.settle()
        outstanding = ledger.outstanding
        problems = ((self._pass_error,) if self._pass_error else ()) + ledger.problems(MAX_ERRORS)
        conflicts = ledger.conflicts()
        fights = ledger.fight_report(time.monotonic(), MAX_ERRORS)
        status = PushStatus(
            cluster=self.cluster,
            synced=(ledger.inventoried and ledger.prune_ready and outstanding == 0
                    and not problems and not conflicts),
            last_push=self._last_push,
            objects=len(ledger.matching),
            pending=outstanding,
            errors=problems[:MAX_ERRORS],
            conflicts=conflicts,
            applies=self._applies,
            deletes=self._deletes,
            failures=self._failures,
            inventoried=ledger.inventoried,
            prune_ready=ledger.prune_ready,
            fights=fights,
            repairs=self._repairs,
            fenced=self._fenced,
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
