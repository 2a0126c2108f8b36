"""A simulated agent's telemetry through nothing but the official OpenTelemetry SDK.

It records GenAI semantic-convention metrics (and MCP tool calls) for one
"interval" at a time and exports them through a real OTLP exporter, gRPC or
HTTP, on ``flush``.
"""

import dataclasses
import random

from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import (
    OTLPMetricExporter as GrpcExporter,
)
from opentelemetry.exporter.otlp.proto.http.metric_exporter import (
    OTLPMetricExporter as HttpExporter,
)
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource

NEVER_MS = 3_600_000  # exports only happen on flush()
# Bucket advice of the GenAI semantic conventions.
DURATION_BUCKETS = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96]
TOKEN_BUCKETS = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304]


@dataclasses.dataclass(frozen=True)
class Profile:
    """What one interval of the agent's work looks like (per operation)."""

    operations: int = 20
    latency: float = 1.2
    input_tokens: float = 800.0
    output_tokens: float = 300.0
    tool_calls: float = 1.0
    retries: float = 0.0
    error_share: float = 0.0
    model: str = "gpt-4o-mini"
    provider: str = "openai"
    prompt_hash: str = "p-v1"
    noise: float = 0.15
    # Tools the agent calls, as (tool, MCP server); an empty server is a local tool.
    tools: tuple[tuple[str, str], ...] = (("search", ""),)


def make_exporter(transport: str, port: int, host: str = "127.0.0.1"):
    """A real OTLP metric exporter pointed at a sidecar."""
    if transport == "grpc":
        return GrpcExporter(endpoint=f"{host}:{port}", insecure=True, timeout=5)
    return HttpExporter(endpoint=f"http://{host}:{port}/v1/metrics", timeout=5)


class Emitter:
    """One agent's MeterProvider, recording an interval of GenAI metrics at a time."""

    def __init__(self, name: str, exporter, seed: int = 1, attributes: dict | None = None):
        self.name = name
        self.rng = random.Random(seed)
        self.reader = PeriodicExportingMetricReader(exporter, export_interval_millis=NEVER_MS)
        attrs = {"service.name": name, "service.instance.id": name, **(attributes or {})}
        self.provider = MeterProvider(resource=Resource.create(attrs), metric_readers=[self.reader])
        self.instruments = Instruments(self.provider.get_meter("immune-demo"))

    def interval(self, p: Profile) -> bool:
        """Record one interval of work and export it; False when the export failed."""
        for _ in range(p.operations):
            self._operation(p)
        return self.flush()

    def flush(self) -> bool:
        """Export what was recorded (a real OTLP request)."""
        return self.provider.force_flush(10_000)

    def close(self) -> None:
        """Shut the provider down."""
        self.provider.shutdown()

    def _jitter(self, p: Profile, x: float) -> float:
        return max(0.0, x * (1 + self.rng.uniform(-p.noise, p.noise)))

    def _operation(self, p: Profile) -> None:
        attrs = {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": p.provider,
            "gen_ai.request.model": p.model,
            "gen_ai.prompt.hash": p.prompt_hash,
        }
        failed = self.rng.random() < p.error_share
        seconds = self._jitter(p, p.latency)
        tokens = [round(self._jitter(p, m)) for m in (p.input_tokens, p.output_tokens)]
        self.instruments.operation(attrs, seconds, *tokens, failed)
        tool_calls = _count(self.rng, self._jitter(p, p.tool_calls))
        for _ in range(0 if failed else tool_calls):  # a call that timed out asks for no tools
            tool, server = p.tools[0] if len(p.tools) == 1 else self.rng.choice(p.tools)
            self.instruments.tool_call(tool, server, self._jitter(p, 0.3))
        for _ in range(_count(self.rng, p.retries)):
            self.instruments.retry()


class Instruments:
    """The GenAI semantic-convention histograms an agent records its work on."""

    def __init__(self, meter, advised: bool = True) -> None:
        """``advised``: the call duration on the conventions' buckets, else on the SDK's
        defaults (as OpenLLMetry records it)."""
        seconds = {"unit": "s", "explicit_bucket_boundaries_advisory": DURATION_BUCKETS}
        self.duration = meter.create_histogram(
            "gen_ai.client.operation.duration", **(seconds if advised else {"unit": "s"})
        )
        self.tokens = meter.create_histogram(
            "gen_ai.client.token.usage",
            unit="{token}",
            explicit_bucket_boundaries_advisory=TOKEN_BUCKETS,
        )
        self.tool = meter.create_histogram("gen_ai.execute_tool.duration", **seconds)
        self.mcp = meter.create_histogram("mcp.client.operation.duration", **seconds)
        self.http = meter.create_histogram("http.client.request.duration", **seconds)

    def operation(self, attrs: dict, seconds: float, inputs: int, outputs: int, failed: bool):
        """One model call: its duration (with error.type when it failed) and its tokens."""
        self.duration.record(seconds, {**attrs, "error.type": "timeout"} if failed else attrs)
        for kind, count in (("input", inputs), ("output", outputs)):
            self.tokens.record(count, {**attrs, "gen_ai.token.type": kind})

    def tool_call(self, tool: str, server: str, seconds: float) -> None:
        """One tool call, through an MCP server or local."""
        if server:
            attrs = {"mcp.method.name": "tools/call", "server.address": server}
            self.mcp.record(seconds, {**attrs, "gen_ai.tool.name": tool})
        else:
            attrs = {"gen_ai.tool.name": tool, "gen_ai.operation.name": "execute_tool"}
            self.tool.record(seconds, attrs)

    def retry(self) -> None:
        """One resent HTTP request to the model provider."""
        self.http.record(0.5, {"http.request.resend_count": 1, "server.address": "api.openai.com"})


def _count(rng: random.Random, mean: float) -> int:
    whole = int(mean)
    return whole + (1 if rng.random() < mean - whole else 0)
