"""Telemetry: OpenTelemetry tracing and metrics, exported for Prometheus.

Each hub owns its own providers and Prometheus registry, so several hubs can run
in one process (tests) without sharing instruments.
"""

from federation.telemetry.instruments import Telemetry  # noqa: F401
