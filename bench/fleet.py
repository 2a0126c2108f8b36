"""Realistic OTLP requests from simulated agents, encoded by the OpenTelemetry SDK itself."""

import random

from opentelemetry.exporter.otlp.proto.common._internal.metrics_encoder import encode_metrics
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.resources import Resource

DURATION_BUCKETS = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48]
TOKEN_BUCKETS = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576]
MODELS = ("gpt-4o-mini", "claude-sonnet-4", "gemini-2.0-flash")
TOOLS = ("search", "fetch", "sql", "calc")


class BenchAgent:
    """One agent recording GenAI metrics with a few models and tools."""

    def __init__(self, name: str, seed: int) -> None:
        self.rng = random.Random(seed)
        self.reader = InMemoryMetricReader()
        resource = Resource.create({"service.name": name, "service.instance.id": name})
        self.provider = MeterProvider(resource=resource, metric_readers=[self.reader])
        meter = self.provider.get_meter("bench")
        advice = {"explicit_bucket_boundaries_advisory": DURATION_BUCKETS}
        self.ops = meter.create_histogram("gen_ai.client.operation.duration", "s", **advice)
        self.tool = meter.create_histogram("gen_ai.execute_tool.duration", "s", **advice)
        self.tokens = meter.create_histogram(
            "gen_ai.client.token.usage",
            "{token}",
            explicit_bucket_boundaries_advisory=TOKEN_BUCKETS,
        )

    def interval(self, operations: int = 20, latency: float = 1.0) -> bytes:
        """Record one interval and return the export request's bytes."""
        for _ in range(operations):
            model = self.rng.choice(MODELS)
            attrs = {"gen_ai.operation.name": "chat", "gen_ai.request.model": model,
                     "gen_ai.provider.name": "openai", "gen_ai.prompt.hash": "v1"}  # fmt: skip
            self.ops.record(latency * self.rng.uniform(0.8, 1.2), attrs)
            self.tokens.record(self.rng.randint(500, 900), {**attrs, "gen_ai.token.type": "input"})
            self.tokens.record(self.rng.randint(100, 300), {**attrs, "gen_ai.token.type": "output"})
            self.tool.record(0.2, {"gen_ai.tool.name": self.rng.choice(TOOLS)})
        return encode_metrics(self.reader.get_metrics_data()).SerializeToString()


def fleet_requests(agents: int, intervals: int, seed: int = 1) -> list[list[bytes]]:
    """``intervals`` rounds of one request per agent."""
    fleet = [BenchAgent(f"bench-{i}", seed + i) for i in range(agents)]
    return [[a.interval() for a in fleet] for _ in range(intervals)]
