"""The dashboard's web server: loopback by default, GET only, holding the admin
connection itself (the browser gets the page and ``/api/state``, never the token).
Requests whose Host header is not this server's address are refused, so a web page
elsewhere cannot read the dashboard through DNS rebinding."""

from __future__ import annotations

import ipaddress
import json
import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from federation import errors
from federation.dashboard import latency, page, state
from federation.workers import Worker, deadline_in

log = logging.getLogger(__name__)


class Dashboard:
    """Serves the page for the hub behind ``client`` (an ``AdminClient``); ``metrics_url``
    (the hub's /metrics) adds propagation latency. ``start()`` returns the URL."""

    def __init__(self, client, address: str = "127.0.0.1:0", metrics_url: str = "",
                 poll_seconds: float = 2.0):
        host, _, port = address.rpartition(":")
        if not host or not port.isdigit():
            raise errors.ConfigError(f"dashboard address {address!r}: expected HOST:PORT")
        self.client = client
        self.metrics_url = metrics_url
        self.poll_ms = max(200, int(poll_seconds * 1000))
        self._host, self._port = host.strip("[]"), int(port)
        self._server: ThreadingHTTPServer | None = None
        self._worker: Worker | None = None
        self.state_requests = 0  # answered /api/state calls (tests read it)
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self._port}/"

    def start(self) -> str:
        dashboard = self

        class Handler(_Handler):
            owner = dashboard

        try:
            self._server = ThreadingHTTPServer((self._host, self._port), Handler)
        except OSError as exc:
            raise errors.ConfigError(f"dashboard cannot listen on {self._host}:{self._port}: {exc.strerror}") from exc
        self._server.daemon_threads = True
        self._port = self._server.server_address[1]
        self._worker = Worker("dashboard", self._server.serve_forever, 0.2, wake=self._server.shutdown)
        self._worker.start()
        if not _loopback(self._host):
            log.warning("dashboard listens beyond loopback: anyone who reaches it sees the hub's state",
                        extra={"fields": {"address": self.url}})
        return self.url

    def stop(self) -> None:
        if self._worker is not None:
            self._worker.stop(deadline_in(5))
            self._worker = None
        if self._server is not None:
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Dashboard:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def allowed_hosts(self) -> set[str]:
        hosts = {f"{self._host}:{self._port}", f"[{self._host}]:{self._port}"}
        if _loopback(self._host):
            hosts |= {f"localhost:{self._port}", f"127.0.0.1:{self._port}"}
        return hosts

    def current_state(self) -> dict:
        now = time.time()
        try:
            status = self.client.status()
            services = self.client.list_services()
            clusters = self.client.list_clusters()
        except errors.FederationError as exc:
            return {"error": f"hub not answering: {exc}", "fetchedAt": now}
        measured, metrics_error = {}, ""
        if self.metrics_url:
            try:
                measured = latency.fetch(self.metrics_url)
            except errors.FederationError as exc:
                metrics_error = str(exc)
        with self._lock:
            self.state_requests += 1
        return state.view(status, services, clusters, measured, fetched_at=now, metrics_error=metrics_error)


class _Handler(BaseHTTPRequestHandler):
    owner: Dashboard
    server_version = "federation-dashboard"

    def log_message(self, fmt, *args) -> None:  # requests go to debug, not stderr
        log.debug("dashboard request", extra={"fields": {"line": fmt % args}})

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        if self.headers.get("Host", "") not in self.owner.allowed_hosts():
            self._send(403, "text/plain", b"unexpected Host header\n")
        elif self.path in ("/", "/index.html"):
            self._send(200, "text/html; charset=utf-8", page.render(self.owner.poll_ms))
        elif self.path.split("?")[0] == "/api/state":
            body = json.dumps(self.owner.current_state(), default=str).encode()
            self._send(200, "application/json", body)
        elif self.path == "/healthz":
            self._send(200, "text/plain", b"ok\n")
        else:
            self._send(404, "text/plain", b"not found\n")

    def do_POST(self) -> None:  # noqa: N802 - read-only: nothing is changed from here
        self._send(405, "text/plain", b"the dashboard is read-only\n")

    do_PUT = do_DELETE = do_PATCH = do_POST

    def _send(self, code: int, content_type: str, body: bytes) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Content-Security-Policy",
                         "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
                         "connect-src 'self'; img-src 'self'")
        self.end_headers()
        self.wfile.write(body)


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
