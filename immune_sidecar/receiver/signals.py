"""The three OTLP signals the receiver takes: metrics, traces and logs.

One value per signal holds what the transports and the codec need to know
about it, so a signal is added here and nowhere else.
"""

import dataclasses
from collections.abc import Callable

from opentelemetry.proto.collector.logs.v1 import logs_service_pb2 as logs
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2 as metrics
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2 as traces


@dataclasses.dataclass(frozen=True)
class Signal:
    """One OTLP signal: its HTTP path, gRPC service, messages and how to count its items."""

    name: str
    path: str
    service: str
    request: type
    response: type
    partial_success: type
    rejected_field: str
    count: Callable[[object], int]


def _count_points(request) -> int:
    total = 0
    for rm in request.resource_metrics:
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                kind = metric.WhichOneof("data")
                if kind:
                    total += len(getattr(metric, kind).data_points)
    return total


def _count_spans(request) -> int:
    return sum(len(ss.spans) for rs in request.resource_spans for ss in rs.scope_spans)


def _count_log_records(request) -> int:
    return sum(len(sl.log_records) for rl in request.resource_logs for sl in rl.scope_logs)


METRICS = Signal(
    "metrics",
    "/v1/metrics",
    "opentelemetry.proto.collector.metrics.v1.MetricsService",
    metrics.ExportMetricsServiceRequest,
    metrics.ExportMetricsServiceResponse,
    metrics.ExportMetricsPartialSuccess,
    "rejected_data_points",
    _count_points,
)
TRACES = Signal(
    "traces",
    "/v1/traces",
    "opentelemetry.proto.collector.trace.v1.TraceService",
    traces.ExportTraceServiceRequest,
    traces.ExportTraceServiceResponse,
    traces.ExportTracePartialSuccess,
    "rejected_spans",
    _count_spans,
)
LOGS = Signal(
    "logs",
    "/v1/logs",
    "opentelemetry.proto.collector.logs.v1.LogsService",
    logs.ExportLogsServiceRequest,
    logs.ExportLogsServiceResponse,
    logs.ExportLogsPartialSuccess,
    "rejected_log_records",
    _count_log_records,
)
SIGNALS = (METRICS, TRACES, LOGS)
BY_PATH = {s.path: s for s in SIGNALS}


def partial_response(signal: Signal, rejected: int, message: str):
    """The signal's Export response, with a partial success when items were rejected."""
    response = signal.response()
    if rejected:
        partial = signal.partial_success(error_message=message)
        setattr(partial, signal.rejected_field, rejected)
        response.partial_success.CopyFrom(partial)
    return response
