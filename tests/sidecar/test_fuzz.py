"""Property-based fuzzing of the OTLP receiver over real gRPC and HTTP, protobuf and JSON.

Inputs are random bytes, random JSON, structured requests with hostile values,
and real SDK payloads with bytes flipped, cut or inserted. Every answer must be
a proper OTLP status, the sidecar must stay up, and its memory must stay bounded.
"""

import json
import math

import grpc
import pytest
from google.protobuf import json_format
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.exporter.otlp.proto.common.metrics_encoder import encode_metrics
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.sdk.metrics.export import MetricExporter, MetricExportResult

from immune_demo.emitter import Emitter
from tests.support.agents import Profile
from tests.support.otlp import grpc_export, http_post
from tests.support.sidecar import get_json, rss_mb, start_sidecar

GRPC_OK = {grpc.StatusCode.OK, grpc.StatusCode.INVALID_ARGUMENT}
HTTP_OK = {200, 400}
FUZZ = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,  # the same inputs in every run, so CI is reproducible
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
METRICS = [
    "gen_ai.client.token.usage",
    "gen_ai.client.operation.duration",
    "gen_ai.execute_tool.duration",
    "mcp.client.operation.duration",
    "http.client.request.duration",
    "gen_ai.invoke_agent.tool_calls",
]


@pytest.fixture(scope="module")
def sidecar():
    running = start_sidecar(max_requests_per_second=0, max_message_bytes=256 * 1024, max_agents=500)
    running.rss_at_start = rss_mb()
    yield running
    running.stop()


class _Capture(MetricExporter):
    """Keeps the protobuf bytes the OTLP exporters would have sent."""

    def __init__(self) -> None:
        super().__init__()
        self.bodies: list[bytes] = []

    def export(self, metrics_data, timeout_millis: float = 10_000, **kwargs):
        self.bodies.append(encode_metrics(metrics_data).SerializeToString())
        return MetricExportResult.SUCCESS

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return True

    def shutdown(self, timeout_millis: float = 30_000, **kwargs) -> None:
        pass


def _real_payloads() -> list[bytes]:
    capture = _Capture()
    agent = Emitter("fuzz-agent", capture, seed=3)
    for _ in range(3):
        agent.interval(Profile())
    agent.close()
    return capture.bodies


REAL = _real_payloads()


def check(sidecar, body: bytes, json_body: bytes | None = None) -> None:
    """Send ``body`` both ways (and ``json_body`` as JSON); every answer is a proper status."""
    code, details, _, _ = grpc_export(sidecar.ports["otlp_grpc"], body)
    assert code in GRPC_OK, (code, details)
    status, _, _ = http_post(sidecar.ports["otlp_http"], body)
    assert status in HTTP_OK, status
    if json_body is not None:
        status, _, _ = http_post(sidecar.ports["otlp_http"], json_body, "application/json")
        assert status in HTTP_OK, status


@FUZZ
@given(st.binary(max_size=2048))
def test_random_bytes(sidecar, body):
    check(sidecar, body, body)


json_values = st.recursive(
    st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner),
    max_leaves=20,
)
otlp_keys = st.sampled_from(
    ["resourceMetrics", "scopeMetrics", "metrics", "name", "sum", "gauge", "histogram",
     "dataPoints", "asDouble", "asInt", "attributes", "resource", "timeUnixNano", "count"]
)  # fmt: skip
otlp_shaped = st.recursive(
    json_values, lambda inner: st.dictionaries(otlp_keys, inner, max_size=4), max_leaves=30
)


@FUZZ
@given(otlp_shaped)
def test_random_json_shaped_like_otlp(sidecar, document):
    body = json.dumps(document, allow_nan=True).encode()
    status, _, _ = http_post(sidecar.ports["otlp_http"], body, "application/json")
    assert status in HTTP_OK, status


def _value(v) -> AnyValue:
    if isinstance(v, bool):
        return AnyValue(bool_value=v)
    if isinstance(v, int):
        return AnyValue(int_value=v)
    if isinstance(v, float):
        return AnyValue(double_value=v)
    return AnyValue(string_value=v)


attribute_values = (
    st.text(max_size=30)
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=True)
)
attributes = st.dictionaries(
    st.sampled_from(["gen_ai.agent.id", "gen_ai.request.model", "gen_ai.tool.name",
                     "gen_ai.token.type", "error.type", "server.address"]) | st.text(max_size=10),
    attribute_values,
    max_size=5,
)  # fmt: skip
numbers = st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from(
    [0.0, -1.0, 1e308, -1e308, math.nan]
)


@st.composite
def requests(draw) -> ExportMetricsServiceRequest:
    """A structurally valid request whose names, kinds, values and attributes are hostile."""
    request = ExportMetricsServiceRequest()
    for _ in range(draw(st.integers(0, 3))):
        rm = request.resource_metrics.add()
        for key, value in draw(attributes).items():
            rm.resource.attributes.append(KeyValue(key=key, value=_value(value)))
        metric = rm.scope_metrics.add().metrics.add()
        metric.name = draw(st.sampled_from(METRICS) | st.text(max_size=40))
        kind = draw(st.sampled_from(["gauge", "sum", "histogram", "exponential_histogram"]))
        for _ in range(draw(st.integers(0, 4))):
            _point(draw, metric, kind)
    return request


