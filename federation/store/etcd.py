"""The etcd backend: the ``Store`` protocol on etcd v3 through pyetcd.

This is the only module that imports pyetcd; its errors and gRPC's are
translated here. Keys given to the API are relative to ``prefix``.

Watches do not use pyetcd's shared watcher: each watch owns its gRPC stream and
one reader thread feeding a queue, so ``next_batch`` honours its timeout, a
compaction or failure of one watch leaves the others alone, and ``cancel`` ends
the stream and joins the thread.
"""

from __future__ import annotations

import logging
import queue
import threading
from contextlib import contextmanager
from typing import Iterator, Sequence

import grpc
import pyetcd
from pyetcd import etcdrpc
from pyetcd.etcdrpc import kv_pb2
from pyetcd import exceptions as etcd_exc
from pyetcd.utils import prefix_range_end

from federation import errors
from federation.store.base import Compare, Delete, KeyValue, Lease, Put, WatchEvent
from federation.workers import Worker, deadline_in

log = logging.getLogger(__name__)

_GRPC_OPTIONS = [
    # Reconnect soon after etcd comes back instead of gRPC's default 1..120 s back-off.
    ("grpc.initial_reconnect_backoff_ms", 200),
    ("grpc.min_reconnect_backoff_ms", 200),
    ("grpc.max_reconnect_backoff_ms", 2000),
    # Notice a dead server under a quiet watch; etcd accepts pings every 5 s or slower.
    ("grpc.keepalive_time_ms", 10_000),
    ("grpc.keepalive_timeout_ms", 5_000),
]
# Seconds a failed endpoint is skipped; short, so a lone endpoint is retried soon.
_ENDPOINT_RETRY = 1.0
_RANGE_PAGE = 1000
_JOIN_TIMEOUT = 2.0


def _parse_endpoint(text: str) -> tuple[str, int, bool]:
    """``host:port`` or ``http(s)://host:port`` → (host, port, secure)."""
    raw = text.strip()
    secure = False
    if "://" in raw:
        scheme, _, raw = raw.partition("://")
        if scheme not in ("http", "https", "etcd"):
            raise errors.ConfigError(f"etcd endpoint {text!r}: unsupported scheme {scheme!r}")
        secure = scheme == "https"
    raw = raw.rstrip("/")
    host, sep, port_text = raw.rpartition(":")
    if not sep or not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise errors.ConfigError(f"etcd endpoint {text!r} is not host:port")
    return host.strip("[]") if host.startswith("[") else host, int(port_text), secure


def _prefix_range(full_prefix: str) -> tuple[bytes, bytes]:
    key = full_prefix.encode()
    if not key:
        return b"\0", b"\0"  # etcd's spelling of "every key"
    end = prefix_range_end(key)
    return key, (b"\0" if end == key else end)


