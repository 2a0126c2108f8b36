"""What one agent does in one interval, with realistic noise, and its OTLP export.

Each operation is drawn on its own: heavy-tailed latencies (log-normal with
rare stragglers), log-normal token counts, tool calls that come in bursts,
occasional retries and errors. Load follows the time of day, and a busier
agent is a little slower. Some agents also have one of the regimes below,
which the detector was not tuned on: cache hits and misses (bimodal
latency), a context that grows through a conversation and is cleared
(sawtooth input tokens), batch work (busy, then idle), a base error rate
with the client retrying each failure. An ``Effect`` scales what a fault
(or a deploy, or a fleet-wide slowdown) changes.

The operations are recorded as an agent's SDK would and encoded as the OTLP
request it would send (``OtlpRecorder``); ``SdkRecorder`` does the same
through the OpenTelemetry SDK itself, which the tests compare it with.
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
from immune_sidecar.receiver.signals import METRICS

from .otlp import OtlpRecorder

DAY = 86_400.0
CACHE_HIT_SPEEDUP = 0.2  # a cache hit takes this share of a miss's time
BATCH_PERIOD = 7_200.0  # a batch agent's cycle of busy and idle work, in seconds


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
    # Rare stragglers: this share of calls takes this many times as long.
    straggler_share: float = 0.01
    straggler_factor: float = 5.0
    # Regimes: share of calls served from a cache; a context that grows by this factor over
    # ``sawtooth_intervals`` intervals and is cleared; idle for this share of a batch cycle;
    # client retries after each failed call.
    cache_hits: float = 0.0
    sawtooth_growth: float = 0.0
    sawtooth_intervals: int = 0
    idle_share: float = 0.0
    retries_per_error: int = 0
    # How often the agent's SDK exports (some export more often than the interval), and
    # what: "metrics" (and no spans), or "spans" alone, as some stock instrumentations.
    export_seconds: float = 60.0
    telemetry: str = "metrics"
    # Call durations on the conventions' advised buckets, or on the SDK's defaults (0, 5,
    # 10, … s: no median), as OpenLLMetry records them.
    advised_buckets: bool = True
    # A router sends this share of calls to a dearer model (its escalation tier).
    routed: float = 0.0
    escalation: str = ""
    # The system prompt a spans-only agent's instrumentation captures: "fixed"; "dated"
    # (a template stating the time and a request id); "varying" (each call's retrieved
    # context in it).
    prompt: str = "fixed"


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
    version: str = "1"


HEALTHY = Effect()


class Operation(NamedTuple):
    """One model call and what came with it."""

    latency: float
    input_tokens: int
    output_tokens: int
    tool_calls: int
    retries: int
    failed: bool
    model: str = ""  # a routed call's model ("" the agent's)


def load(traits: Traits, at: float) -> float:
    """The agent's load at ``at`` seconds: 0.5× at night to 1.5× at the busiest hour."""
    daily = 1.0 + 0.5 * math.sin(2 * math.pi * (at / DAY + traits.phase))
    if traits.idle_share <= 0:
        return daily
    cycle = (at / BATCH_PERIOD + traits.phase) % 1.0
    return 0.03 if cycle < traits.idle_share else daily / (1.0 - traits.idle_share)


def context(traits: Traits, at: float, interval_seconds: float = 60.0) -> float:
    """How far the agent's context has grown at ``at`` (1 right after it is cleared)."""
    if traits.sawtooth_intervals <= 0:
        return 1.0
    step = int(at / interval_seconds) % traits.sawtooth_intervals
    return 1.0 + traits.sawtooth_growth * step / traits.sawtooth_intervals


def mean_tool_rate(traits: Traits) -> float:
    """Tool calls a healthy call makes on average, its bursts included (as ``draw`` makes them)."""
    return traits.tool_rate * (1.0 + traits.burst_share * (traits.burst_factor - 1.0))


def draw(traits: Traits, effect: Effect, at: float, rng: random.Random) -> list[Operation]:
    """The operations of the interval that ends at ``at`` (none for an idle interval)."""
    busy = load(traits, at)
    bursty = rng.random() < traits.burst_share
    tool_rate = traits.tool_rate * effect.tool_rate * (traits.burst_factor if bursty else 1.0)
    count = poisson(rng, traits.operations * busy)
    if traits.idle_share <= 0:
        count = max(1, count)
    grown = context(traits, at)
    return [_operation(traits, effect, busy, tool_rate, grown, rng) for _ in range(count)]


