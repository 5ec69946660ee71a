"""The hub's metrics and tracer; with ``exporting`` (OTLP), the only modules that import OpenTelemetry."""

from __future__ import annotations

import contextlib
import logging
import threading
from typing import Callable, Iterable

from opentelemetry import trace
from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.view import ExplicitBucketHistogramAggregation, View
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from prometheus_client import CollectorRegistry, generate_latest, start_http_server

from federation import __version__, errors
from federation.check.reasons import error_reason

log = logging.getLogger(__name__)

LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 2, 5, 10, 30)

Gauges = Callable[[], Iterable[tuple[float, dict]]]


class QuietTracer:
    """The tracer while spans go nowhere. OpenTelemetry's no-op tracer still attaches
    and detaches a context per span, tens of µs on every push pass and every target's
    render; this one hands out one shared non-recording span and touches no context."""

    def start_as_current_span(self, name: str, *args, **kwargs):
        return _QUIET_SPAN


_QUIET_SPAN = contextlib.nullcontext(trace.INVALID_SPAN)  # stateless: entered by any thread, any number of times


class Telemetry:
    def __init__(self, service_name: str = "mesh-federation", otlp_endpoint: str = "", otlp_ca_file: str = ""):
        resource = Resource.create({"service.name": service_name, "service.version": __version__})
        self.registry = CollectorRegistry()
        self._reader = PrometheusMetricReader(registry=self.registry)
        self._meters = MeterProvider(
            resource=resource, metric_readers=[self._reader],
            views=[View(instrument_name="federation_propagation_latency_seconds",
                        aggregation=ExplicitBucketHistogramAggregation(LATENCY_BUCKETS))],
        )
        # Spans are recorded only when they are exported: with nowhere to send them, the quiet
        # tracer keeps each push pass and render from paying for a span nobody reads.
        self._traces = TracerProvider(resource=resource)
        self.tracer = QuietTracer()
        if otlp_endpoint:
            from federation.telemetry.exporting import span_processor  # OTLP is an optional extra

            self._traces.add_span_processor(span_processor(otlp_endpoint, otlp_ca_file))
            self.tracer = self._traces.get_tracer("federation")
        meter = self._meters.get_meter("federation")
        self._sources: dict[str, Gauges] = {}
        self._lock = threading.Lock()
        self.pushes = meter.create_counter(
            "federation_pushes", unit="1", description="Cluster pushes by result")
        self.writes = meter.create_counter(
            "federation_api_writes", unit="1", description="Objects written to member clusters")
        self.propagation = meter.create_histogram(
            "federation_propagation_latency_seconds", unit="s",
            description="Change observed in a source cluster until applied in a target cluster")
        self.refusals = meter.create_counter(
            "federation_refusals", unit="1", description="Refused requests by reason")
        for name, description in (
            ("federation_clusters", "Member clusters by state"),
            ("federation_services", "Federated services"),
            ("federation_endpoints", "Ready endpoints by cluster"),
            ("federation_cert_expiry_seconds", "Seconds until a CA certificate expires"),
            ("federation_vms", "Registered VM workloads"),
            ("federation_cluster_state", "1 for each member cluster's current state"),
            ("federation_cluster_last_sync_timestamp_seconds",
             "Unix time a push pass last left the cluster synced with no error"),
            ("federation_gateway_reachable", "1 when the hub reached an east-west gateway's 15443, else 0"),
            ("federation_cluster_withdrawn",
             "1 while a cluster is withdrawn from the others' entries (its gateway stopped answering)"),
        ):
            meter.create_observable_gauge(name, callbacks=[self._callback(name)],
                                          description=description)
        self.push_errors = meter.create_counter(
            "federation_push_errors", unit="1", description="Failed member API calls by cluster and reason")
        self._failures: dict[str, int] = {}
        self.last_sync: dict[str, float] = {}
        self._server = None

    def observe_push(self, status) -> None:
        """Record a pusher's new status: failures by reason, and the last successful sync."""
        with self._lock:
            before = self._failures.get(status.cluster, 0)
            self._failures[status.cluster] = status.failures
            if status.synced and not status.errors and status.last_push:
                self.last_sync[status.cluster] = status.last_push
        if status.failures > before:
            reason = error_reason(status.errors[-1] if status.errors else "")
            self.push_errors.add(status.failures - before, {"cluster": status.cluster, "reason": reason})

    def forget_cluster(self, cluster: str) -> None:
        with self._lock:
            self._failures.pop(cluster, None)
            self.last_sync.pop(cluster, None)

    def gauge(self, name: str, source: Gauges) -> None:
        """Set the function that yields (value, attributes) for an observable gauge."""
        with self._lock:
            self._sources[name] = source

    def _callback(self, name: str):
        def observe(_options: CallbackOptions) -> Iterable[Observation]:
            with self._lock:
                source = self._sources.get(name)
            if source is None:
                return []
            try:
                return [Observation(value, attrs) for value, attrs in source()]
            except Exception:  # noqa: BLE001 - a metrics scrape must never fail the hub
                log.exception("metric source failed", extra={"fields": {"metric": name}})
                return []
        return observe

    def serve(self, address: str) -> int:
        """Expose /metrics on ``host:port``; returns the bound port."""
        host, _, port = address.rpartition(":")
        try:
            self._server, _thread = start_http_server(int(port), addr=host or "0.0.0.0",
                                                      registry=self.registry)
        except (OSError, ValueError) as exc:
            raise errors.ConfigError(f"metrics address {address!r}: {exc}") from exc
        return self._server.server_address[1]

    def scrape(self) -> str:
        return generate_latest(self.registry).decode()

    def shutdown(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        self._meters.shutdown(timeout_millis=2000)
        self._traces.shutdown()