def _point(draw, metric, kind: str) -> None:
    container = getattr(metric, kind)
    point = container.data_points.add()
    for key, value in draw(attributes).items():
        point.attributes.append(KeyValue(key=key, value=_value(value)))
    point.time_unix_nano = draw(st.integers(0, 2**64 - 1))
    point.start_time_unix_nano = draw(st.integers(0, 2**64 - 1))
    if kind == "histogram":
        point.count = draw(st.integers(0, 2**64 - 1))
        point.sum = draw(numbers)
        bounds = draw(st.lists(numbers, max_size=4))
        point.explicit_bounds.extend(bounds)
        point.bucket_counts.extend(draw(st.lists(st.integers(0, 2**64 - 1), max_size=6)))
        container.aggregation_temporality = draw(st.integers(0, 2))
    elif kind == "exponential_histogram":
        _exponential(draw, point)
        container.aggregation_temporality = draw(st.integers(0, 2))
    elif draw(st.booleans()):
        point.as_double = draw(numbers)
    else:
        point.as_int = draw(st.integers(-(2**63), 2**63 - 1))
    if kind == "sum":
        container.aggregation_temporality = draw(st.integers(0, 2))
        container.is_monotonic = draw(st.booleans())


def _exponential(draw, point) -> None:
    point.count = draw(st.integers(0, 2**64 - 1))
    point.sum = draw(numbers)
    point.scale = draw(st.integers(-(2**31), 2**31 - 1) | st.integers(-12, 22))
    point.zero_count = draw(st.integers(0, 2**64 - 1))
    for side in (point.positive, point.negative):
        side.offset = draw(st.integers(-(2**31), 2**31 - 1))
        side.bucket_counts.extend(draw(st.lists(st.integers(0, 2**64 - 1), max_size=6)))


@FUZZ
@given(requests())
def test_structured_requests_with_hostile_values(sidecar, request):
    body = request.SerializeToString()
    as_json = json.dumps(json_format.MessageToDict(request), allow_nan=True).encode()
    check(sidecar, body, as_json)


@FUZZ
@given(
    st.sampled_from(range(len(REAL))),
    st.lists(st.tuples(st.sampled_from(["flip", "cut", "insert"]), st.integers(0, 10**6),
                       st.integers(0, 255)), min_size=1, max_size=6),
)  # fmt: skip
def test_mutated_real_sdk_payloads(sidecar, which, mutations):
    body = bytearray(REAL[which])
    for kind, at, byte in mutations:
        at %= max(1, len(body))
        if kind == "flip" and body:
            body[at] ^= byte or 1
        elif kind == "cut":
            del body[at:]
        else:
            body[at:at] = bytes([byte])
    check(sidecar, bytes(body))


def _raw_http(port: int, head: bytes, body: bytes) -> list[bytes]:
    """Status lines of the answers to hand-written request bytes (the server closes)."""
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(head + body)
        conn.shutdown(socket.SHUT_WR)
        received = b""
        while chunk := conn.recv(65536):
            received += chunk
    return [line for line in received.split(b"\r\n") if line.startswith(b"HTTP/1.")]


CHUNKED_HEAD = (
    b"POST /v1/metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
    b"Content-Type: application/x-protobuf\r\nTransfer-Encoding: chunked\r\n\r\n"
)


@FUZZ
@given(st.sampled_from(range(len(REAL))), st.lists(st.integers(1, 4096), min_size=1, max_size=20))
def test_real_payloads_in_random_chunks_are_read_whole(sidecar, which, sizes):
    body, framed, at = REAL[which], b"", 0
    for size in sizes * (len(REAL[which]) // sum(sizes) + 1):
        part = body[at : at + size]
        at += size
        if part:
            framed += b"%x\r\n%s\r\n" % (len(part), part)
    answers = _raw_http(sidecar.ports["otlp_http"], CHUNKED_HEAD, framed + b"0\r\n\r\n")
    assert [a.split(b" ")[1] for a in answers] == [b"200"]


@FUZZ
@given(st.binary(max_size=4096))
def test_random_bytes_as_a_chunked_body_get_one_proper_answer(sidecar, body):
    answers = _raw_http(sidecar.ports["otlp_http"], CHUNKED_HEAD, body)
    assert len(answers) <= 1
    assert all(a.split(b" ")[1] in (b"200", b"400", b"413") for a in answers)


@FUZZ
@given(st.integers(1, 200_000), st.sampled_from([b"[", b'{"a":', b'{"resourceMetrics":[']))
def test_json_nested_at_any_depth_is_answered(sidecar, depth, opener):
    closer = {b"[": b"]", b'{"a":': b"}", b'{"resourceMetrics":[': b"]}"}[opener]
    depth = min(depth, 250_000 // len(opener + closer))  # within the sidecar's 256 KiB
    body = opener * depth + b"1" + closer * depth
    status, _, _ = http_post(sidecar.ports["otlp_http"], body, "application/json")
    assert status in (*HTTP_OK, 413)


def test_the_sidecar_is_up_and_bounded_after_the_fuzzing(sidecar):
    """Runs last in this module: health, a real export still accepted, memory bounded."""
    for body in REAL:
        assert grpc_export(sidecar.ports["otlp_grpc"], body)[0] == grpc.StatusCode.OK
    assert get_json(sidecar.ports["admin"], "/healthz")[0] == 200
    assert len(sidecar.agents.records()) <= 500
    assert rss_mb() - sidecar.rss_at_start < 100
