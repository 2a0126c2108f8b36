"""A vital sample: one agent's figures for one export interval, per operation."""

import dataclasses
import itertools
import math
from collections.abc import Mapping
from operator import add
from typing import TYPE_CHECKING, Any

from .delta import PointValue
from .identity import PointLabels
from .prices import PriceTable

if TYPE_CHECKING:
    from .spans import SpanFigures

# LLM calls' durations are counted in the buckets the GenAI semantic conventions advise for
# gen_ai.client.operation.duration: the sample reads its calls' median from them as it
# does from a metric's (a straggler barely moves it; it moves the mean a lot).
LATENCY_BOUNDS = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48,
                  40.96, 81.92)  # fmt: skip

VITALS = (
    "latency",
    "latency_median",
    "latency_p95",
    "input_tokens",
    "output_tokens",
    "total_tokens",
    "tool_calls",
    "retries",
    "error_rate",
    "cost",
    "price",
    "llm_calls",
    "invocations",
    "time_to_first_token",
)
ERROR_KEYS = ("error.type", "rpc.jsonrpc.error_code")
INPUT_TYPES = frozenset({"input", "prompt"})
OUTPUT_TYPES = frozenset({"output", "completion"})


@dataclasses.dataclass(frozen=True)
class PromptPrint:
    """A captured prompt's fingerprint (``hash``) and its ``parts``: each sentence's
    template and the tool definitions', hashed apart. A prompt that carries each call's
    retrieved passages has a new hash on every call, but keeps its steady sentences."""

    hash: str = ""
    parts: frozenset[str] = frozenset()

    def __bool__(self) -> bool:
        """Whether a prompt was told (a later one wins only then, as a hash did)."""
        return bool(self.hash)


NO_PROMPT = PromptPrint()


@dataclasses.dataclass(frozen=True)
class VitalSample:
    """One agent's vitals for one interval; absent vitals had no source."""

    agent_id: str
    time: float
    interval_seconds: float
    operations: float
    values: Mapping[str, float]
    prompt_hash: str = ""
    # Operations and tool calls that could fail: the error rate's denominator.
    attempts: float = 0.0
    # The agent's deployed version (a resource attribute); a new one with a new prompt re-learns.
    version: str = ""
    # The price of each model the interval's tokens went to (USD a million tokens, at the
    # table's fixed mix): a model the agent never used, dearer than those it uses, is a
    # cost spike.
    prices: Mapping[str, float] = dataclasses.field(default_factory=dict)
    # Latency is the mean of more than two calls whose buckets were too coarse for their
    # median (and no spans told it): one straggler moves it fully.
    latency_is_mean: bool = False
    # The captured prompt's parts (``PromptPrint``): a varying prompt's steady sentences.
    prompt_parts: frozenset[str] = frozenset()


@dataclasses.dataclass
class Labels:
    """What operators see of an agent, merged across points."""

    name: str = ""
    model: str = ""
    provider: str = ""
    tools: set[str] = dataclasses.field(default_factory=set)
    mcp_servers: set[str] = dataclasses.field(default_factory=set)

    def add(self, point: PointLabels) -> None:
        """Merge one point's labels in."""
        self.model = point.model or self.model
        self.provider = point.provider or self.provider
        if point.tool:
            self.tools.add(point.tool)
        if point.mcp_server:
            self.mcp_servers.add(point.mcp_server)

    def merge(self, other: "Labels") -> None:
        """Merge another request's labels for the same agent in."""
        self.name = other.name or self.name
        self.model = other.model or self.model
        self.provider = other.provider or self.provider
        self.tools |= other.tools
        self.mcp_servers |= other.mcp_servers

    def to_json(self) -> dict:
        """A plain dict for the admin API and reports."""
        return {
            "name": self.name,
            "model": self.model,
            "provider": self.provider,
            "tools": sorted(self.tools),
            "mcp_servers": sorted(self.mcp_servers),
        }


# The tally's figures that add up across exports.
SUMMED = (
    "ops", "latency", "errors", "tools", "tool_errors", "input", "output", "retries",
    "tool_count", "inference_calls", "invocations", "first_tokens", "first_token_seconds",
)  # fmt: skip


