"""Whether the hub reaches each member's east-west gateway, and gateway-aware
failover on it: a TCP connect to every gateway address every ``interval``
seconds (in parallel, each bounded by ``connect_timeout``, so one silent
gateway never delays the others), for the ``federation_gateway_reachable``
gauge and, with ``bounds``, for the withdrawal decision
(``federation.model.gateway_health``, pure: this module holds its I/O and clock).

A withdrawal or restoration enters the pipeline as a ``GatewayChange`` through
``hub.submit``, like any source's change: coalesced, and rendered only for the
services with endpoints in that cluster. The decision is held to the snapshot
each round (what the snapshot says differs from it: submitted again), so a
cluster re-registered or a change lost on the way converges within one round.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from concurrent.futures import CancelledError, ThreadPoolExecutor
from dataclasses import dataclass

from federation.model import ChangeSet, GatewayChange
from federation.model.cluster import gateway_ip
from federation.model.gateway_health import HOLDING, Bounds, Decision, decide
from federation.workers import Worker, deadline_in

log = logging.getLogger(__name__)

MAX_PARALLEL = 16  # connects in flight per round


@dataclass(frozen=True)
class GatewayReport:
    """One cluster's gateway for status: ``state`` is ``reachable``, ``unreachable``
    or ``withdrawn`` ("" when not probed); ``since``: unix time it stopped answering."""

    state: str = ""
    since: float | None = None


class GatewayProber:
    def __init__(self, hub, interval: float, connect_timeout: float = 1.0, bounds: Bounds | None = None):
        self.hub = hub
        self.interval = interval
        self.connect_timeout = connect_timeout
        self.bounds = bounds  # None: probe for the gauge only, never withdraw
        self._results: dict[tuple[str, str], bool] = {}
        self._decision = Decision()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._worker = Worker("gateway-prober", self._run, stop=self._stop)
        self._pool: ThreadPoolExecutor | None = None
        self.rounds = 0  # completed probe rounds (tests wait on it)
        self.round_done = threading.Condition(self._lock)

    def start(self) -> None:
        self._pool = ThreadPoolExecutor(MAX_PARALLEL, thread_name_prefix="gateway-probe")
        self._worker.start()

    def stop(self, timeout: float = 10.0) -> bool:
        stopped = self._worker.stop(deadline_in(timeout))
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)  # connects end within their timeout
        return stopped

    def _run(self) -> None:
        while not self._stop.is_set():
            self.probe_once()
            self._stop.wait(self.interval)

    def probe_once(self) -> None:
        snapshot = self.hub.snapshot
        targets: dict[tuple[str, str, int], None] = {}
        entry_address: dict[str, str] = {}
        for name, info in sorted(snapshot.clusters.items()):
            address = gateway_ip(info)  # what the other clusters' entries point at
            if address:
                entry_address[name] = address
            for each in (*info.gateways, *([address] if address else [])):
                targets[(name, each, info.gateway_port)] = None
        found = self._probe(list(targets))
        if found is None:
            return  # stopping
        now = time.monotonic()
        with self.round_done:
            self._results = {(name, f"{address}:{port}"): ok for (name, address, port), ok in found.items()}
            previous = self._decision
            if self.bounds is not None:
                self._decision = decide(previous, {
                    name: found[(name, address, snapshot.clusters[name].gateway_port)]
                    for name, address in entry_address.items()}, now, self.bounds)
            decision = self._decision
        if self.bounds is not None:
            self._act(previous, decision)
        with self.round_done:
            self.rounds += 1
            self.round_done.notify_all()

    def _probe(self, targets: list[tuple[str, str, int]]) -> dict[tuple[str, str, int], bool] | None:
        if not targets:
            return {}
        if self._pool is None or self._stop.is_set():
            return None
        try:
            futures = [(target, self._pool.submit(self._reaches, target[1], target[2])) for target in targets]
            return {target: future.result() for target, future in futures}
        except (RuntimeError, CancelledError):  # the pool is shutting down
            return None

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

    def _act(self, previous: Decision, decision: Decision) -> None:
        """Log what changed and hand the snapshot what differs from the decision."""
        if decision.holding != previous.holding:
            if decision.holding:
                log.warning(HOLDING, extra={"fields": {
                    "down": sorted(n for n, h in decision.clusters.items() if h.down),
                    "probed": len(decision.clusters)}})
            else:
                log.info("hub reaches most gateways again; withdrawing per cluster")
        for name in sorted(decision.withdrawn ^ previous.withdrawn):
            withdrawn = name in decision.withdrawn
            (log.warning if withdrawn else log.info)(
                "gateway withdrawn" if withdrawn else "gateway restored", extra={"fields": {
                    "cluster": name, "withdraw_after": self.bounds.withdraw_after}})
        changes = tuple(GatewayChange(name, name not in decision.withdrawn)
                        for name, info in sorted(self.hub.snapshot.clusters.items())
                        if info.gateway_reachable == (name in decision.withdrawn))
        if changes:
            self.hub.submit(ChangeSet(changes, observed_at=time.monotonic(), sources=("gateway-prober",)))

    # -- what status, metrics and the dashboard read ------------------------------
    def report(self) -> tuple[dict[str, GatewayReport], str]:
        """Per probed cluster its gateway's state, and the hub-wide note ("" or
        ``HOLDING``) while the majority guard keeps every cluster's entries."""
        with self._lock:
            decision, results = self._decision, dict(self._results)
        offset = time.time() - time.monotonic()
        if self.bounds is None:  # probing only: reachable when any address answered
            per: dict[str, bool] = {}
            for (cluster, _), ok in results.items():
                per[cluster] = per.get(cluster, False) or ok
            return {c: GatewayReport("reachable" if ok else "unreachable") for c, ok in per.items()}, ""
        out = {}
        for name, health in decision.clusters.items():
            since = health.failing_since + offset if health.failing_since is not None else None
            out[name] = GatewayReport(decision.state(name), since)
        return out, HOLDING if decision.holding else ""

    def observe(self):
        with self._lock:
            results = dict(self._results)
        return [(1.0 if ok else 0.0, {"cluster": cluster, "gateway": gateway})
                for (cluster, gateway), ok in sorted(results.items())]

    def observe_withdrawn(self):
        """``federation_cluster_withdrawn``: 1 per probed cluster withdrawn, else 0."""
        with self._lock:
            decision = self._decision
        withdrawn = decision.withdrawn
        return [(1.0 if name in withdrawn else 0.0, {"cluster": name}) for name in sorted(decision.clusters)]
