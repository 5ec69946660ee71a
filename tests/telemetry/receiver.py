"""An in-process OTLP trace receiver: the collector's TraceService over gRPC on loopback,
keeping every span it is sent, for tests to wait on."""

from __future__ import annotations

import threading
import time
from concurrent import futures

import grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc


class Receiver(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self):
        self.spans: list[dict] = []
        self._changed = threading.Condition()
        self._executor = futures.ThreadPoolExecutor(max_workers=2, thread_name_prefix="otlp-rx")
        self._server = grpc.server(self._executor)
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(self, self._server)
        self.port = self._server.add_insecure_port("127.0.0.1:0")

    def Export(self, request, context):
        found = []
        for resource_spans in request.resource_spans:
            service = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
            for scope in resource_spans.scope_spans:
                for span in scope.spans:
                    found.append({"name": span.name, "service": service.get("service.name"),
                                  "trace_id": span.trace_id.hex(), "span_id": span.span_id.hex(),
                                  "parent_id": span.parent_span_id.hex(),
                                  "links": [(link.trace_id.hex(), link.span_id.hex()) for link in span.links],
                                  "attributes": {a.key: _value(a.value) for a in span.attributes}})
        with self._changed:
            self.spans.extend(found)
            self._changed.notify_all()
        return trace_service_pb2.ExportTraceServiceResponse()

    def wait_for(self, condition, timeout: float = 20.0):
        """Wait until ``condition(spans)`` is truthy; returns it, or fails naming what came."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = condition(list(self.spans))
                if found:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    names = sorted({s["name"] for s in self.spans})
                    raise AssertionError(f"no such spans within {timeout}s; received: {names}")
                self._changed.wait(left)

    def __enter__(self):
        self._server.start()
        return self

    def __exit__(self, *exc):
        self._server.stop(grace=1).wait(5)
        self._executor.shutdown(wait=True, cancel_futures=True)


def _value(value):
    kind = value.WhichOneof("value")
    return getattr(value, kind) if kind else None