class Tally:
    """Adds up one agent's point deltas of one request (or several, for one sample) by role."""

    def __init__(self) -> None:
        self.ops = self.latency = self.errors = self.tools = self.tool_errors = 0.0
        self.input = self.output = self.retries = self.tool_count = 0.0
        self.inference_calls = self.invocations = 0.0
        self.first_tokens = self.first_token_seconds = 0.0
        self.answers: float | None = None  # LLM calls that ended with an answer (spans tell)
        self.coarse = False  # latency buckets too coarse to tell a p95
        self.cost: float | None = None
        self.latency_hist: dict[tuple[float, ...], list[int]] = {}
        self.tokens_by_model: dict[str, list[float]] = {}
        self.prompt = NO_PROMPT
        self.version = ""
        self.labels = Labels()
        self.touched = False
        # Whether any source could tell tool calls (a tool metric, or LLM spans' finish
        # reasons): without one, tool calls are unknown, not zero.
        self.tool_source = False

    def absorb(self, later: "Tally") -> None:
        """Add a later export's tally of the same agent in (one sample spans both)."""
        for name in SUMMED:
            setattr(self, name, getattr(self, name) + getattr(later, name))
        self.answers = _plus(self.answers, later.answers)
        self.cost = _plus(self.cost, later.cost)
        for bounds, counts in later.latency_hist.items():
            self._merge_buckets(bounds, counts)
        for model, (spent_in, spent_out) in later.tokens_by_model.items():
            mine = self.tokens_by_model.setdefault(model, [0.0, 0.0])
            mine[0], mine[1] = mine[0] + spent_in, mine[1] + spent_out
        self.coarse |= later.coarse
        self.touched |= later.touched
        self.tool_source |= later.tool_source
        if later.activity > 0:  # a version with no work yet has no prompt to go with it
            self.version = later.version
        self.prompt = later.prompt or self.prompt
        self.labels.merge(later.labels)

    def add(self, role: str, value: PointValue, attrs: Mapping[str, Any], model: str) -> None:
        """Account one point's delta under ``role``."""
        self.touched = True
        getattr(self, "_add_" + role)(value, attrs, model)

    def _add_operation(self, v: PointValue, attrs: Mapping[str, Any], model: str) -> None:
        self.ops += v.count
        self.latency += v.total
        if _errored(attrs):
            self.errors += v.count
        if v.buckets:
            self._merge_buckets(v.bounds, v.buckets)

    def _merge_buckets(self, bounds: tuple[float, ...], counts) -> None:
        """Add latency bucket counts to those of the same bucket layout."""
        hist = self.latency_hist.get(bounds)
        self.latency_hist[bounds] = list(map(add, hist, counts)) if hist else list(counts)

    def _add_tool_call(self, v: PointValue, attrs: Mapping[str, Any], model: str) -> None:
        self.tool_source = True
        self.tools += v.count
        if _errored(attrs):
            self.tool_errors += v.count

    def _add_tool_count(self, v: PointValue, attrs: Mapping[str, Any], model: str) -> None:
        self.tool_source = True
        self.tool_count += v.total

    def _add_tokens(self, v: PointValue, attrs: Mapping[str, Any], model: str) -> None:
        kind = str(attrs.get("gen_ai.token.type", ""))
        if kind in INPUT_TYPES:
            self._add_input_tokens(v, attrs, model)
        elif kind in OUTPUT_TYPES:
            self._add_output_tokens(v, attrs, model)

    def _add_input_tokens(self, v: PointValue, attrs: Mapping[str, Any], model: str) -> None:
        self.input += v.total
        self.tokens_by_model.setdefault(model, [0.0, 0.0])[0] += v.total

    def _add_output_tokens(self, v: PointValue, attrs: Mapping[str, Any], model: str) -> None:
        self.output += v.total
        self.tokens_by_model.setdefault(model, [0.0, 0.0])[1] += v.total

    def _add_inference_calls(self, v: PointValue, attrs: Mapping[str, Any], model: str) -> None:
        self.inference_calls += v.total
        self.invocations += v.count

    def _add_retry(self, v: PointValue, attrs: Mapping[str, Any], model: str) -> None:
        self.retries += v.count

    def _add_cost(self, v: PointValue, attrs: Mapping[str, Any], model: str) -> None:
        self.cost = (self.cost or 0.0) + v.total

    def _add_first_token(self, v: PointValue, attrs: Mapping[str, Any], model: str) -> None:
        self.first_tokens += v.count
        self.first_token_seconds += v.total

    def _add_known(self, v: PointValue, attrs: Mapping[str, Any], model: str) -> None:
        pass

    def fill(self, spans: "SpanFigures") -> None:
        """Fill in from an agent's spans what this interval's metrics did not say: metrics
        win for every vital they carry, so nothing counts twice."""
        self.touched = True
        if self.ops <= 0 and spans.llm_calls:
            self.ops, self.latency = spans.llm_calls, spans.llm_seconds
            self._merge_buckets(LATENCY_BOUNDS, spans.latency_buckets)
            self.errors += spans.llm_errors
        elif spans.llm_calls >= SPANS_FOR_MEDIAN * self.ops > 0 and not _finest(self.latency_hist):
            # Metrics on buckets too coarse for a median (OpenLLMetry's, on the SDK's
            # defaults): spans of about the same calls tell it; sampled traces do not.
            self._merge_buckets(LATENCY_BOUNDS, spans.latency_buckets)
        if not (self.input or self.output):
            for model, (i, o) in spans.tokens_by_model.items():
                self._add_input_tokens(PointValue(i, i), {}, model)
                self._add_output_tokens(PointValue(o, o), {}, model)
        if not (self.tools or self.tool_count) and spans.tells_tools:
            self.tool_source = True
            self.tools, self.tool_errors = spans.tool_calls, spans.tool_errors
        self.retries = self.retries or spans.retries
        if not self.first_tokens and spans.first_chunks:
            self.first_tokens, self.first_token_seconds = (
                spans.first_chunks,
                spans.first_chunk_seconds,
            )
        self.invocations = self.invocations or spans.invocations
        self.prompt = self.prompt or spans.prompt
        self.version = self.version or spans.version
        if spans.finishes_told and self.answers is None:
            self.answers = spans.finishes_told - spans.tool_turns
        self.labels.merge(spans.labels())

    def to_sample(
        self, agent_id: str, now: float, interval: float, prices: PriceTable
    ) -> VitalSample | None:
        """The interval's sample, or None when the agent did nothing in it."""
        ops = self.ops or self.invocations
        if not self.touched or self.activity <= 0:
            return None
        per_op = ops if ops > 0 else 1.0
        table = self._table_prices(prices)
        values = self._rates(per_op, prices, table)
        return VitalSample(agent_id, now, interval, ops, values, self.prompt.hash,
                           self.attempts, self.version, self._model_prices(table),
                           self.coarse and self.ops > 2, self.prompt.parts)  # fmt: skip

    @property
    def activity(self) -> float:
        """How much work the tally holds (none: the agent did nothing in it)."""
        ops = self.ops or self.invocations
        return ops + self.tools + self.tool_count + self.input + self.output + self.retries

    @property
    def attempts(self) -> float:
        """Operations and tool calls that could fail: the error rate's denominator."""
        return self.ops + self.tools

    def _latencies(self) -> dict[str, float]:
        if self.ops <= 0:
            return {}
        values = {"latency": self.latency / self.ops}
        if self.latency_hist:  # from the fine bucket layout most calls were recorded in
            finest = _finest(self.latency_hist)
            self.coarse = finest is None
            if finest is not None:
                median, bounds, counts = finest
                # The median of one or two calls is their mean, which the sum tells
                # exactly: the buckets would blur it by up to half a bucket.
                values["latency_median"] = values["latency"] if self.ops <= 2 else median
                values["latency_p95"] = quantile(bounds, counts, 0.95)
        if self.first_tokens > 0:
            values["time_to_first_token"] = self.first_token_seconds / self.first_tokens
        return values

    def _rates(
        self, per_op: float, prices: PriceTable, table: dict[str, float]
    ) -> dict[str, float]:
        values = self._latencies()
        if self.ops > 0:
            values["llm_calls"] = self.ops
            load = self.invocations or self.answers
            if load is not None:
                values["invocations"] = load
        if self.input or self.output:
            values["input_tokens"] = self.input / per_op
            values["output_tokens"] = self.output / per_op
            values["total_tokens"] = (self.input + self.output) / per_op
        if self.tool_source:
            values["tool_calls"] = (self.tools + self.tool_count) / per_op
        extra_calls = max(0.0, self.inference_calls - self.invocations)
        values["retries"] = (self.retries + extra_calls) / per_op
        if self.attempts > 0:
            values["error_rate"] = (self.errors + self.tool_errors) / self.attempts
        # A reported cost of 0 beside tokens is an instrumentation without the model's
        # price (OpenLIT without its pricing file), not a free call: the table's price wins.
        reported = self.cost if self.cost or not (self.input or self.output) else None
        cost = reported if reported is not None else self._priced_cost(prices)
        if cost is not None:
            values["cost"] = cost / per_op
        price = self._price(table, cost)
        if price:
            values["price"] = price
        return values

    def _price(self, table: dict[str, float], cost: float | None) -> float | None:
        """USD per million tokens of the models used, at a fixed mix of input and output.

        A fixed mix, so that the price moves when the model does and not when a
        conversation reads more than it writes; without a price table entry, the
        emitted cost over the tokens."""
        tokens = known = 0.0
        for model, price in table.items():
            spent = sum(self.tokens_by_model[model])
            tokens += spent
            known += spent * price
        if tokens > 0:
            return known / tokens
        total = self.input + self.output
        return cost / total * 1e6 if cost and total > 0 else None

    def _model_prices(self, table: dict[str, float]) -> dict[str, float]:
        """The price of each model the interval's tokens went to: the table's; for a model
        the table lacks, alone in the interval, its emitted cost over its tokens."""
        if table or not self.cost:
            return table
        spent = {model: i + o for model, (i, o) in self.tokens_by_model.items() if i + o > 0}
        if len(spent) != 1:
            return {}
        ((model, tokens),) = spent.items()
        return {model: self.cost / tokens * 1e6}

    def _table_prices(self, prices: PriceTable) -> dict[str, float]:
        """The table's price, at the fixed mix, of each priced model that spent tokens."""
        found = {}
        for model, (i, o) in self.tokens_by_model.items():
            price = prices.per_million(model) if i + o > 0 else None
            if price is not None:
                found[model] = price
        return found

    def _priced_cost(self, prices: PriceTable) -> float | None:
        costs = [prices.cost(m, i, o) for m, (i, o) in self.tokens_by_model.items()]
        known = [c for c in costs if c is not None]
        return sum(known) if known else None


