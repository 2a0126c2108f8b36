"""OTLP/protobuf and OTLP/JSON decoding of exports of any signal, and bounded gunzip."""

import base64
import json
import zlib
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import DecodeError

from .errors import malformed, too_large
from .signals import METRICS, Signal

PROTOBUF, JSON = "protobuf", "json"

POINT_KINDS = ("gauge", "sum", "histogram", "exponential_histogram", "summary")


def decode(body: bytes, encoding: str, signal: Signal = METRICS):
    """Parse a request body; raises a MALFORMED ReceiveError naming the problem."""
    request = signal.request()
    if encoding == PROTOBUF:
        try:
            request.ParseFromString(body)
        except DecodeError as exc:
            raise malformed(f"not a valid OTLP/protobuf {signal.name} request: {exc}") from None
        return request
    return _decode_json(body, request, signal)


def _decode_json(body: bytes, request, signal: Signal):
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise malformed(f"not valid JSON: {exc}") from None
    except RecursionError:
        raise malformed("JSON nested too deep to be an OTLP request") from None
    if not isinstance(data, dict):
        raise malformed(f"an OTLP/JSON request must be an object with resource{signal.name}")
    try:
        _hex_ids_to_base64(_id_holders(data, signal))
        json_format.ParseDict(data, request, ignore_unknown_fields=True)
    except (json_format.ParseError, ValueError, TypeError) as exc:
        raise malformed(f"not a valid OTLP/JSON {signal.name} request: {exc}") from None
    except RecursionError:
        raise malformed("JSON nested too deep to be an OTLP request") from None
    return request


ID_KEYS = ("traceId", "trace_id", "spanId", "span_id", "parentSpanId", "parent_span_id")


def _hex_ids_to_base64(holders) -> None:
    # OTLP/JSON writes trace and span ids as hex, protobuf's JSON mapping expects base64.
    for holder in holders:
        for key in ID_KEYS:
            value = holder.get(key)
            if isinstance(value, str):
                try:
                    holder[key] = base64.b64encode(bytes.fromhex(value)).decode()
                except ValueError:
                    raise malformed(f"{key} {value[:40]!r} is not hex") from None


def _id_holders(data: dict[str, Any], signal: Signal):
    """The objects of a request that carry trace or span ids."""
    if signal is METRICS:
        yield from _exemplars(data)
        return
    kind = "Spans" if signal.name == "traces" else "Logs"
    items = "spans" if signal.name == "traces" else "logRecords"
    for resource in _list(data, f"resource{kind}"):
        for scope in _list(resource, f"scope{kind}"):
            for item in _list(scope, items):
                if isinstance(item, dict):
                    yield item
                    yield from (link for link in _list(item, "links") if isinstance(link, dict))


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
