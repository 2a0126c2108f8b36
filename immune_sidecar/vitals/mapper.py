"""Turns OTLP metrics exports into vital samples, one per agent; spans fill them in.

A sample spans about ``sample_seconds``: an agent exporting more often has its
exports added up until the export nearest that long after its last sample (the
detector's budget, learning and lasting sums are stated per sample, and a
minute of a slow cycle cut in four would look like four minutes of it).

An agent's spans wait (``SpanBook``) for its next metrics export, whose sample
they complete; so do the calls the egress gate saw it make (a book of their own,
filling in what metrics and spans did not say). An agent that sends no metrics
gets a sample from its spans and calls alone once ``span_interval_seconds`` have passed
since its last sample (or, after a pause, since its first figures came) and no metrics
export has come for half as long again.
"""

import dataclasses
import math
import threading
from typing import Any

from . import exponential, identity
from .attributes import stream_key, to_dict
from .delta import DeltaTracker, PointValue
from .prices import PriceTable
from .rules import DRIFT_PREFIXES, MetricRule, RuleBook
from .sample import Labels, PromptPrint, Tally, VitalSample
from .spans import SpanBook

CUMULATIVE = 2
NO_RECORDED_VALUE = 1
MAX_REASONS = 3
DEFAULT_PROMPT_KEYS = ("gen_ai.prompt.hash", "gen_ai.prompt.name")
RESOURCE_PROMPT_KEY = "gen_ai.agent.version"


class UnusablePoint(ValueError):
    """A data point that cannot be used; the message says why."""


@dataclasses.dataclass
class MapResult:
    """What one export yielded: samples, labels, and the point accounting."""

    samples: list[VitalSample] = dataclasses.field(default_factory=list)
    labels: dict[str, Labels] = dataclasses.field(default_factory=dict)
    resources: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    accepted: int = 0
    rejected: int = 0
    unmapped: int = 0
    coarse: int = 0  # samples whose latency buckets were too coarse for a p95
    drift: set[str] = dataclasses.field(default_factory=set)
    reasons: list[str] = dataclasses.field(default_factory=list)

    def reject(self, count: int, reason: str) -> None:
        """Count refused points, keeping the first few reasons."""
        self.rejected += count
        if len(self.reasons) < MAX_REASONS and reason not in self.reasons:
            self.reasons.append(reason)


