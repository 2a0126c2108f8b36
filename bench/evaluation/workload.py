"""What one agent does in one interval, with realistic noise, and its OTLP export.

Each operation is drawn on its own: heavy-tailed latencies (log-normal with
rare stragglers), log-normal token counts, tool calls that come in bursts,
occasional retries and errors. Load follows the time of day, and a busier
agent is a little slower. An ``Effect`` scales what a fault changes. The
operations are recorded through the OpenTelemetry SDK and encoded by its OTLP
encoder, so the sidecar reads exactly what an agent would send.
"""

import dataclasses
import math
import random
from typing import NamedTuple

from opentelemetry.exporter.otlp.proto.common._internal.metrics_encoder import encode_metrics
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.resources import Resource

from immune_demo.emitter import Instruments

DAY = 86_400.0
STRAGGLER_SHARE, STRAGGLER_FACTOR = 0.01, 5.0


@dataclasses.dataclass(frozen=True)
class Traits:
    """One agent's normal work: means per operation and the shape of its noise."""

    operations: float
    latency: float
    latency_shape: float
    input_tokens: float
    output_tokens: float
    token_shape: float
    tool_rate: float
    burst_share: float
    burst_factor: float
    retry_rate: float
    error_rate: float
    model: str
    provider: str
    prompt_hash: str
    tools: tuple[tuple[str, str], ...]
    # Where the agent's day starts (its users' time zone), as a share of a day.
    phase: float = 0.0


@dataclasses.dataclass(frozen=True)
class Effect:
    """Multipliers a fault (or a benign change) applies to an agent's work."""

    latency: float = 1.0
    input_tokens: float = 1.0
    tool_rate: float = 1.0
    retry_rate: float = 1.0
    error_rate: float = 1.0
    model: str = ""
    prompt_suffix: str = ""


HEALTHY = Effect()


class Operation(NamedTuple):
    """One model call and what came with it."""

    latency: float
    input_tokens: int
    output_tokens: int
    tool_calls: int
    retries: int
    failed: bool


def load(traits: Traits, at: float) -> float:
    """The agent's load at ``at`` seconds: 0.5× at night to 1.5× at the busiest hour."""
    return 1.0 + 0.5 * math.sin(2 * math.pi * (at / DAY + traits.phase))


def draw(traits: Traits, effect: Effect, at: float, rng: random.Random) -> list[Operation]:
    """The operations of the interval that ends at ``at``."""
    busy = load(traits, at)
    bursty = rng.random() < traits.burst_share
    tool_rate = traits.tool_rate * effect.tool_rate * (traits.burst_factor if bursty else 1.0)
    count = max(1, poisson(rng, traits.operations * busy))
    return [_operation(traits, effect, busy, tool_rate, rng) for _ in range(count)]


def _operation(t: Traits, e: Effect, busy: float, tool_rate: float, rng: random.Random):
    slower = 1.0 + 0.15 * (busy - 1.0)
    latency = _lognormal(rng, t.latency * e.latency * slower, t.latency_shape)
    if rng.random() < STRAGGLER_SHARE:
        latency *= STRAGGLER_FACTOR
    failed = rng.random() < min(1.0, t.error_rate * e.error_rate)
    return Operation(
        latency,
        round(_lognormal(rng, t.input_tokens * e.input_tokens, t.token_shape)),
        round(_lognormal(rng, t.output_tokens, t.token_shape)),
        0 if failed else poisson(rng, tool_rate),
        poisson(rng, t.retry_rate * e.retry_rate),
        failed,
    )


def _lognormal(rng: random.Random, mean: float, shape: float) -> float:
    """A log-normal value with the given mean (not median)."""
    return rng.lognormvariate(math.log(mean) - shape * shape / 2, shape)


def poisson(rng: random.Random, mean: float) -> int:
    """A Poisson count (Knuth's method; the normal approximation past 50)."""
    if mean > 50:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, k, p = math.exp(-mean), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


class Recorder:
    """One agent's MeterProvider; ``export`` records operations and returns OTLP bytes."""

    def __init__(self, name: str) -> None:
        self.reader = InMemoryMetricReader()
        resource = Resource.create({"service.name": name, "service.instance.id": name})
        self.provider = MeterProvider(resource=resource, metric_readers=[self.reader])
        self.instruments = Instruments(self.provider.get_meter("immune-eval"))

    def export(self, traits: Traits, effect: Effect, operations: list[Operation]) -> bytes:
        """Record ``operations`` as the agent would and encode them as an OTLP request."""
        attrs = {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": traits.provider,
            "gen_ai.request.model": effect.model or traits.model,
            "gen_ai.prompt.hash": traits.prompt_hash + effect.prompt_suffix,
        }
        for n, op in enumerate(operations):
            tool, server = traits.tools[n % len(traits.tools)]
            self.instruments.operation(attrs, op.latency, op.input_tokens, op.output_tokens,
                                       op.failed)  # fmt: skip
            for _ in range(op.tool_calls):
                self.instruments.tool_call(tool, server, 0.3)
            for _ in range(op.retries):
                self.instruments.retry()
        return encode_metrics(self.reader.get_metrics_data()).SerializeToString()

    def close(self) -> None:
        """Shut the provider down."""
        self.provider.shutdown()
