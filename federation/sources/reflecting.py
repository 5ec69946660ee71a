"""Reflecting one kind of a member cluster into a local cache: list, then watch.

One thread per reflector. It lists (raw JSON), replaces its cache and reports the
difference as events (objects gone since the last list come out as synthetic
deletes), then watches from the list's resourceVersion with bookmarks. A watch
that ends (server timeout, cut connection) is resumed from the last seen
resourceVersion, without a relist; a 410 Gone relists. Transient failures
(unreachable, 5xx) are retried by tenacity with capped exponential back-off and
jitter, and the attempt after such a failure is always a relist, so a cluster
that comes back is reconciled from fresh state. Other errors (401/403, invalid
requests) are logged and retried on a slower schedule.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from dataclasses import dataclass
from typing import Callable, Mapping, Union

import tenacity

from federation import errors
from federation.kube.client import KubeClient, ResourceType, WatchStream
from federation.model.ids import resource_version
from federation.sources.settings import SourceSettings
from federation.workers import Worker, deadline_in

log = logging.getLogger(__name__)

ADDED = "ADDED"
MODIFIED = "MODIFIED"
DELETED = "DELETED"

# A stream that ends this quickly without delivering anything counts towards
# back-off, so a server that accepts watches and drops them at once is not hammered.
_SHORT_STREAM_SECONDS = 1.0


@dataclass(frozen=True)
class ReflectorEvent:
    """A change of one object: ``type`` is ADDED, MODIFIED or DELETED.

    ``relisted`` marks events derived from a (re)list rather than a watch; a list
    reports all of them before ``on_synced`` is called, so consumers may batch them.
    For DELETED, ``obj`` is the last known state of the object.
    """

    type: str
    obj: dict
    observed_at: float
    relisted: bool = False


class _Stopped(Exception):
    """Internal: the reflector was asked to stop while waiting or connecting."""


def object_key(obj: dict) -> str:
    """``namespace/name`` for namespaced objects, ``name`` for cluster-scoped ones."""
    meta = obj.get("metadata") or {}
    namespace = meta.get("namespace")
    return f"{namespace}/{meta.get('name', '')}" if namespace else meta.get("name", "")


@dataclass(frozen=True, slots=True)
class Kept:
    """What a cache keeps of an object whose events are handled as they come: its
    version and labels, in two slots rather than two dicts (the hub's own objects
    are most of what it caches). Its key names it; a delete a relist finds is handed
    over as ``object(key)``."""

    resource_version: str
    labels: Mapping[str, str]

    def object(self, key: str) -> dict:
        namespace, _, name = key.rpartition("/")
        meta = {"name": name, **({"namespace": namespace} if namespace else {}),
                "resourceVersion": self.resource_version, "labels": dict(self.labels)}
        return {"metadata": meta}


Cached = Union[dict, Kept]


def _cached_version(cached: Cached) -> str:
    return cached.resource_version if isinstance(cached, Kept) else resource_version(cached)


class Reflector:
    """Keeps ``cache`` (key → raw object dict, or what ``slim`` keeps of it) in step with
    one kind of one cluster.

    ``on_event(ReflectorEvent)`` is called for every change, ``on_synced()`` after
    every completed list, ``on_failure(exc, consecutive)`` after every failed list
    or watch attempt. All three run on the reflector's thread. With ``missing_ok``
    a kind the server does not serve (404, e.g. a CRD that is not installed) counts
    as listed and empty, and is listed again every ``missing_kind_recheck_seconds``.
    ``slim(obj)`` reduces what is cached of each object (for kinds of which little is
    kept between events, such as Pods or the hub's own objects); events carry the
    object as received, except the deletes a relist finds, which carry the cached one.
    ``known(version)`` names events the consumer already knows, the echoes of its own
    writes: it answers (cache key, cache entry) for a version one of its writes was
    answered with, and that event's line is neither parsed nor delivered.
    """

    def __init__(
        self,
        kube: KubeClient,
        rtype: ResourceType,
        on_event: Callable[[ReflectorEvent], None],
        on_synced: Callable[[], None],
        stop_event: threading.Event,
        label_selector: str | None = None,
        settings: SourceSettings | None = None,
        on_failure: Callable[[Exception, int], None] | None = None,
        missing_ok: bool = False,
        slim: Callable[[dict], Cached] | None = None,
        field_selector: str | None = None,
        known: Callable[[str], tuple[str, Cached] | None] | None = None,
    ):
        self.kube = kube
        self._known = known
        self._slim = slim
        self.rtype = rtype
        self.label_selector = label_selector
        self.field_selector = field_selector
        self.settings = settings or SourceSettings()
        self.missing_ok = missing_ok
        self._on_event = on_event
        self._on_synced = on_synced
        self._on_failure = on_failure
        self._stop = stop_event
        self.cache: dict[str, Cached] = {}
        self.resource_version = ""
        # Counters, for status and tests: completed lists, opened watches, 410s.
        self.lists = 0
        self.watches = 0
        self.expirations = 0
        self.skipped = 0  # events ``known`` claimed, taken unparsed
        self.missing = False
        self._need_list = True
        self._error_failures = 0
        self._stream: WatchStream | None = None
        self._stream_lock = threading.Lock()
        self.name = f"reflect-{kube.cluster}-{rtype.plural}"
        self._worker = Worker(self.name, self._run, stop=self._stop, wake=self.interrupt)

    # -- lifecycle ------------------------------------------------------------
    def start(self) -> None:
        if self._worker.started:
            return
        self._worker.start()

    def interrupt(self) -> None:
        """Close the open watch stream (if any) so a stop is noticed at once."""
        with self._stream_lock:
            stream = self._stream
        if stream is not None:
            stream.close()

    def stop(self) -> None:
        self._worker.request_stop()

    def join(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for the thread; True when it has ended."""
        return self._worker.join(deadline_in(timeout))

    @property
    def alive(self) -> bool:
        return self._worker.alive

    # -- the loop -----------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._session()
            except _Stopped:
                break
            except Exception as exc:  # noqa: BLE001 - the loop must survive anything
                if self._stop.is_set():
                    break
                self._need_list = True
                self._error_failures += 1
                delay = _capped_delay(self._error_failures, self.settings.error_backoff_initial_seconds,
                                      self.settings.error_backoff_max_seconds)
                fields = self._fields(error=str(exc), retry_in=round(delay, 2))
                if isinstance(exc, errors.FederationError):
                    log.warning("reflector failed; retrying later", extra={"fields": fields})
                else:
                    log.exception("reflector failed unexpectedly; retrying later", extra={"fields": fields})
                self._report_failure(exc, self._error_failures)
                try:
                    self._sleep(delay)
                except _Stopped:
                    break
        log.debug("reflector stopped", extra={"fields": self._fields()})

    def _session(self) -> None:
        """List and watch until stopped; raises what the transient retry does not absorb."""
        short_streak = 0
        while True:
            stream = self._retrying()(self._connect)
            if stream is None:  # the kind is not served: look again later
                self._sleep(self.settings.missing_kind_recheck_seconds)
                self._need_list = True
                continue
            started = time.monotonic()
            delivered, outcome = self._consume(stream)
            if self._stop.is_set():
                raise _Stopped()
            if outcome == "expired":
                self.expirations += 1
                log.info("watch expired (410); relisting", extra={"fields": self._fields()})
                self._need_list = True
            elif outcome == "error":
                self._need_list = True
            if delivered or time.monotonic() - started >= _SHORT_STREAM_SECONDS:
                short_streak = 0
                continue
            short_streak += 1
            self._sleep(_capped_delay(short_streak, self.settings.backoff_initial_seconds,
                                      self.settings.backoff_max_seconds))

    def _retrying(self) -> tenacity.Retrying:
        """Retry transient failures only; an interrupted wait ends the attempt."""
        s = self.settings
        return tenacity.Retrying(
            retry=tenacity.retry_if_exception_type(errors.Transient),
            wait=tenacity.wait_exponential_jitter(
                multiplier=s.backoff_initial_seconds, max=s.backoff_max_seconds,
                jitter=s.backoff_initial_seconds),
            stop=lambda _state: self._stop.is_set(),
            sleep=self._sleep,
            before_sleep=self._before_retry,
            reraise=True,
        )

    def _before_retry(self, state: tenacity.RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        delay = state.next_action.sleep if state.next_action else 0.0
        log.info("cluster request failed; backing off", extra={"fields": self._fields(
            error=str(exc), attempt=state.attempt_number, retry_in=round(delay, 2))})
        if exc is not None:
            self._report_failure(exc, state.attempt_number)

    def _report_failure(self, exc: Exception, consecutive: int) -> None:
        if self._on_failure is None:
            return
        try:
            self._on_failure(exc, consecutive)
        except Exception:  # noqa: BLE001 - a consumer's bug must not kill the reflector
            log.exception("failure handler raised", extra={"fields": self._fields()})

    def _sleep(self, seconds: float) -> None:
        if self._stop.wait(seconds) or self._stop.is_set():
            raise _Stopped()

    # -- listing and watching --------------------------------------------------
    def _connect(self) -> WatchStream | None:
        """List if needed, then open a watch from the current resourceVersion."""
        for _ in range(2):
            if self._stop.is_set():
                raise _Stopped()
            if self._need_list:
                self._list()
            if self.missing:
                return None
            # Between one and two watch_timeouts, as client-go's reflectors do: the hub's many
            # watches, opened together, would otherwise all end and reconnect together.
            seconds = int(self.settings.watch_timeout * random.uniform(1.0, 2.0))
            try:
                stream = self.kube.watch(
                    self.rtype, self.resource_version, timeout_seconds=seconds,
                    label_selector=self.label_selector, field_selector=self.field_selector,
                    read_timeout=seconds + self.settings.watch_read_margin_seconds,
                )
            except errors.ResourceExpired:
                self.expirations += 1
                log.info("resourceVersion expired at watch; relisting", extra={"fields": self._fields()})
                self._need_list = True
                continue
            except errors.FederationError:
                self._need_list = True  # after a failed attempt, start from fresh state
                raise
            self.watches += 1
            with self._stream_lock:
                self._stream = stream
            if self._stop.is_set():  # a stop that raced with the open
                stream.close()
                raise _Stopped()
            return stream
        raise errors.ResourceExpired(
            f"cluster {self.kube.cluster!r}: {self.rtype.plural}: 410 right after a fresh list")

    def _list(self) -> None:
        try:
            data = self.kube.list(self.rtype, label_selector=self.label_selector,
                                  field_selector=self.field_selector)
        except errors.NotFound:
            if not self.missing_ok:
                raise
            if not self.missing:
                log.info("kind not served by the cluster; treating it as empty",
                         extra={"fields": self._fields()})
            data, self.missing = {"items": [], "metadata": {}}, True
        else:
            self.missing = False
        observed_at = time.monotonic()
        fresh, received = {}, {}
        for item in data.get("items") or []:
            key = object_key(item)
            received[key] = item
            fresh[key] = self._slim(item) if self._slim is not None else item
        previous, self.cache = self.cache, fresh
        for key, obj in received.items():
            old = previous.get(key)
            if old is None:
                self._deliver(ReflectorEvent(ADDED, obj, observed_at, relisted=True))
            elif _cached_version(old) != resource_version(obj):
                self._deliver(ReflectorEvent(MODIFIED, obj, observed_at, relisted=True))
        for key, cached in previous.items():
            if key not in fresh:
                obj = cached.object(key) if isinstance(cached, Kept) else cached
                self._deliver(ReflectorEvent(DELETED, obj, observed_at, relisted=True))
        self.resource_version = str((data.get("metadata") or {}).get("resourceVersion") or "")
        self._need_list = False
        self._error_failures = 0
        self.lists += 1
        log.debug("listed", extra={"fields": self._fields(items=len(fresh))})
        try:
            self._on_synced()
        except Exception:  # noqa: BLE001
            log.exception("synced handler raised", extra={"fields": self._fields()})

    def _consume(self, stream: WatchStream) -> tuple[int, str]:
        """Apply a stream's events; returns (events delivered, how it ended)."""
        delivered = 0
        try:
            for event in stream.events(self._known_line if self._known is not None else None):
                if self._stop.is_set():
                    return delivered, "stopped"
                kind = event.get("type")
                obj = event.get("object") or {}
                if kind == "BOOKMARK":
                    if self.settings.use_bookmarks and resource_version(obj):
                        self.resource_version = resource_version(obj)
                    continue
                if kind == "ERROR":
                    if obj.get("code") == 410:
                        return delivered, "expired"
                    log.warning("watch error event", extra={"fields": self._fields(
                        code=obj.get("code"), error=str(obj.get("message", ""))[:200])})
                    return delivered, "error"
                if kind in (ADDED, MODIFIED, DELETED):
                    if self._apply(kind, obj, time.monotonic()):
                        delivered += 1
            return delivered, "ended"
        except errors.ClusterUnreachable as exc:
            if not self._stop.is_set():
                log.info("watch stream broken; resuming", extra={"fields": self._fields(error=str(exc))})
            return delivered, "broken"
        finally:
            with self._stream_lock:
                self._stream = None
            stream.close()

    def _known_line(self, line: bytes) -> bool:
        """True when ``line`` is the event of a version ``known`` claims: the cache and the
        resume point take it unparsed (a version names one change of one object)."""
        version = leading_version(line)
        hit = self._known(version) if version else None
        if hit is None:
            return False
        key, cached = hit
        self.cache[key] = cached
        self.resource_version = version
        self.skipped += 1
        return True

    def _apply(self, kind: str, obj: dict, observed_at: float) -> bool:
        key = object_key(obj)
        version = resource_version(obj)
        if version:
            self.resource_version = version
        if kind == DELETED:
            old = self.cache.pop(key, None)
            if old is None:
                return False
            self._deliver(ReflectorEvent(DELETED, obj, observed_at))
            return True
        old = self.cache.get(key)
        if old is not None and version and _cached_version(old) == version:
            return False  # already seen (a resumed watch may repeat it)
        self.cache[key] = self._slim(obj) if self._slim is not None else obj
        self._deliver(ReflectorEvent(ADDED if old is None else MODIFIED, obj, observed_at))
        return True

    def _deliver(self, event: ReflectorEvent) -> None:
        try:
            self._on_event(event)
        except Exception:  # noqa: BLE001 - a consumer's bug must not stop the watch
            log.exception("event handler raised", extra={"fields": self._fields(
                event=event.type, object=object_key(event.obj))})

    def _fields(self, **more) -> dict:
        fields = {"cluster": self.kube.cluster, "kind": self.rtype.kind}
        fields.update(more)
        return fields


def slim_identity(obj: dict) -> Kept:
    """What a cache needs of an object whose events are handled as they come: its
    version and labels (deletes found by a relist carry these and its name)."""
    meta = obj.get("metadata") or {}
    labels = meta.get("labels")
    return Kept(str(meta.get("resourceVersion") or ""), labels if isinstance(labels, dict) else {})


_UPSERTS = (b'{"type":"ADDED",', b'{"type":"MODIFIED",')
_VERSION_KEY = b'"resourceVersion":"'


def leading_version(line: bytes) -> str | None:
    """The object's resourceVersion in a watch event line that adds or modifies one,
    read without parsing: the first ``"resourceVersion":"`` key is the object's own,
    since its metadata comes before its spec and status, and no key or label before
    it may hold a quote; None for any other line."""
    if not line.startswith(_UPSERTS):
        return None
    start = line.find(_VERSION_KEY)
    if start < 0:
        return None
    start += len(_VERSION_KEY)
    end = line.find(b'"', start)
    if end <= start:
        return None
    try:
        return line[start:end].decode("ascii")
    except UnicodeDecodeError:
        return None


def _capped_delay(attempt: int, initial: float, cap: float) -> float:
    """Exponential delay for the ``attempt``-th consecutive failure, capped, with jitter."""
    base = min(cap, initial * (2 ** max(0, attempt - 1)))
    return base * random.uniform(0.5, 1.0)
