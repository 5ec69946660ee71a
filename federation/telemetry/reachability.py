"""Whether the hub reaches each member's east-west gateway on its 15443 port: a TCP
connect per gateway every ``interval`` seconds on one thread, each bounded by
``connect_timeout``, for the ``federation_gateway_reachable`` gauge (opt-in:
``--probe-gateways SECONDS``; the hub's own path to a gateway is not always the
members' path)."""

from __future__ import annotations

import logging
import socket
import threading
import time

from federation.workers import Worker, deadline_in

log = logging.getLogger(__name__)


class GatewayProber:
    def __init__(self, hub, interval: float, connect_timeout: float = 1.0):
        self.hub = hub
        self.interval = interval
        self.connect_timeout = connect_timeout
        self._results: dict[tuple[str, str], bool] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._worker = Worker("gateway-prober", self._run, stop=self._stop)
        self.rounds = 0  # completed probe rounds (tests wait on it)
        self.round_done = threading.Condition(self._lock)

    def start(self) -> None:
        self._worker.start()

    def stop(self, timeout: float = 10.0) -> bool:
        return self._worker.stop(deadline_in(timeout))

    def _run(self) -> None:
        while not self._stop.is_set():
            self.probe_once()
            self._stop.wait(self.interval)

    def probe_once(self) -> None:
        found: dict[tuple[str, str], bool] = {}
        for name, info in sorted(self.hub.snapshot.clusters.items()):
            for address in info.gateways:
                if self._stop.is_set():
                    return
                found[(name, f"{address}:{info.gateway_port}")] = self._reaches(address, info.gateway_port)
        with self.round_done:
            self._results = found
            self.rounds += 1
            self.round_done.notify_all()

    def _reaches(self, address: str, port: int) -> bool:
        started = time.monotonic()
        try:
            with socket.create_connection((address, port), timeout=self.connect_timeout):
                return True
        except OSError as exc:
            log.debug("gateway not reached", extra={"fields": {
                "gateway": f"{address}:{port}", "error": type(exc).__name__,
                "ms": round((time.monotonic() - started) * 1e3)}})
            return False

    def observe(self):
        with self._lock:
            results = dict(self._results)
        return [(1.0 if ok else 0.0, {"cluster": cluster, "gateway": gateway})
                for (cluster, gateway), ok in sorted(results.items())]
