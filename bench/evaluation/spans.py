"""An agent that sends spans and no metrics, as stock instrumentations leave many.

OpenLLMetry's default, or openai-v2 with no meter provider, tell the sidecar of an
agent's work only through spans: one per LLM call (its model, tokens, finish reasons,
error), one per HTTP request under it (those beyond the first are the SDK's retries)
and, from an agent framework, one per tool execution. ``call_spans`` describes the
spans of one operation; ``SpanRecorder`` encodes them straight into the OTLP request
a batch span processor would send (fast), ``SdkSpanRecorder`` through the
OpenTelemetry SDK itself (for the test that compares them).
"""

import datetime
import itertools
import json
from typing import NamedTuple

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from immune_sidecar.receiver.signals import TRACES

from .otlp import SCOPE, _kv
from .workload import TOOL_SECONDS, Effect, Operation, Traits, model_of, resource

NANOS = 1_000_000_000
CALL_GAP_NANOS = 1_000_000  # between the ends of one export's calls
EPOCH = 1_700_000_000  # span times count from here: the simulated clock starts at 0


class SpanShape(NamedTuple):
    """One span of an operation: what it says, how long it took, which span is its parent."""

    name: str
    attributes: dict[str, object]
    seconds: float
    parent: int | None = None  # index of the parent among the operation's spans
    failed: bool = False
    client: bool = True  # a client span (an LLM call, a request) or an internal one (a tool)


