"""Traces and logs sent to the sidecar (as when OTEL_EXPORTER_OTLP_ENDPOINT covers every
signal): the official SDK's exporters over real gRPC and HTTP get success, the items are
counted and teed upstream unchanged; bad, oversized and huge span requests get proper
answers with nothing lost and memory bounded."""

import time

import grpc
import pytest
from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter as GrpcLogs
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcSpans
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter as HttpLogs
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpSpans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from tests.support.otlp import http_post
from tests.support.sidecar import get_json, metric, rss_mb, start_sidecar

TRACE_SERVICE = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"


def exporters(sidecar, transport: str):
    if transport == "grpc":
        endpoint = f"127.0.0.1:{sidecar.ports['otlp_grpc']}"
        return GrpcSpans(endpoint=endpoint, insecure=True), GrpcLogs(
            endpoint=endpoint, insecure=True
        )
    base = f"http://127.0.0.1:{sidecar.ports['otlp_http']}"
    return HttpSpans(endpoint=f"{base}/v1/traces"), HttpLogs(endpoint=f"{base}/v1/logs")


def emit(span_exporter, log_exporter, spans: int = 3) -> None:
    resource = Resource.create({"service.name": "signals-agent"})
    tracing = TracerProvider(resource=resource)
    tracing.add_span_processor(SimpleSpanProcessor(span_exporter))
    tracer = tracing.get_tracer("test")
    with tracer.start_as_current_span("invoke_agent planner"):
        for n in range(spans - 1):
            with tracer.start_as_current_span(f"chat gpt-4o-mini {n}") as span:
                span.set_attribute("gen_ai.operation.name", "chat")
    logging_ = LoggerProvider(resource=resource)
    logging_.add_log_record_processor(SimpleLogRecordProcessor(log_exporter))
    logging_.get_logger("test").emit(body="a log line from the agent")
    tracing.shutdown()
    logging_.shutdown()


@pytest.mark.parametrize("transport", ["grpc", "http"])
def test_sdk_traces_and_logs_are_taken_counted_and_teed_upstream(transport):
    upstream = start_sidecar()
    front = start_sidecar(forward=f"grpc://127.0.0.1:{upstream.ports['otlp_grpc']}")
    try:
        span_exporter, log_exporter = exporters(front, transport)
        results = []
        for exporter in (span_exporter, log_exporter):
            original = exporter.export
            exporter.export = lambda batch, _o=original, **kw: (
                results.append(_o(batch, **kw)) or results[-1]
            )
        emit(span_exporter, log_exporter)
        assert results and all(r.name == "SUCCESS" for r in results)
        assert (
            metric(front, "immune_sidecar_spans_total", transport=transport, outcome="accepted")
            == 3
        )
        assert (
            metric(
                front, "immune_sidecar_log_records_total", transport=transport, outcome="accepted"
            )
            == 1
        )

        def upstream_has(counter: str, n: int) -> bool:
            return metric(upstream, counter, transport="grpc", outcome="accepted") == n

        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not (
            upstream_has("immune_sidecar_spans_total", 3)
            and upstream_has("immune_sidecar_log_records_total", 1)
        ):
            time.sleep(0.1)
        assert upstream_has("immune_sidecar_spans_total", 3)
        assert upstream_has("immune_sidecar_log_records_total", 1)
    finally:
        front.stop()
        upstream.stop()


def test_malformed_and_oversized_span_requests_get_proper_answers():
    sidecar = start_sidecar(max_message_bytes=64 * 1024, max_requests_per_second=0)
    try:
        port = sidecar.ports["otlp_http"]
        status, _, body = http_post(port, b"\x0a\xff\xff", path="/v1/traces")
        assert status == 400 and b"traces" in body
        status, _, _ = http_post(
            port, b'{"resourceSpans": 5}', "application/json", path="/v1/traces"
        )
        assert status == 400
        ids = (
            b'"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174",'
            b'"parentSpanId":"eee19b7ec3c1b173"'
        )
        hex_ids = b'{"resourceSpans":[{"scopeSpans":[{"spans":[{' + ids + b',"name":"chat"}]}]}]}'
        assert http_post(port, hex_ids, "application/json", path="/v1/traces")[0] == 200
        assert http_post(port, b"\n" * 100_000, path="/v1/traces")[0] == 413
        target = f"127.0.0.1:{sidecar.ports['otlp_grpc']}"
        with grpc.insecure_channel(target) as channel, pytest.raises(grpc.RpcError) as refused:
            channel.unary_unary(TRACE_SERVICE)(b"\x0a\xff\xff", timeout=10)
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert get_json(sidecar.ports["admin"], "/healthz")[0] == 200
    finally:
        sidecar.stop()


def test_a_hundred_thousand_spans_with_missing_parents_in_one_request_stay_bounded():
    sidecar = start_sidecar(max_message_bytes=16 * 1024 * 1024, max_requests_per_second=0)
    try:
        request = ExportTraceServiceRequest()
        resource_spans = request.resource_spans.add()
        resource_spans.resource.attributes.add(key="service.name").value.string_value = "fan-out"
        spans = resource_spans.scope_spans.add().spans
        for n in range(100_000):
            span = spans.add(
                name="execute_tool search", trace_id=b"t" * 16, span_id=n.to_bytes(8, "big")
            )
            span.parent_span_id = b"missing!"
        before = rss_mb()
        target = f"127.0.0.1:{sidecar.ports['otlp_grpc']}"
        big = [("grpc.max_send_message_length", 32 << 20)]
        with grpc.insecure_channel(target, options=big) as channel:
            channel.unary_unary(TRACE_SERVICE)(request.SerializeToString(), timeout=60)
        assert (
            metric(sidecar, "immune_sidecar_spans_total", transport="grpc", outcome="accepted")
            == 100_000
        )
        assert rss_mb() - before < 150
    finally:
        sidecar.stop()
