"""Exporting traces over OTLP/gRPC (``--otlp-endpoint``), from the optional extra
``mesh-federation[otlp]``. ``http://HOST:PORT`` sends in plaintext (a collector
beside the hub), ``https://HOST:PORT`` over TLS (system roots, or ``ca_file``)."""

from __future__ import annotations

from urllib.parse import urlsplit

from federation import errors

EXPORT_TIMEOUT_S = 5.0


def parse_endpoint(endpoint: str) -> tuple[str, bool]:
    """(``host:port``, insecure) of an OTLP endpoint URL, with a clear error for a bad one."""
    parts = urlsplit(endpoint if "://" in endpoint else f"//{endpoint}")
    if parts.scheme not in ("http", "https"):
        raise errors.ConfigError(f"OTLP endpoint {endpoint!r}: expected http://HOST:PORT or https://HOST:PORT")
    try:
        port = parts.port
    except ValueError:
        port = None
    if not parts.hostname or not port or parts.path not in ("", "/"):
        raise errors.ConfigError(f"OTLP endpoint {endpoint!r}: expected {parts.scheme}://HOST:PORT")
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{host}:{port}", parts.scheme == "http"


def span_processor(endpoint: str, ca_file: str = ""):
    """A batching span processor sending to ``endpoint``; its thread ends on shutdown."""
    target, insecure = parse_endpoint(endpoint)
    try:
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    except ImportError as exc:
        raise errors.ConfigError("--otlp-endpoint needs the OTLP exporter: "
                                 "pip install 'mesh-federation[otlp]'") from exc
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    credentials = None
    if not insecure and ca_file:
        import grpc

        try:
            with open(ca_file, "rb") as fh:
                credentials = grpc.ssl_channel_credentials(root_certificates=fh.read())
        except OSError as exc:
            raise errors.ConfigError(f"OTLP CA file {ca_file}: {exc.strerror}") from exc
    exporter = OTLPSpanExporter(endpoint=target, insecure=insecure, credentials=credentials,
                                timeout=EXPORT_TIMEOUT_S)
    return BatchSpanProcessor(exporter, schedule_delay_millis=500, export_timeout_millis=int(EXPORT_TIMEOUT_S * 1000))