def call_spans(traits: Traits, effect: Effect, op: Operation, n: int, end: int) -> list[SpanShape]:
    """The spans of an agent's ``n``-th operation, ending at ``end`` (ns since the Unix
    epoch): the LLM call, its HTTP requests, its tool executions."""
    model = model_of(traits, effect, op)
    chat: dict[str, object] = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": traits.provider,
        "gen_ai.request.model": model,
        "gen_ai.system_instructions": _instructions(traits, effect, n, end),
    }
    if op.failed:
        chat["error.type"] = "timeout"
    else:
        chat.update(_answer(model, op))
    spans = [SpanShape(f"chat {model}", chat, op.latency, failed=op.failed)]
    sends = 1 + op.retries
    for sent in range(sends):
        request = _request(traits.provider, sent)
        spans.append(SpanShape("POST", request, op.latency / sends, parent=0))
    tool = traits.tools[n % len(traits.tools)][0]
    execute = {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": tool}
    spans += [SpanShape(f"execute_tool {tool}", execute, TOOL_SECONDS, client=False)] * (
        op.tool_calls
    )
    return spans


def _instructions(traits: Traits, effect: Effect, n: int, end: int) -> str:
    """The system prompt as openai-v2 captures it (content capture on)."""
    text = f"You are agent {traits.prompt_hash}{effect.prompt_suffix}."
    if traits.prompt != "fixed":
        at = datetime.datetime.fromtimestamp(end / NANOS, datetime.UTC)
        request = f"{(end * 2654435761 + n) % 2**64:016x}"
        text += f" It is {at:%A, %d %B %Y, %H:%M:%S} UTC. Request {request}."
    if traits.prompt == "varying":
        text += f" Context retrieved for the question: {_retrieved(end * 31 + n)}."
    return json.dumps([{"type": "text", "content": text}])


_WORDS = (
    *("refund", "policy", "shipping", "warehouse", "premium", "support", "invoice", "account"),
    *("password", "document", "history", "order", "return", "delay", "region", "discount"),
)


def _retrieved(key: int) -> str:
    """Passages a retrieval step put in the prompt: a different few words each call."""
    mixed = (key * 0x9E3779B97F4A7C15) % 2**64
    return " ".join(_WORDS[(mixed >> (4 * i)) & 15] for i in range(8))


def _answer(model: str, op: Operation) -> dict[str, object]:
    return {
        "gen_ai.response.model": model,
        "gen_ai.usage.input_tokens": op.input_tokens,
        "gen_ai.usage.output_tokens": op.output_tokens,
        "gen_ai.response.finish_reasons": ("tool_calls",) if op.tool_calls else ("stop",),
    }


def _request(provider: str, sent: int) -> dict[str, object]:
    attrs: dict[str, object] = {
        "http.request.method": "POST",
        "server.address": f"api.{provider}.com",
        "http.response.status_code": 200,
    }
    if sent:
        attrs["http.request.resend_count"] = sent
    return attrs


class SpanRecorder:
    """One agent's spans, encoded as the ExportTraceServiceRequest its SDK would send."""

    signal = TRACES

    def __init__(self, name: str) -> None:
        self.name = name
        self._ids = itertools.count(1)

    def export(self, traits: Traits, effect: Effect, ops: list[Operation], now: float) -> bytes:
        """The spans of ``ops``, calls ending a millisecond apart up to ``now``."""
        request = ExportTraceServiceRequest()
        rs = request.resource_spans.add()
        rs.resource.attributes.extend(_kv(k, v) for k, v in resource(self.name, effect).items())
        scope = rs.scope_spans.add()
        scope.scope.name = SCOPE
        end = int((EPOCH + now) * NANOS)
        for n, op in enumerate(ops):
            ends = end - (len(ops) - 1 - n) * CALL_GAP_NANOS
            self._encode(scope.spans, call_spans(traits, effect, op, n, ends), ends)
        return request.SerializeToString()

    def _encode(self, out, shapes: list[SpanShape], end: int) -> None:
        trace_id = next(self._ids).to_bytes(16, "big")
        ids = [next(self._ids).to_bytes(8, "big") for _ in shapes]
        for shape, span_id in zip(shapes, ids, strict=True):
            span = out.add(trace_id=trace_id, span_id=span_id, name=shape.name)
            span.kind = Span.SPAN_KIND_CLIENT if shape.client else Span.SPAN_KIND_INTERNAL
            if shape.parent is not None:
                span.parent_span_id = ids[shape.parent]
            span.start_time_unix_nano = end - round(shape.seconds * NANOS)
            span.end_time_unix_nano = end
            span.attributes.extend(_attribute(k, v) for k, v in shape.attributes.items())
            if shape.failed:
                span.status.code = Status.STATUS_CODE_ERROR

    def close(self) -> None:
        """Nothing to release (the SDK recorder's counterpart)."""


def _attribute(key: str, value: object):
    if isinstance(value, tuple):
        kv = _kv(key, "")
        kv.value.array_value.values.extend(_kv(key, v).value for v in value)
        return kv
    return _kv(key, value)


class SdkSpanRecorder:
    """The same through the OpenTelemetry SDK's tracer and OTLP encoder (for comparison)."""

    signal = TRACES

    def __init__(self, name: str) -> None:
        self.name = name

    def export(self, traits: Traits, effect: Effect, ops: list[Operation], now: float) -> bytes:
        """Record ``ops`` as spans through the SDK and encode them as an OTLP request."""
        spans = InMemorySpanExporter()  # a provider per export: the resource may change
        provider = TracerProvider(resource=Resource.create(resource(self.name, effect)))
        provider.add_span_processor(SimpleSpanProcessor(spans))
        tracer = provider.get_tracer(SCOPE)
        end = int((EPOCH + now) * NANOS)
        for n, op in enumerate(ops):
            ends = end - (len(ops) - 1 - n) * CALL_GAP_NANOS
            _record(tracer, call_spans(traits, effect, op, n, ends), ends)
        body = encode_spans(spans.get_finished_spans()).SerializeToString()
        provider.shutdown()
        return body

    def close(self) -> None:
        """Nothing to release (each export's provider is shut down)."""


def _record(tracer, shapes: list[SpanShape], end: int) -> None:
    started: list[trace.Span] = []
    for shape in shapes:
        parent = None if shape.parent is None else trace.set_span_in_context(started[shape.parent])
        kind = trace.SpanKind.CLIENT if shape.client else trace.SpanKind.INTERNAL
        start = end - round(shape.seconds * NANOS)
        span = tracer.start_span(shape.name, parent, kind, shape.attributes, start_time=start)
        if shape.failed:
            span.set_status(trace.StatusCode.ERROR)
        started.append(span)
    for span in reversed(started):
        span.end(end_time=end)
