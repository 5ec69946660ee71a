"""Streaming a watch: newline-delimited JSON events over a chunked HTTP response.

Kubernetes semantics: without a resourceVersion (or with "0") the stream
starts with synthetic ADDED events for the current objects; with one, it
replays what came after it, or sends an ERROR event carrying a 410 Status when
that history is gone. Label/field selectors turn a MODIFIED event into ADDED
or DELETED (carrying the last matching state) when an object starts or stops
matching. ``allowWatchBookmarks``
adds periodic BOOKMARK events; ``timeoutSeconds`` ends the stream normally.
"""

from __future__ import annotations

import json
import select
import socket
import threading
import time
from typing import TYPE_CHECKING

from federation.errors import ResourceExpired
from kubesim.resources import ServedType
from kubesim.selectors import FieldSelector, LabelSelector
from kubesim.entries import Entry, Event

if TYPE_CHECKING:
    from kubesim.requesting import RequestHandler

_POLL = 1.0  # longest sleep between checks of the stop and cut flags


class WatchHandle:
    """One open watch stream, so it can be cut from outside."""

    def __init__(self, connection: socket.socket):
        self.connection = connection
        self.cut = threading.Event()
        self.graceful = False


class _Filter:
    def __init__(self, namespace: str | None, labels: LabelSelector, fields: FieldSelector):
        self.namespace, self.labels, self.fields = namespace, labels, fields

    def matches(self, entry: Entry | None) -> bool:
        if entry is None:
            return False
        meta = entry.obj["metadata"]
        if self.namespace and meta.get("namespace") != self.namespace:
            return False
        if self.labels and not self.labels.matches(meta.get("labels")):
            return False
        return not self.fields or self.fields.matches(entry.obj)

    def event_type(self, event: Event) -> str | None:
        """The type this watcher sees for ``event`` (None: not for it)."""
        now = self.matches(event.entry)
        if event.type != "MODIFIED":
            return event.type if now else None
        before = self.matches(event.prev)
        if now:
            return "MODIFIED" if before else "ADDED"
        return "DELETED" if before else None


def _client_gone(connection) -> bool:  # noqa: ANN001 (a socket or an SSL socket)
    """Whether the client closed its side: a watching client sends nothing, so readable means EOF."""
    try:
        readable, _, _ = select.select([connection], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


def _line(kind: str, raw: bytes) -> bytes:
    return b'{"type":"' + kind.encode() + b'","object":' + raw + b"}\n"


def _bookmark(rtype: ServedType, rv: int, initial_end: bool = False) -> bytes:
    meta: dict = {"resourceVersion": str(rv)}
    if initial_end:
        meta["annotations"] = {"k8s.io/initial-events-end": "true"}
    obj = {"kind": rtype.kind, "apiVersion": rtype.api_version, "metadata": meta}
    return _line("BOOKMARK", json.dumps(obj, separators=(",", ":")).encode())


def _error(code: int, reason: str, message: str) -> bytes:
    status = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message,
              "reason": reason, "code": code}
    return _line("ERROR", json.dumps(status, separators=(",", ":")).encode())


def _parse_query(handler: "RequestHandler", query: dict) -> tuple[int | None, float] | None:
    api = handler.server.api
    try:
        raw_rv = query.get("resourceVersion") or ""
        rv = int(raw_rv) if raw_rv else None
        timeout = float(query.get("timeoutSeconds") or api.watch_timeout)
    except ValueError:
        handler.send_status(400, "resourceVersion and timeoutSeconds must be integers")
        return None
    if rv is not None and rv < 0:
        handler.send_status(400, f"invalid resourceVersion {rv}")
        return None
    return rv, max(0.0, min(timeout, api.watch_timeout))


def _event_object(kind: str, event: Event) -> bytes:
    """What a watcher is sent: an object that stopped matching goes as DELETED in its last
    matching state, at the event's resourceVersion (as the API server's watch cache does)."""
    if kind == "DELETED" and event.type == "MODIFIED" and event.prev is not None:
        last = event.prev.copy()
        last["metadata"]["resourceVersion"] = str(event.rv)
        return json.dumps(last, separators=(",", ":")).encode()
    return event.entry.raw


def stream_watch(handler: "RequestHandler", rtype: ServedType, namespace: str | None, labels: LabelSelector,
                 fields: FieldSelector, query: dict) -> None:
    parsed = _parse_query(handler, query)
    if parsed is None:
        return
    rv, timeout = parsed
    api, listener = handler.server.api, handler.server
    bookmarks = query.get("allowWatchBookmarks", "").lower() in ("1", "true")
    send_initial = query.get("sendInitialEvents", "").lower() in ("1", "true")
    filt = _Filter(namespace, labels, fields)
    store = api.store
    pending: list[bytes] = []
    expired = False
    try:
        initial, cursor = store.watch_start(rtype, None if send_initial else rv)
    except ResourceExpired as exc:
        # The API server answers an expired watch with 200 and a 410 ERROR event.
        initial, cursor, expired = [], 0, True
        pending.append(_error(410, "Expired", str(exc)))
    initial.sort(key=lambda e: e.rv)
    pending += [_line("ADDED", e.raw) for e in initial if filt.matches(e)]
    if send_initial and not expired:
        pending.append(_bookmark(rtype, cursor, initial_end=True))

    handler.send_response(200)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Transfer-Encoding", "chunked")
    handler.send_header("Cache-Control", "no-cache, private")
    handler.end_headers()
    handle = WatchHandle(handler.connection)
    api.register_watch(handle)
    start = time.monotonic()
    deadline = start + timeout
    next_bookmark = start + api.bookmark_interval
    gone = False
    try:
        while True:
            if pending:
                data = b"".join(pending)
                pending = []
                handler.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            if expired or handle.cut.is_set() or listener.closing.is_set():
                break
            if _client_gone(handler.connection):
                gone = True
                break
            now = time.monotonic()
            if now >= deadline:
                break
            wake = min(deadline, next_bookmark if bookmarks else deadline, now + _POLL)
            try:
                events, current = store.wait_events(rtype, cursor, max(0.0, wake - now))
            except ResourceExpired as exc:  # history compacted under a slow watcher
                pending.append(_error(410, "Expired", str(exc)))
                expired = True
                continue
            for event in events:
                kind = filt.event_type(event)
                if kind is not None:
                    pending.append(_line(kind, _event_object(kind, event)))
            # Every event of this type up to ``current`` was in ``events``.
            cursor = max(cursor, current)
            if bookmarks and time.monotonic() >= next_bookmark:
                pending.append(_bookmark(rtype, cursor))
                next_bookmark = time.monotonic() + api.bookmark_interval
        if gone or (handle.cut.is_set() and not handle.graceful):
            handler.close_connection = True
        else:
            handler.wfile.write(b"0\r\n\r\n")
    except OSError:
        handler.close_connection = True  # the client went away or the stream was cut
    finally:
        api.unregister_watch(handle)
