"""OTLP/protobuf and OTLP/JSON decoding of metrics exports, and bounded gunzip."""

import base64
import json
import zlib
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)

from .errors import malformed, too_large

PROTOBUF, JSON = "protobuf", "json"

POINT_KINDS = ("gauge", "sum", "histogram", "exponential_histogram", "summary")


def decode(body: bytes, encoding: str) -> ExportMetricsServiceRequest:
    """Parse a request body; raises a MALFORMED ReceiveError naming the problem."""
    request = ExportMetricsServiceRequest()
    if encoding == PROTOBUF:
        try:
            request.ParseFromString(body)
        except DecodeError as exc:
            raise malformed(f"not a valid OTLP/protobuf metrics request: {exc}") from None
        return request
    return _decode_json(body, request)


def _decode_json(body: bytes, request: ExportMetricsServiceRequest):
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise malformed(f"not valid JSON: {exc}") from None
    except RecursionError:
        raise malformed("JSON nested too deep to be an OTLP request") from None
    if not isinstance(data, dict):
        raise malformed("an OTLP/JSON request must be an object with resourceMetrics")
    try:
        _hex_ids_to_base64(data)
        json_format.ParseDict(data, request, ignore_unknown_fields=True)
    except (json_format.ParseError, ValueError, TypeError) as exc:
        raise malformed(f"not a valid OTLP/JSON metrics request: {exc}") from None
    except RecursionError:
        raise malformed("JSON nested too deep to be an OTLP request") from None
    return request


def _hex_ids_to_base64(data: dict[str, Any]) -> None:
    # OTLP/JSON writes trace and span ids as hex, protobuf's JSON mapping expects base64.
    for exemplar in _exemplars(data):
        for key in ("traceId", "trace_id", "spanId", "span_id"):
            value = exemplar.get(key)
            if isinstance(value, str):
                try:
                    exemplar[key] = base64.b64encode(bytes.fromhex(value)).decode()
                except ValueError:
                    raise malformed(f"exemplar {key} {value!r} is not hex") from None


def _exemplars(data: dict[str, Any]):
    for rm in _list(data, "resourceMetrics", "resource_metrics"):
        for sm in _list(rm, "scopeMetrics", "scope_metrics"):
            for metric in _list(sm, "metrics"):
                for kind in ("gauge", "sum", "histogram", "exponentialHistogram"):
                    body = metric.get(kind) if isinstance(metric, dict) else None
                    for point in _list(body, "dataPoints", "data_points"):
                        yield from (e for e in _list(point, "exemplars") if isinstance(e, dict))


def _list(obj: Any, *keys: str) -> list:
    if not isinstance(obj, dict):
        return []
    for key in keys:
        value = obj.get(key)
        if isinstance(value, list):
            return value
    return []


def count_points(request: ExportMetricsServiceRequest) -> int:
    """How many data points a request carries."""
    total = 0
    for rm in request.resource_metrics:
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                kind = metric.WhichOneof("data")
                if kind:
                    total += len(getattr(metric, kind).data_points)
    return total


def gunzip(body: bytes, limit: int) -> bytes:
    """Decompress gzip without ever holding more than ``limit`` + 1 bytes."""
    inflater = zlib.decompressobj(wbits=31)
    try:
        out = inflater.decompress(body, limit + 1)
    except zlib.error as exc:
        raise malformed(f"body is not valid gzip: {exc}") from None
    if len(out) > limit:
        raise too_large(len(out), limit)
    if not inflater.eof:
        raise malformed("gzip body is truncated")
    return out
