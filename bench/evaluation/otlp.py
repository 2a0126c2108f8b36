"""OTLP export requests built straight from cumulative state, as the SDK would encode them.

Recording every operation through the OpenTelemetry SDK costs more than the
sidecar's whole handling of the export, which kept the evaluation small. This
builds the same request — the same metric names, attributes, bucket bounds,
cumulative temporality and start time — from running totals per stream,
and the tests check that a sidecar reads the same vitals from both.
"""

import bisect

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.metrics.v1.metrics_pb2 import AggregationTemporality

from immune_demo.emitter import DURATION_BUCKETS, TOKEN_BUCKETS

CUMULATIVE = AggregationTemporality.AGGREGATION_TEMPORALITY_CUMULATIVE
SCOPE = "immune-eval"
# The SDK's own buckets, where an instrumentation advises none (OpenLLMetry's durations).
SDK_DEFAULT_BUCKETS = [0.0, 5.0, 10.0, 25.0, 50.0, 75.0, 100.0, 250.0, 500.0, 750.0, 1000.0,
                       2500.0, 5000.0, 7500.0, 10000.0]  # fmt: skip
UNITS = {
    "gen_ai.client.operation.duration": ("s", DURATION_BUCKETS),
    "gen_ai.client.token.usage": ("{token}", TOKEN_BUCKETS),
    "gen_ai.execute_tool.duration": ("s", DURATION_BUCKETS),
    "mcp.client.operation.duration": ("s", DURATION_BUCKETS),
    "http.client.request.duration": ("s", DURATION_BUCKETS),
}


class _Stream:
    __slots__ = ("buckets", "count", "max", "min", "total")

    def __init__(self, bounds: list[float]) -> None:
        self.count, self.total = 0, 0.0
        self.min, self.max = float("inf"), float("-inf")
        self.buckets = [0] * (len(bounds) + 1)


class OtlpRecorder:
    """Cumulative histograms of one agent, encoded as an ExportMetricsServiceRequest."""

    def __init__(self, resource: dict[str, str], start_nanos: int = 1, advised=True) -> None:
        """``advised``: call durations on the conventions' buckets, else the SDK's defaults."""
        self._resource = [_kv(k, v) for k, v in resource.items()]
        self._start = start_nanos
        self._streams: dict[str, dict[tuple, _Stream]] = {name: {} for name in UNITS}
        self._bounds = {name: bounds for name, (_, bounds) in UNITS.items()}
        if not advised:
            self._bounds["gen_ai.client.operation.duration"] = SDK_DEFAULT_BUCKETS

    def set_resource(self, resource: dict[str, str]) -> None:
        """Change the resource attributes (a deploy); the streams go on."""
        self._resource = [_kv(k, v) for k, v in resource.items()]

    def record(self, metric: str, value: float, attrs: tuple[tuple[str, object], ...]) -> None:
        """One measurement, as ``Histogram.record`` would take it."""
        bounds = self._bounds[metric]
        stream = self._streams[metric].get(attrs)
        if stream is None:
            stream = self._streams[metric][attrs] = _Stream(bounds)
        stream.count += 1
        stream.total += value
        stream.min, stream.max = min(stream.min, value), max(stream.max, value)
        stream.buckets[bisect.bisect_left(bounds, value)] += 1

    def export(self, now_nanos: int) -> bytes:
        """Every stream recorded so far, cumulative since the start, as protobuf bytes."""
        request = ExportMetricsServiceRequest()
        rm = request.resource_metrics.add()
        rm.resource.attributes.extend(self._resource)
        sm = rm.scope_metrics.add()
        sm.scope.name = SCOPE
        for name, streams in self._streams.items():
            if streams:
                self._metric(sm.metrics.add(), name, streams, now_nanos)
        return request.SerializeToString()

    def _metric(self, metric, name: str, streams: dict[tuple, _Stream], now: int) -> None:
        unit, bounds = UNITS[name][0], self._bounds[name]
        metric.name, metric.unit = name, unit
        metric.histogram.aggregation_temporality = CUMULATIVE
        for attrs, s in streams.items():
            point = metric.histogram.data_points.add()
            point.attributes.extend(_kv(k, v) for k, v in attrs)
            point.start_time_unix_nano, point.time_unix_nano = self._start, now
            point.count, point.sum, point.min, point.max = s.count, s.total, s.min, s.max
            point.bucket_counts.extend(s.buckets)
            point.explicit_bounds.extend(bounds)


def _kv(key: str, value: object) -> KeyValue:
    if isinstance(value, bool):
        return KeyValue(key=key, value=AnyValue(bool_value=value))
    if isinstance(value, int):
        return KeyValue(key=key, value=AnyValue(int_value=value))
    if isinstance(value, float):
        return KeyValue(key=key, value=AnyValue(double_value=value))
    return KeyValue(key=key, value=AnyValue(string_value=str(value)))