class EtcdStore:
    """A ``Store`` on an etcd v3 cluster."""

    def __init__(self, endpoints: list[str] | str, prefix: str = "/mesh-federation/",
                 timeout: float = 5.0, ca_cert: str | None = None,
                 cert_key: str | None = None, cert_cert: str | None = None):
        if isinstance(endpoints, str):
            endpoints = endpoints.split(",")
        parsed = [_parse_endpoint(e) for e in endpoints if e.strip()]
        if not parsed:
            raise errors.ConfigError("no etcd endpoint given")
        secure = ca_cert is not None or any(s for _, _, s in parsed)
        if (cert_key is None) != (cert_cert is None):
            raise errors.ConfigError("etcd client TLS needs both cert_key and cert_cert")
        creds = None
        if secure:
            if ca_cert is None:
                raise errors.ConfigError("an https etcd endpoint needs ca_cert")
            try:
                creds = pyetcd.MultiEndpointEtcd3Client.get_secure_creds(ca_cert, cert_key, cert_cert)
            except OSError as exc:
                raise errors.ConfigError(f"cannot read etcd TLS files: {exc}") from exc
        self._prefix = prefix
        self._timeout = timeout
        self._where = ",".join(f"{h}:{p}" for h, p, _ in parsed)
        self._client = pyetcd.MultiEndpointEtcd3Client(
            endpoints=[pyetcd.Endpoint(h, p, secure=secure, creds=creds,
                                       time_retry=_ENDPOINT_RETRY, opts=_GRPC_OPTIONS)
                       for h, p, _ in parsed],
            timeout=timeout, failover=True)
        self._lock = threading.Lock()
        self._watches: set[_EtcdWatch] = set()
        self._closed = False

    def __repr__(self) -> str:
        return f"EtcdStore({self._where!r}, prefix={self._prefix!r})"

    # --- error translation -------------------------------------------------
    def _translate(self, exc: BaseException, action: str) -> errors.StoreError:
        rpc = exc if isinstance(exc, grpc.RpcError) else exc.__context__
        code = rpc.code() if isinstance(rpc, grpc.RpcError) else None
        detail = ((rpc.details() if isinstance(rpc, grpc.RpcError) else "")
                  or str(exc) or type(exc).__name__)
        if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED) or isinstance(
                exc, (etcd_exc.ConnectionFailedError, etcd_exc.ConnectionTimeoutError,
                      etcd_exc.NoServerAvailableError)):
            return errors.StoreUnavailable(f"etcd at {self._where} unreachable ({action}): {detail}")
        if code == grpc.StatusCode.NOT_FOUND and "lease" in detail:
            return errors.LeaseLost(f"{action}: {detail}")
        if code == grpc.StatusCode.OUT_OF_RANGE and "compacted" in detail:
            return errors.RevisionCompacted(f"{action}: {detail}")
        name = code.name if code is not None else type(exc).__name__
        return errors.StoreError(f"etcd at {self._where} failed ({action}): {name}: {detail}")

    @contextmanager
    def _calling(self, action: str) -> Iterator[None]:
        if self._closed:
            raise errors.StoreError("the store is closed")
        try:
            yield
        except (etcd_exc.Etcd3Exception, grpc.RpcError) as exc:
            raise self._translate(exc, action) from exc
        except ValueError as exc:
            if not self._closed:
                raise
            # gRPC refuses calls on a channel that a concurrent close() shut.
            raise errors.StoreError("the store is closed") from exc

    def _full(self, key: str) -> str:
        return self._prefix + key

    def _kv(self, kv) -> KeyValue:
        return KeyValue(kv.key.decode()[len(self._prefix):], kv.value, kv.create_revision,
                        kv.mod_revision, kv.version, kv.lease)

    # --- reads -------------------------------------------------------------
    def get(self, key: str) -> KeyValue | None:
        with self._calling("get"):
            resp = self._client.get_response(self._full(key))
        return self._kv(resp.kvs[0]) if resp.kvs else None

    def range(self, prefix: str) -> tuple[list[KeyValue], int]:
        start, end = _prefix_range(self._full(prefix))
        for _attempt in range(3):
            try:
                return self._range_pages(start, end)
            except errors.RevisionCompacted:
                continue  # the pinned revision went away between pages; read again
        raise errors.StoreError(f"range of {prefix!r} kept racing compaction")

    def _range_pages(self, start: bytes, end: bytes) -> tuple[list[KeyValue], int]:
        # Pages pinned at the first page's revision make one consistent read.
        found: list[KeyValue] = []
        key, revision = start, None
        while True:
            with self._calling("range"):
                resp = self._client.get_range_response(
                    key, end, sort_order="ascend", sort_target="key",
                    limit=_RANGE_PAGE, revision=revision)
            revision = revision or resp.header.revision
            found.extend(self._kv(kv) for kv in resp.kvs)
            if not resp.more or not resp.kvs:
                return found, revision
            key = resp.kvs[-1].key + b"\0"

    def revision(self) -> int:
        with self._calling("revision"):
            return self._client.get_response(self._full(""), count_only=True).header.revision

    # --- writes ------------------------------------------------------------
    def put(self, key: str, value: bytes, lease: int = 0) -> int:
        with self._calling("put"):
            return self._client.put(self._full(key), bytes(value), lease=lease or None).header.revision

    def delete(self, key: str) -> bool:
        with self._calling("delete"):
            return self._client.delete(self._full(key), return_response=True).deleted >= 1

    def txn(self, compares: Sequence[Compare], on_success: Sequence[Put | Delete],
            on_failure: Sequence[Put | Delete] = ()) -> bool:
        t = self._client.transactions
        guard = [t.mod(self._full(c.key)) == c.mod_revision for c in compares]
        with self._calling("txn"):
            held, _ = self._client.transaction(
                compare=guard, success=self._ops(on_success), failure=self._ops(on_failure))
        return bool(held)

    def _ops(self, ops: Sequence[Put | Delete]) -> list:
        t = self._client.transactions
        return [t.put(self._full(op.key), bytes(op.value), lease=op.lease or None)
                if isinstance(op, Put) else t.delete(self._full(op.key)) for op in ops]

    def compare_and_swap(self, key: str, value: bytes, mod_revision: int, lease: int = 0) -> bool:
        return self.txn([Compare(key, mod_revision)], [Put(key, value, lease)])

    def compare_and_delete(self, key: str, mod_revision: int) -> bool:
        return self.txn([Compare(key, mod_revision)], [Delete(key)])

    def compact(self, revision: int) -> None:
        try:
            with self._calling("compact"):
                self._client.compact(revision)
        except errors.RevisionCompacted:
            pass  # already compacted at or past it

    # --- watches -----------------------------------------------------------
    def watch(self, prefix: str, start_revision: int = 0) -> "_EtcdWatch":
        with self._calling("watch"):
            channel = self._client.channel
        w = _EtcdWatch(self, channel, self._full(prefix), start_revision)
        with self._lock:
            self._watches.add(w)
        try:
            w.wait_created(self._timeout)
        except BaseException:
            w.cancel()
            raise
        return w

    # --- leases ------------------------------------------------------------
    def grant_lease(self, ttl: int) -> Lease:
        with self._calling("grant_lease"):
            granted = self._client.lease(max(int(ttl), 1))
        return Lease(granted.id, granted.ttl)

    def keep_alive(self, lease_id: int) -> int:
        with self._calling("keep_alive"):
            responses = list(self._client.refresh_lease(lease_id))
        # etcd answers an expired or unknown lease with TTL 0, not an error.
        if not responses or responses[0].TTL <= 0:
            raise errors.LeaseLost(f"lease {lease_id:x} expired or does not exist")
        return responses[0].TTL

    def revoke_lease(self, lease_id: int) -> None:
        try:
            with self._calling("revoke_lease"):
                self._client.revoke_lease(lease_id)
        except errors.LeaseLost:
            pass  # already gone, which is what was asked

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            watches = list(self._watches)
        for w in watches:
            w.cancel()
        self._client.close()


