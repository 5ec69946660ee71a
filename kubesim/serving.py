"""Serving the Kubernetes API over HTTPS for one simulated cluster.

``ApiServer`` holds what outlives a listening socket (store, token, faults,
watch registry); ``Listener`` is one bound HTTPS server with its connection
threads, so a cluster can stop listening and come back on the same address.
Requests are handled by ``requesting.RequestHandler``; every connection gets
its own thread, tracked so a stop closes the sockets and joins the threads
within a bound.
"""

from __future__ import annotations

import collections
import hmac
import http.server
import logging
import random
import socket
import ssl
import threading
import time
from typing import NamedTuple

from kubesim.requesting import RequestHandler
from kubesim.resources import Catalog
from kubesim.store import ObjectStore
from kubesim.watching import WatchHandle

log = logging.getLogger(__name__)

_HANDSHAKE_TIMEOUT = 10.0


class Faults:
    """Injected faults: latency before each request and failing API calls."""

    def __init__(self, seed: int | None = None):
        self._lock = threading.Lock()
        self._random = random.Random(seed)
        self.latency = 0.0
        self._fail_next = 0
        self._fail_next_status = 500
        self._rate = 0.0
        self._rate_status = 500

    def set_latency(self, seconds: float) -> None:
        with self._lock:
            self.latency = max(0.0, float(seconds))

    def fail_next(self, count: int, status: int = 500) -> None:
        with self._lock:
            self._fail_next, self._fail_next_status = max(0, int(count)), int(status)

    def set_failure_rate(self, rate: float, status: int = 500) -> None:
        with self._lock:
            self._rate, self._rate_status = min(1.0, max(0.0, float(rate))), int(status)

    def clear(self) -> None:
        with self._lock:
            self.latency, self._fail_next, self._rate = 0.0, 0, 0.0

    def take_failure(self) -> int | None:
        """The status code to fail this request with, or None."""
        with self._lock:
            if self._fail_next > 0:
                self._fail_next -= 1
                return self._fail_next_status
            if self._rate and self._random.random() < self._rate:
                return self._rate_status
        return None


class RequestRecord(NamedTuple):
    """One answered request, as recorded when its status line was sent."""

    method: str
    path: str
    code: int


class ApiServer:
    """The API of one simulated cluster, independent of the socket it listens on."""

    def __init__(self, name: str, store: ObjectStore, token: str, bookmark_interval: float = 60.0,
                 watch_timeout: float = 1800.0):
        self.name = name
        self.store = store
        self.catalog: Catalog = store.catalog
        self.faults = Faults()
        self.bookmark_interval = bookmark_interval
        self.watch_timeout = watch_timeout
        self._token = token.encode()
        self._lock = threading.Lock()
        self._watches: set[WatchHandle] = set()
        self._requests: collections.deque[RequestRecord] = collections.deque(maxlen=100_000)
        self.address = ""

    def authorized(self, header: str | None) -> bool:
        if not header or not header.startswith("Bearer "):
            return False
        return hmac.compare_digest(header[len("Bearer "):].strip().encode(), self._token)

    def set_token(self, token: str) -> None:
        self._token = token.encode()

    # --- request log ----------------------------------------------------------------
    def record(self, method: str, path: str, code: int) -> None:
        self._requests.append(RequestRecord(method, path, code))  # deque.append is atomic

    def requests(self) -> list[RequestRecord]:
        return list(self._requests)

    def clear_requests(self) -> None:
        self._requests.clear()

    # --- watches ------------------------------------------------------------------
    def register_watch(self, handle: WatchHandle) -> None:
        with self._lock:
            self._watches.add(handle)

    def unregister_watch(self, handle: WatchHandle) -> None:
        with self._lock:
            self._watches.discard(handle)

    def active_watches(self) -> int:
        with self._lock:
            return len(self._watches)

    def cut_watches(self, graceful: bool = False) -> int:
        """End every open watch: abruptly (connection reset) or as a normal end of stream."""
        with self._lock:
            handles = list(self._watches)
        for handle in handles:
            handle.graceful = graceful
            handle.cut.set()
            if not graceful:
                _shutdown(handle.connection)
        self.store.wake_watchers()
        return len(handles)


def _shutdown(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # already closed by the peer or by its own thread


class Listener(http.server.HTTPServer):
    """One bound HTTPS server; each connection runs in its own tracked thread."""

    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, host: str, port: int, api: ApiServer, ssl_context: ssl.SSLContext | None):
        self.api = api
        self.ssl_context = ssl_context
        self.closing = threading.Event()
        self._conn_lock = threading.Lock()
        self._connections: set = set()
        self._threads: set[threading.Thread] = set()
        self._serve_thread: threading.Thread | None = None
        super().__init__((host, port), RequestHandler)

    def start(self) -> None:
        self._serve_thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05},
                                              name=f"sim-{self.api.name}-accept", daemon=True)
        self._serve_thread.start()

    def process_request(self, request, client_address) -> None:  # noqa: ANN001 (socketserver signature)
        thread = threading.Thread(target=self._serve_connection, args=(request, client_address),
                                  name=f"sim-{self.api.name}-conn", daemon=True)
        with self._conn_lock:
            if self.closing.is_set():
                self.shutdown_request(request)
                return
            self._connections.add(request)
            self._threads.add(thread)
        thread.start()

    def _serve_connection(self, request: socket.socket, client_address) -> None:  # noqa: ANN001
        conn = request
        try:
            # Headers and body go out in separate writes; without NODELAY, Nagle plus the
            # client's delayed ACK adds ~40 ms to every response.
            request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.ssl_context is not None:
                request.settimeout(_HANDSHAKE_TIMEOUT)
                conn = self.ssl_context.wrap_socket(request, server_side=True)
                with self._conn_lock:
                    self._connections.discard(request)
                    self._connections.add(conn)
                if self.closing.is_set():
                    return
            self.finish_request(conn, client_address)
        except (OSError, ssl.SSLError, ValueError) as exc:
            log.debug("sim connection ended", extra={"fields": {"cluster": self.api.name, "error": str(exc)}})
        finally:
            _shutdown(conn)
            try:
                conn.close()
            except OSError:
                pass
            with self._conn_lock:
                self._connections.discard(conn)
                self._connections.discard(request)
                self._threads.discard(threading.current_thread())

    def stop(self, timeout: float = 5.0) -> bool:
        """Stop accepting, close every connection, join the threads; True if all ended in time."""
        deadline = time.monotonic() + timeout
        self.closing.set()
        if self._serve_thread is not None:
            self.shutdown()
            self._serve_thread.join(max(0.0, deadline - time.monotonic()))
        self.server_close()
        with self._conn_lock:
            connections, threads = list(self._connections), list(self._threads)
        for conn in connections:
            _shutdown(conn)
        self.api.store.wake_watchers()
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        leftover = [t for t in threads if t.is_alive()]
        if leftover or (self._serve_thread is not None and self._serve_thread.is_alive()):
            log.warning("sim listener threads still running after stop",
                        extra={"fields": {"cluster": self.api.name, "threads": len(leftover)}})
            return False
        return True