def _operation(t: Traits, e: Effect, busy: float, tool_rate: float, grown: float, rng):
    slower = 1.0 + 0.15 * (min(busy, 1.5) - 1.0)
    latency = _lognormal(rng, t.latency * e.latency * slower, t.latency_shape)
    if rng.random() < t.cache_hits:
        latency *= CACHE_HIT_SPEEDUP
    if rng.random() < t.straggler_share:
        latency *= t.straggler_factor
    failed = rng.random() < min(1.0, t.error_rate * e.error_rate)
    retries = poisson(rng, t.retry_rate * e.retry_rate) + (t.retries_per_error if failed else 0)
    # Drawn for routers alone, so that every other agent's draws stay as they were.
    routed = t.routed > 0 and rng.random() < t.routed
    return Operation(
        latency,
        round(_lognormal(rng, t.input_tokens * e.input_tokens * grown, t.token_shape)),
        round(_lognormal(rng, t.output_tokens, t.token_shape)),
        0 if failed else poisson(rng, tool_rate),
        retries,
        failed,
        t.escalation if routed else "",
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


def resource(name: str, effect: Effect) -> dict[str, str]:
    """The agent's resource attributes (its version is the effect's)."""
    return {"service.name": name, "service.instance.id": name, "service.version": effect.version}


def model_of(traits: Traits, effect: Effect, op: Operation) -> str:
    """The model that served ``op``: the router's choice, the fault's or upgrade's, the agent's."""
    return op.model or effect.model or traits.model


def _chat(traits: Traits, effect: Effect, op: Operation) -> dict[str, str]:
    return {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": traits.provider,
        "gen_ai.request.model": model_of(traits, effect, op),
        "gen_ai.prompt.hash": traits.prompt_hash + effect.prompt_suffix,
    }


TOOL_SECONDS, RETRY_SECONDS = 0.3, 0.5
RETRY_ATTRS = (("http.request.resend_count", 1), ("server.address", "api.openai.com"))


class Recorder:
    """One agent's cumulative OTLP histograms; ``export`` returns the request's bytes."""

    signal = METRICS

    def __init__(self, name: str, advised_buckets: bool = True) -> None:
        self.name = name
        self.otlp = OtlpRecorder(resource(name, HEALTHY), advised=advised_buckets)

    def export(self, traits: Traits, effect: Effect, ops: list[Operation], now: float) -> bytes:
        """Record ``operations`` as the agent's SDK would and encode the export."""
        self.otlp.set_resource(resource(self.name, effect))
        record = self.otlp.record
        for n, op in enumerate(ops):
            chat = tuple(_chat(traits, effect, op).items())
            failed = (*chat, ("error.type", "timeout"))
            record("gen_ai.client.operation.duration", op.latency, failed if op.failed else chat)
            record("gen_ai.client.token.usage", op.input_tokens,
                   (*chat, ("gen_ai.token.type", "input")))  # fmt: skip
            record("gen_ai.client.token.usage", op.output_tokens,
                   (*chat, ("gen_ai.token.type", "output")))  # fmt: skip
            tool, server = traits.tools[n % len(traits.tools)]
            for _ in range(op.tool_calls):
                record(*_tool_call(tool, server))
            for _ in range(op.retries):
                record("http.client.request.duration", RETRY_SECONDS, RETRY_ATTRS)
        return self.otlp.export(int(now * 1e9))

    def close(self) -> None:
        """Nothing to release (the SDK recorder's counterpart)."""


def _tool_call(tool: str, server: str) -> tuple[str, float, tuple]:
    if server:
        attrs = (("mcp.method.name", "tools/call"), ("server.address", server),
                 ("gen_ai.tool.name", tool))  # fmt: skip
        return "mcp.client.operation.duration", TOOL_SECONDS, attrs
    attrs = (("gen_ai.tool.name", tool), ("gen_ai.operation.name", "execute_tool"))
    return "gen_ai.execute_tool.duration", TOOL_SECONDS, attrs


class SdkRecorder:
    """The same through the OpenTelemetry SDK and its OTLP encoder (slow; for comparison)."""

    signal = METRICS

    def __init__(self, name: str, advised_buckets: bool = True) -> None:
        self.reader = InMemoryMetricReader()
        agent = Resource.create(resource(name, HEALTHY))
        self.provider = MeterProvider(resource=agent, metric_readers=[self.reader])
        self.instruments = Instruments(self.provider.get_meter("immune-eval"), advised_buckets)

    def export(self, traits: Traits, effect: Effect, ops: list[Operation], now: float) -> bytes:
        """Record ``operations`` through the SDK and encode them as an OTLP request."""
        for n, op in enumerate(ops):
            tool, server = traits.tools[n % len(traits.tools)]
            attrs = _chat(traits, effect, op)
            self.instruments.operation(attrs, op.latency, op.input_tokens, op.output_tokens,
                                       op.failed)  # fmt: skip
            for _ in range(op.tool_calls):
                self.instruments.tool_call(tool, server, TOOL_SECONDS)
            for _ in range(op.retries):
                self.instruments.retry()
        return encode_metrics(self.reader.get_metrics_data()).SerializeToString()

    def close(self) -> None:
        """Shut the provider down."""
        self.provider.shutdown()