class Mapper:
    """Maps export requests to vital samples; keeps the cumulative stream state."""

    def __init__(
        self,
        rules: RuleBook,
        prices: PriceTable,
        deltas: DeltaTracker,
        prompt_keys: tuple[str, ...] = DEFAULT_PROMPT_KEYS,
        version_keys: tuple[str, ...] = identity.VERSION_KEYS,
        span_interval_seconds: float = 60.0,
        identity_keys: tuple[str, ...] = identity.DEFAULT_IDENTITY,
        sample_seconds: float = 0.0,
    ) -> None:
        self._rules = rules
        self._prices = prices
        self._deltas = deltas
        self._prompt_keys = prompt_keys
        self._version_keys = version_keys
        self._last_sample: dict[str, float] = {}
        self._last_metrics: dict[str, float] = {}
        self._identity = identity_keys
        # Keys a point may carry that change its agent (the rest come from the resource).
        self._point_keys = frozenset(identity_keys)
        self.spans = SpanBook(identity_keys, version_keys)
        self.calls = SpanBook(identity_keys, version_keys)  # what the egress gate saw
        self._span_interval = span_interval_seconds
        self._sample_seconds = sample_seconds
        self._open: dict[str, Tally] = {}  # exports not yet cut into a sample
        self._open_lock = threading.Lock()  # exports come on several threads, and the timer

    def map(self, request: Any, now: float) -> MapResult:
        """Map an ``ExportMetricsServiceRequest``; never raises on point content."""
        result, tallies = MapResult(), {}
        for rm in request.resource_metrics:
            resource = to_dict(rm.resource.attributes)
            agent = identity.resource_agent_id(resource, self._identity)
            ctx = _Resource(resource, agent, stream_key(resource))
            self._deltas.follow(ctx.key, now)
            for sm in rm.scope_metrics:
                for metric in sm.metrics:
                    self._map_metric(metric, sm.scope.name, ctx, tallies, result, now)
        for agent_id, tally in tallies.items():
            self._take_export(agent_id, tally, now, result)
        self._deltas.sweep(now)
        return result

    def _take_export(self, agent_id: str, tally: Tally, now: float, result: MapResult) -> None:
        """Add an export to the agent's open sample, and cut the sample when it is due."""
        with self._open_lock:
            held = self._open.pop(agent_id, None)
            if held is not None:
                held.absorb(tally)
                tally = held
            due = self._due(agent_id, now)
            self._last_metrics[agent_id] = now
            if not due:
                self._open[agent_id] = tally
                result.labels[agent_id] = tally.labels
                return
        self._finish(agent_id, tally, now, result)

    def _due(self, agent_id: str, now: float) -> bool:
        """Whether this export ends the agent's sample: the export nearest ``sample_seconds``
        after the last sample does (every export, with 0 or no sample yet)."""
        last = self._last_sample.get(agent_id)
        if last is None or self._sample_seconds <= 0:
            return True
        gap = now - self._last_metrics.get(agent_id, last)  # since the export before
        return now - last >= self._sample_seconds - gap / 2

    def map_spans(self, request: Any, now: float) -> MapResult:
        """Take an ``ExportTraceServiceRequest`` in; samples of agents that send only spans."""
        result = MapResult()  # the handler counts the spans; none is refused here
        for agent_id in self.spans.take(request, now):
            if self._spans_alone(agent_id, now):
                self._finish(agent_id, Tally(), now, result)
        return result

    def map_due(self, now: float) -> MapResult:
        """Samples of agents without metrics whose spans or gate calls have waited long
        enough (called on a timer: the gate's calls come with no export to cut them)."""
        result = MapResult()
        for agent_id in {*self.calls.waiting(), *self.spans.waiting()}:
            if self._spans_alone(agent_id, now):
                self._finish(agent_id, Tally(), now, result)
        with self._open_lock:
            stopped = [(a, t) for a, t in self._open.items() if self._stopped(a, now)]
            for agent_id, _ in stopped:
                del self._open[agent_id]
        for agent_id, tally in stopped:
            self._finish(agent_id, tally, now, result)
        return result

    def _stopped(self, agent_id: str, now: float) -> bool:
        """Whether an agent with an open sample sent nothing for a whole sample's time."""
        return now - self._last_metrics.get(agent_id, now) >= self._sample_seconds

    def forget(self, agent_id: str) -> None:
        """Drop per-agent state of an evicted agent."""
        self._last_sample.pop(agent_id, None)
        self._last_metrics.pop(agent_id, None)
        self._open.pop(agent_id, None)
        self.spans.forget(agent_id)
        self.calls.forget(agent_id)

    def _spans_alone(self, agent_id: str, now: float) -> bool:
        books = (self.spans, self.calls)
        since = [s for b in books if (s := b.waiting_since(agent_id)) is not None]
        metrics = self._last_metrics.get(agent_id)
        quiet = metrics is None or now - metrics >= 1.5 * self._span_interval
        if not (since and quiet):
            return False
        return now - self._started(agent_id, min(since)) >= self._span_interval

    def _started(self, agent_id: str, first: float) -> float:
        """When the waiting sample began: at the last one's cut when figures came within an
        interval of it (a steady sender's samples are ``span_interval_seconds`` long, not
        that and the gap between its exports), else with its first figures."""
        last = self._last_sample.get(agent_id)
        return last if last is not None and first - last <= self._span_interval else first

    def _finish(self, agent_id: str, tally: Tally, now: float, result: MapResult) -> None:
        for book in (self.spans, self.calls):
            figures = book.drain(agent_id)
            if figures is not None:
                tally.fill(figures)
        result.labels[agent_id] = tally.labels
        interval = now - self._last_sample.get(agent_id, now)
        sample = tally.to_sample(agent_id, now, interval, self._prices)
        result.coarse += tally.coarse and sample is not None
        if sample is not None:
            self._last_sample[agent_id] = now
            result.samples.append(sample)

    def _map_metric(self, metric, scope: str, ctx: "_Resource", tallies, result: MapResult, now):
        kind = metric.WhichOneof("data")
        points = getattr(metric, kind).data_points if kind else ()
        rules = self._rules.for_metric(metric.name)
        if not rules:
            result.unmapped += len(points)
            result.accepted += len(points)
            if metric.name.startswith(DRIFT_PREFIXES):
                result.drift.add(metric.name)
            return
        if kind == "summary":
            result.reject(len(points), f"{metric.name}: summary points cannot feed vitals")
            return
        if kind is None:  # a metric with no data at all
            return
        cumulative = kind != "gauge" and getattr(metric, kind).aggregation_temporality == CUMULATIVE
        stream = (ctx.key, scope, metric.name)
        for point in points:
            try:
                self._map_point(
                    point, kind, metric.name, rules, ctx, stream, cumulative, tallies, now
                )
            except UnusablePoint as exc:
                result.reject(1, f"{metric.name}: {exc}")
            else:
                result.accepted += 1

    def _map_point(self, point, kind, name, rules, ctx, stream, cumulative, tallies, now) -> None:
        attrs = to_dict(point.attributes)
        agent_id = (
            ctx.agent_id
            if self._point_keys.isdisjoint(attrs)
            else identity.agent_id(attrs, ctx.attrs, self._identity)
        )
        if agent_id is None:
            raise UnusablePoint("no agent identity (set service.name or gen_ai.agent.id)")
        if point.flags & NO_RECORDED_VALUE:
            return
        value = _point_value(point, kind)
        rule = _first_match(rules, attrs)
        tally = tallies.get(agent_id)
        if tally is None:
            tally = tallies[agent_id] = self._new_tally(attrs, ctx)
        if rule is None:
            return
        labels = identity.point_labels(attrs, name)
        if cumulative:
            value = self._deltas.delta(
                (*stream, stream_key(attrs)), point.start_time_unix_nano, value, now
            )
            if value is None:
                tally.touched = True
                return
        if value.count or value.total:
            # Cumulative series of an old model or prompt are re-sent forever: only points
            # with work done now say which model, tools and prompt the agent uses.
            tally.labels.add(labels)
            named = self._prompt_hash(attrs, ctx.attrs)
            if named and named != tally.prompt.hash:
                tally.prompt = PromptPrint(named)
        tally.add(rule.role, value, attrs, labels.model)

    def _new_tally(self, attrs: dict[str, Any], ctx: "_Resource") -> Tally:
        tally = Tally()
        tally.labels.name = identity.agent_name(attrs, ctx.attrs)
        tally.version = identity.first(ctx.attrs, self._version_keys) or ""
        return tally

    def _prompt_hash(self, attrs: dict[str, Any], resource: dict[str, Any]) -> str:
        for key in self._prompt_keys:
            if attrs.get(key):
                return str(attrs[key])
        return str(resource.get(RESOURCE_PROMPT_KEY, ""))


