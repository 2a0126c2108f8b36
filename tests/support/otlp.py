"""Raw OTLP requests for the receiver tests: bytes over real gRPC and HTTP."""

import gzip as gzip_module
import http.client
import json

import grpc
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.metrics.v1 import metrics_pb2

METHOD = "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export"


def grpc_export(port: int, body: bytes, timeout: float = 30.0):
    """Send raw bytes to Export: (code, details, trailing metadata dict, response bytes)."""
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        call = channel.unary_unary(METHOD)
        try:
            response, info = call.with_call(body, timeout=timeout)
            return grpc.StatusCode.OK, "", dict(info.trailing_metadata() or ()), response
        except grpc.RpcError as exc:
            return exc.code(), exc.details(), dict(exc.trailing_metadata() or ()), b""


def http_post(
    port: int,
    body: bytes,
    content_type="application/x-protobuf",
    gzip=False,
    path="/v1/metrics",
    headers=None,
):
    """POST to the OTLP/HTTP receiver: (status, headers dict, body bytes)."""
    send = {"Content-Type": content_type, **(headers or {})}
    if gzip:
        body = gzip_module.compress(body)
        send["Content-Encoding"] = "gzip"
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("POST", path, body=body, headers=send)
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def attrs(**values) -> list[KeyValue]:
    """OTLP attributes from keyword arguments (dots written as __)."""
    out = []
    for key, value in values.items():
        key = key.replace("__", ".")
        if isinstance(value, str):
            out.append(KeyValue(key=key, value=AnyValue(string_value=value)))
        else:
            out.append(KeyValue(key=key, value=AnyValue(int_value=value)))
    return out


def gauge_request(
    points: list[tuple[dict, float]],
    service: str = "raw-agent",
    metric: str = "gen_ai.invoke_agent.tool_calls",
) -> ExportMetricsServiceRequest:
    """One resource with one gauge metric whose points carry the given attributes."""
    request = ExportMetricsServiceRequest()
    rm = request.resource_metrics.add()
    rm.resource.attributes.extend(attrs(service__name=service))
    m = rm.scope_metrics.add().metrics.add()
    m.name = metric
    for point_attrs, value in points:
        p = m.gauge.data_points.add()
        p.attributes.extend(attrs(**point_attrs))
        p.as_double = value
        p.time_unix_nano = 1
    return request


def histogram_metric(name: str) -> metrics_pb2.Metric:
    """An empty cumulative histogram metric."""
    m = metrics_pb2.Metric(name=name)
    m.histogram.aggregation_temporality = metrics_pb2.AGGREGATION_TEMPORALITY_CUMULATIVE
    return m


def json_body(request: ExportMetricsServiceRequest) -> bytes:
    """The OTLP/JSON encoding of a request."""
    from google.protobuf import json_format

    return json.dumps(json_format.MessageToDict(request)).encode()