class _EtcdWatch:
    """One etcd watch stream read by one thread into a queue."""

    def __init__(self, store: EtcdStore, channel: grpc.Channel, full_prefix: str,
                 start_revision: int):
        self._store = store
        self._full_prefix = full_prefix
        self._items: queue.Queue = queue.Queue()  # list[WatchEvent] | Exception | None
        self._requests: queue.Queue = queue.Queue()
        self._created = threading.Event()
        self._ready = threading.Event()
        self._cancelled = threading.Event()
        self._error: BaseException | None = None
        key, end = _prefix_range(full_prefix)
        self._requests.put(etcdrpc.WatchRequest(create_request=etcdrpc.WatchCreateRequest(
            key=key, range_end=end, start_revision=max(start_revision, 0))))
        self._call = etcdrpc.WatchStub(channel).Watch(self._request_iter())
        self._worker = Worker(f"etcd-watch {full_prefix}", self._run, stop=self._cancelled)
        self._worker.start()

    def wait_created(self, timeout: float) -> None:
        self._ready.wait(timeout)
        if self._created.is_set():
            return
        try:
            item = self._items.get_nowait()
        except queue.Empty:
            item = None
        if isinstance(item, Exception):
            raise item
        raise errors.StoreUnavailable(
            f"etcd at {self._store._where} did not create the watch of {self._full_prefix!r} "
            f"within {timeout}s")

    def _request_iter(self) -> Iterator:
        # gRPC consumes this in its own thread; it ends when the watch does.
        while not self._cancelled.is_set():
            try:
                request = self._requests.get(timeout=0.5)
            except queue.Empty:
                continue
            if request is None:
                return
            yield request

    def _run(self) -> None:
        plen = len(self._store._prefix)
        try:
            for resp in self._call:
                if resp.created:
                    self._created.set()
                    self._ready.set()
                if resp.compact_revision:
                    self._items.put(errors.RevisionCompacted(
                        f"watch of {self._full_prefix!r}: history before revision "
                        f"{resp.compact_revision} was compacted", resp.compact_revision))
                    return
                if resp.canceled:
                    self._items.put(errors.StoreError(
                        f"etcd canceled the watch of {self._full_prefix!r}: {resp.cancel_reason}"))
                    return
                if resp.events:
                    self._items.put([
                        WatchEvent("DELETE" if ev.type == kv_pb2.Event.DELETE else "PUT",
                                   ev.kv.key.decode()[plen:],
                                   b"" if ev.type == kv_pb2.Event.DELETE else ev.kv.value,
                                   ev.kv.mod_revision)
                        for ev in resp.events])
            if not self._cancelled.is_set():
                self._items.put(errors.StoreUnavailable(
                    f"etcd at {self._store._where} closed the watch of {self._full_prefix!r}"))
        except grpc.RpcError as exc:
            if not self._cancelled.is_set():
                error = self._store._translate(exc, f"watch {self._full_prefix!r}")
                log.warning("etcd watch failed", extra={"fields": {
                    "prefix": self._full_prefix, "error": str(error)}})
                self._items.put(error)
        finally:
            self._requests.put(None)
            self._call.cancel()
            self._ready.set()

    def next_batch(self, timeout: float) -> list[WatchEvent]:
        if self._error is not None:
            raise self._error
        if self._cancelled.is_set():
            return []
        try:
            item = self._items.get(timeout=max(timeout, 0.0))
        except queue.Empty:
            return []
        batch: list[WatchEvent] = []
        while True:
            if item is None:  # cancelled
                return batch
            if isinstance(item, Exception):
                self._error = item
                if batch:
                    return batch
                raise item
            batch.extend(item)
            try:
                item = self._items.get_nowait()
            except queue.Empty:
                return batch

    def cancel(self) -> None:
        if self._cancelled.is_set():
            return
        self._cancelled.set()
        self._items.put(None)
        self._requests.put(None)
        self._call.cancel()
        if not self._worker.is_current():
            self._worker.join(deadline_in(_JOIN_TIMEOUT))
        with self._store._lock:
            self._store._watches.discard(self)

    def __iter__(self) -> Iterator[WatchEvent]:
        while not self._cancelled.is_set():
            yield from self.next_batch(0.5)