@dataclasses.dataclass(frozen=True)
class _Resource:
    attrs: dict[str, Any]
    agent_id: str | None
    key: tuple


def _first_match(rules: tuple[MetricRule, ...], attrs: dict[str, Any]) -> MetricRule | None:
    return next((r for r in rules if r.matches(attrs)), None)


def _point_value(point, kind: str) -> PointValue:
    if kind == "histogram":
        return _histogram_value(point)
    if kind == "exponential_histogram":
        return _exponential_value(point)
    raw = point.as_double if point.WhichOneof("value") == "as_double" else point.as_int
    value = _checked(float(raw), "value")
    return PointValue(value, value)


def _histogram_value(point) -> PointValue:
    buckets, bounds = tuple(point.bucket_counts), tuple(point.explicit_bounds)
    if buckets and len(buckets) != len(bounds) + 1:
        raise UnusablePoint(
            f"{len(buckets)} bucket counts for {len(bounds)} bounds (need bounds + 1 counts)"
        )
    if buckets and sum(buckets) != point.count:
        raise UnusablePoint(f"bucket counts add up to {sum(buckets)}, not the count {point.count}")
    if not math.isfinite(sum(bounds)):  # any NaN or infinity makes the sum non-finite
        raise UnusablePoint("explicit bounds must be finite")
    total = point.sum if point.HasField("sum") else 0.0
    return PointValue(float(point.count), _checked(total, "sum"), buckets, bounds)


def _exponential_value(point) -> PointValue:
    try:
        buckets = exponential.explicit_buckets(point)
    except exponential.BadExponentialPoint as exc:
        raise UnusablePoint(str(exc)) from None
    total = point.sum if point.HasField("sum") else 0.0
    return PointValue(float(point.count), _checked(total, "sum"), buckets, exponential.BOUNDS)


def _checked(value: float, what: str) -> float:
    if not math.isfinite(value):
        raise UnusablePoint(f"{what} is {value}; vitals need finite numbers")
    if value < 0:
        raise UnusablePoint(f"{what} is negative ({value}); these metrics only grow")
    return value
