"""What the gate measures of each call: its Prometheus metrics (the GenAI and MCP
semantic-convention instruments, and the gate's own counters) and the agent's vitals,
which wait in the mapper's book of gate calls like spans do."""

import dataclasses
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from ..vitals.spans import LlmCall, SpanBook
from .errors import GateError

DURATION_BUCKETS = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48,
                    40.96, 81.92)  # fmt: skip  # the semantic conventions' advice
TOKEN_BUCKETS = tuple(4.0**i for i in range(14))  # 1 … 67,108,864
FIRST_CHUNK_BUCKETS = (0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0,
                       2.5, 5.0, 7.5, 10.0)  # fmt: skip


@dataclasses.dataclass(frozen=True)
class Measured:
    """One call through the gate, as measured."""

    agent_id: str
    route: str
    operation: str  # chat, or the MCP method
    provider: str
    seconds: float
    outcome: str  # ok, upstream_error, failed, cut, client_gone
    error: str = ""  # the error type, '' when it succeeded
    resent: bool = False  # the SDK's retry (x-stainless-retry-count > 0)


class GateMetrics:
    """The gate's instruments on the sidecar's registry (labels from fixed sets, and the
    route and provider names of the config)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        def counter(name, doc, labels):
            return Counter(name, doc, labels, registry=registry)

        self.requests = counter(
            "immune_gate_requests", "Calls through the gate by route and outcome",
            ["route", "outcome"],
        )  # fmt: skip
        self.refused = counter(
            "immune_gate_refused", "Calls the gate refused by reason", ["reason"]
        )
        self.upstream_errors = counter(
            "immune_gate_upstream_errors", "Upstream failures by route and kind", ["route", "kind"]
        )
        self.shaped = counter(
            "immune_gate_shaped_requests", "Requests the gate changed, by action", ["action"]
        )
        self.streams = Gauge(
            "immune_gate_streams_in_flight", "Streams relayed now", registry=registry
        )
        genai = ["gen_ai_operation_name", "gen_ai_provider_name"]
        self.duration = Histogram(
            "gen_ai_client_operation_duration_seconds", "GenAI operation duration",
            [*genai, "error_type"], buckets=DURATION_BUCKETS, registry=registry,
        )  # fmt: skip
        self.tokens = Histogram(
            "gen_ai_client_token_usage", "Tokens used per GenAI operation",
            [*genai, "gen_ai_token_type"], buckets=TOKEN_BUCKETS, registry=registry,
        )  # fmt: skip
        self.first_chunk = Histogram(
            "gen_ai_client_operation_time_to_first_chunk_seconds",
            "Time to the first chunk of a streamed GenAI operation",
            genai, buckets=FIRST_CHUNK_BUCKETS, registry=registry,
        )  # fmt: skip
        self.mcp = Histogram(
            "mcp_client_operation_duration_seconds", "MCP request duration",
            ["mcp_method_name", "error_type"], buckets=DURATION_BUCKETS, registry=registry,
        )  # fmt: skip


class Meter:
    """Records each call in the metrics and in the agent's vitals."""

    def __init__(self, metrics: GateMetrics, calls: SpanBook, clock: Callable[[], float]):
        self.metrics, self._calls, self._clock = metrics, calls, clock

    def refused(self, route: str, error: GateError) -> None:
        """Count a call the gate answered itself."""
        self.metrics.requests.labels(route, "refused").inc()
        self.metrics.refused.labels(error.kind.value).inc()

    def llm(self, call: Measured, answer: LlmCall) -> None:
        """Record an LLM call that reached the upstream."""
        m = self.metrics
        m.requests.labels(call.route, call.outcome).inc()
        labels = (call.operation, call.provider)
        m.duration.labels(*labels, call.error).observe(call.seconds)
        if answer.input_tokens or answer.output_tokens:
            m.tokens.labels(*labels, "input").observe(answer.input_tokens)
            m.tokens.labels(*labels, "output").observe(answer.output_tokens)
        if answer.first_chunk_seconds is not None:
            m.first_chunk.labels(*labels).observe(answer.first_chunk_seconds)
        self._calls.figures(call.agent_id, self._clock()).add_llm_call(answer)

    def mcp(self, call: Measured, tool: str | None, failed: bool) -> None:
        """Record an MCP request that reached the upstream (``tool``: a tools/call's)."""
        self.metrics.requests.labels(call.route, call.outcome).inc()
        self.metrics.mcp.labels(call.operation, call.error).observe(call.seconds)
        if tool is not None:
            self._calls.figures(call.agent_id, self._clock()).add_tool_run(tool, failed)