def _finest(hist: dict[tuple[float, ...], list[int]]) -> tuple[float, tuple, list] | None:
    """The calls' median, with the bounds and counts of the fine layout most calls were
    recorded in; None when no layout is fine."""
    for bounds, counts in sorted(hist.items(), key=lambda kv: -sum(kv[1])):
        median = geometric_mean(bounds, counts)
        if median is not None:
            return median, bounds, counts
    return None


def quantile(bounds: tuple[float, ...], counts: list[float], q: float) -> float | None:
    """Quantile ``q`` of an explicit-bucket histogram, interpolated in its bucket."""
    total = sum(counts)
    if total <= 0:
        return None
    rank, seen = q * total, 0.0
    for i, c in enumerate(counts):
        if c > 0 and seen + c >= rank:
            if i >= len(bounds):
                return bounds[-1] if bounds else None
            lower = bounds[i - 1] if i > 0 else 0.0
            return lower + (bounds[i] - lower) * (rank - seen) / c
        seen += c
    return bounds[-1] if bounds else None


FINE_FIRST_BOUND, FINE_RATIO = 0.05, 4.0
SPANS_FOR_MEDIAN = 0.8  # spans must have seen this share of the metrics' calls


def geometric_mean(bounds: tuple[float, ...], counts: list[float]) -> float | None:
    """The geometric mean of the calls in an explicit-bucket histogram (each call at its
    bucket's geometric middle), or None when the buckets are too coarse to tell.

    For log-normal-ish latencies this is the calls' median: one straggler five times
    slower moves it by a fifth of what it moves the arithmetic mean of five calls. Buckets
    count as fine when the first bound is at most 50 ms and each is at most 4× the last."""
    positive = [b for b in bounds if b > 0]
    total = sum(counts)
    if total <= 0 or not positive or positive[0] > FINE_FIRST_BOUND:
        return None
    if any(b > FINE_RATIO * a for a, b in itertools.pairwise(positive)):
        return None
    log_sum = 0.0
    for i, c in enumerate(counts):
        if c:
            log_sum += c * math.log(_bucket_middle(bounds, i))
    return math.exp(log_sum / total)


def _bucket_middle(bounds: tuple[float, ...], i: int) -> float:
    lower = bounds[i - 1] if i > 0 else 0.0
    if i >= len(bounds):
        return 2.0 * bounds[-1]
    upper = bounds[i]
    return math.sqrt(lower * upper) if lower > 0 else max(upper / 2.0, 1e-9)


def _plus(a: float | None, b: float | None) -> float | None:
    """A sum of figures that may be unknown (unknown only when both are)."""
    return None if a is None and b is None else (a or 0.0) + (b or 0.0)


def _errored(attrs: Mapping[str, Any]) -> bool:
    return any(attrs.get(k) not in (None, "") for k in ERROR_KEYS)
