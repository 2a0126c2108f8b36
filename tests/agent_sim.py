"""A test agent instrumented with nothing but the official OpenTelemetry SDK.

It records GenAI semantic-convention metrics for one "interval" at a time and
exports them through a real OTLP exporter (gRPC or HTTP) on ``flush``.
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


@dataclasses.dataclass
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
    prompt_hash: str = "p-v1"
    noise: float = 0.15


def make_exporter(transport: str, port: int):
    """A real OTLP metric exporter pointed at the sidecar."""
    if transport == "grpc":
        return GrpcExporter(endpoint=f"127.0.0.1:{port}", insecure=True, timeout=5)
    return HttpExporter(endpoint=f"http://127.0.0.1:{port}/v1/metrics", timeout=5)


class SimAgent:
    """One agent: a MeterProvider of its own, recording GenAI metrics."""

    def __init__(self, name: str, transport: str, port: int, seed: int = 1, exporter=None):
        self.name = name
        self.rng = random.Random(seed)
        self.reader = PeriodicExportingMetricReader(
            exporter or make_exporter(transport, port), export_interval_millis=NEVER_MS
        )
        attrs = {"service.name": name, "service.instance.id": name}
        self.provider = MeterProvider(resource=Resource.create(attrs), metric_readers=[self.reader])
        meter = self.provider.get_meter("agent-sim")
        seconds = {"unit": "s", "explicit_bucket_boundaries_advisory": DURATION_BUCKETS}
        self.duration = meter.create_histogram("gen_ai.client.operation.duration", **seconds)
        self.tokens = meter.create_histogram(
            "gen_ai.client.token.usage",
            unit="{token}",
            explicit_bucket_boundaries_advisory=TOKEN_BUCKETS,
        )
        self.tool = meter.create_histogram("gen_ai.execute_tool.duration", **seconds)
        self.http = meter.create_histogram("http.client.request.duration", **seconds)

    def interval(self, p: Profile) -> None:
        """Record one interval of work and export it."""
        for _ in range(p.operations):
            self._operation(p)
        self.flush()

    def flush(self) -> None:
        """Export what was recorded (a real OTLP request)."""
        assert self.provider.force_flush(10_000)

    def close(self) -> None:
        """Shut the provider down."""
        self.provider.shutdown()

    def _operation(self, p: Profile) -> None:
        jitter = lambda x: max(0.0, x * (1 + self.rng.uniform(-p.noise, p.noise)))  # noqa: E731
        attrs = {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "openai",
            "gen_ai.request.model": p.model,
            "gen_ai.prompt.hash": p.prompt_hash,
        }
        if self.rng.random() < p.error_share:
            attrs["error.type"] = "timeout"
        self.duration.record(jitter(p.latency), attrs)
        token_attrs = {k: v for k, v in attrs.items() if k != "error.type"}
        self.tokens.record(
            round(jitter(p.input_tokens)), {**token_attrs, "gen_ai.token.type": "input"}
        )
        self.tokens.record(
            round(jitter(p.output_tokens)), {**token_attrs, "gen_ai.token.type": "output"}
        )
        for _ in range(_count(self.rng, jitter(p.tool_calls))):
            self.tool.record(
                jitter(0.3), {"gen_ai.tool.name": "search", "gen_ai.operation.name": "execute_tool"}
            )
        for _ in range(_count(self.rng, p.retries)):
            self.http.record(
                0.5, {"http.request.resend_count": 1, "server.address": "api.openai.com"}
            )


def _count(rng: random.Random, mean: float) -> int:
    whole = int(mean)
    return whole + (1 if rng.random() < mean - whole else 0)
