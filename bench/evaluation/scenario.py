"""Seeded, reproducible fleets: agents, benign model changes and labelled faults.

A scenario is plain data. Every fault episode says which agent, which kind,
from which interval to which, how it begins (a step, a slow drift, or small at
first) and its magnitude in standard deviations of the vital it moves, measured
on that agent's own healthy intervals. ``effect`` turns the labels into what
the agent does in a given interval; ``episode_at`` is the ground truth.
"""

import bisect
import dataclasses
import math
import random
import statistics

from immune_demo.faults import BY_NAME
from immune_demo.kinds import KINDS
from immune_sidecar.detect import BaselineSettings
from immune_sidecar.vitals.prices import DEFAULT_PRICES, PriceTable

from .workload import HEALTHY, Effect, Operation, Traits, draw, load, mean_tool_rate

INTERVAL_SECONDS = 60.0
WARMUP = 90  # intervals before the first fault, so baselines can learn
RAMP = 30  # a slow drift reaches its magnitude after this many intervals
SMALL_FIRST = 10  # a fault that begins small stays at 1σ this long
SHAPES = ("step", "drift", "small_first", "creep")
FAST_EXPORTERS = 0.15  # the share of agents whose SDK exports more often than the interval
SDK_BUCKETS = 0.2  # the share whose call durations are on the SDK's default buckets
ROUTERS = 0.15  # the share of agents that send some calls to a dearer model
# The share of agents that send spans and no metrics, every few seconds (a batch span
# processor's default schedule).
SPAN_SENDERS, SPAN_EXPORT_SECONDS = 0.15, 5.0
# The system prompts spans-only agents' instrumentations capture, and their shares.
SPAN_PROMPTS = {"fixed": 0.4, "dated": 0.4, "varying": 0.2}
CREEP = 0.05  # a creeping fault grows the vital by this share of its level per interval
# Fault kind → the Effect field it scales and the vital its magnitude is measured on.
SCALED = {
    "token_explosion": ("input_tokens", "input_tokens"),
    "tool_loop": ("tool_rate", "tool_calls"),
    "latency_storm": ("latency", "latency"),
    "retry_storm": ("retry_rate", "retries"),
    "error_storm": ("error_rate", "error_rate"),
    "prompt_injection": ("tool_rate", "tool_calls"),
}
FAULT_KINDS = (*SCALED, "cost_spike", "prompt_drift")
PRICES = PriceTable(DEFAULT_PRICES)  # the sidecar's own lookup, so cost means the same
PRICE_JUMP = BaselineSettings().price_jump
# Benign upgrades: a sibling model at about the same price.
SUCCESSORS = {
    "gpt-4o": "gpt-4.1",
    "claude-3-5-haiku": "claude-haiku-4",
    "gemini-2.5-pro": "gemini-2.5-pro-002",
    "gpt-4o-mini": "gpt-4o-mini-2024-07-18",
}


@dataclasses.dataclass(frozen=True)
class Noise:
    """The ranges each agent's noise is drawn from (uniformly): the ones the detector was
    tuned on, or wider ones (``WIDER``) that stand for a fleet it has not seen."""

    operations: tuple[float, float] = (0.7, 1.5)  # × its kind's calls an interval
    latency_shape: tuple[float, float] = (0.3, 0.7)  # σ of a call's log latency
    token_shape: tuple[float, float] = (0.2, 0.5)
    burst_share: tuple[float, float] = (0.02, 0.1)  # intervals whose tool calls burst
    burst_factor: tuple[float, float] = (1.5, 2.5)
    stragglers: tuple[float, float] = (0.01, 5.0)  # share of calls, times as slow (fixed)
    # The regimes' own ranges (on the agents that have them).
    cache_hits: tuple[float, float] = (0.3, 0.7)
    sawtooth_growth: tuple[float, float] = (1.0, 3.0)
    idle_share: tuple[float, float] = (0.3, 0.6)
    error_rate: tuple[float, float] = (0.01, 0.03)
    retries_per_error: tuple[int, int] = (1, 3)


# Heavier tails and more of every regime: bursts of up to 4× the tool calls in up to a
# fifth of the intervals, 3% stragglers ten times as slow, up to 85% idle, and so on.
WIDER = Noise(
    operations=(0.3, 3.0), latency_shape=(0.3, 1.0), token_shape=(0.2, 0.8),
    burst_share=(0.05, 0.2), burst_factor=(2.0, 4.0), stragglers=(0.03, 10.0),
    cache_hits=(0.1, 0.9), sawtooth_growth=(1.0, 5.0), idle_share=(0.3, 0.85),
    error_rate=(0.01, 0.05), retries_per_error=(1, 4),
)  # fmt: skip


@dataclasses.dataclass(frozen=True)
class Episode:
    """One labelled fault: ``onset`` ≤ interval < ``end`` on one agent."""

    agent: str
    kind: str
    onset: int
    end: int
    magnitude: float  # σ of the moved vital; inf for a new prompt alone
    shape: str
    model: str = ""  # cost spikes: the pricier model the agent moved to
    # Creeping faults: the largest factor the vital reaches (the magnitude, as a factor).
    ceiling: float = math.inf

    @property
    def expected(self) -> frozenset[str]:
        """The anomaly types that name this fault."""
        return BY_NAME[self.kind].expected

    @property
    def reached(self) -> float:
        """The largest size the fault shows before it ends (σ): a drift shorter than its
        ramp never reaches its magnitude, and is scored by what it reached, as a creep is."""
        if self.shape == "drift":
            return self.magnitude * min(1.0, (self.end - self.onset) / RAMP)
        return self.magnitude

    def magnitude_at(self, index: int) -> float:
        """The fault's size in the given interval, after its shape (σ; creep: see factor_at)."""
        step = index - self.onset
        if self.shape == "drift":
            return self.magnitude * min(1.0, (step + 1) / RAMP)
        if self.shape == "small_first" and step < SMALL_FIRST:
            return min(1.0, self.magnitude)
        return self.magnitude

    def factor_at(self, index: int) -> float:
        """A creeping fault's multiplier: 5% of the level more each interval, up to its ceiling."""
        return min(self.ceiling, 1.0 + CREEP * (index - self.onset + 1))


@dataclasses.dataclass(frozen=True)
class Agent:
    """One simulated agent: its traits, the vitals' healthy mean and σ, its benign change."""

    name: str
    traits: Traits
    means: dict[str, float]
    sigmas: dict[str, float]
    model_change: int | None = None  # interval of a benign model upgrade
    successor: str = ""
    # A benign deploy: a new version and prompt, with work a little different after it.
    deploy: int | None = None
    deploy_latency: float = 1.0
    deploy_tokens: float = 1.0

    def relative_sigma(self, vital: str) -> float:
        """The vital's healthy σ as a share of its healthy mean."""
        return self.sigmas[vital] / max(self.means[vital], 1e-9)


@dataclasses.dataclass(frozen=True)
class Scenario:
    """A fleet over ``intervals`` intervals of ``interval_seconds``, with ground truth."""

    seed: int
    interval_seconds: float
    intervals: int
    agents: tuple[Agent, ...]
    episodes: tuple[Episode, ...]
    # Fleet-wide slowdowns (a provider having a bad half hour): (onset, end, latency factor).
    slowdowns: tuple[tuple[int, int, float], ...] = ()

    def __post_init__(self) -> None:
        by_agent: dict[str, list[Episode]] = {a.name: [] for a in self.agents}
        for episode in sorted(self.episodes, key=lambda e: e.onset):
            by_agent[episode.agent].append(episode)
        object.__setattr__(self, "_by_agent", by_agent)

    @property
    def agent_hours(self) -> float:
        """Agents × simulated hours."""
        return len(self.agents) * self.intervals * self.interval_seconds / 3600

    def episodes_of(self, agent: str) -> list[Episode]:
        """The agent's episodes in time order."""
        return self._by_agent[agent]

    def episode_at(self, agent: str, index: int, grace: int = 0) -> Episode | None:
        """The episode under way at ``index`` (or ended at most ``grace`` intervals before)."""
        episodes = self._by_agent[agent]
        at = bisect.bisect_right([e.onset for e in episodes], index) - 1
        if at >= 0 and index < episodes[at].end + grace:
            return episodes[at]
        return None

    def effect(self, agent: Agent, index: int) -> Effect:
        """What the agent's work looks like in interval ``index``."""
        healthy = self.healthy_effect(agent, index)
        episode = self.episode_at(agent.name, index)
        if episode is None:
            return healthy
        return _fault_effect(agent, episode, index, healthy)

    def healthy_effect(self, agent: Agent, index: int) -> Effect:
        """The benign changes in force at ``index``: model upgrade, deploy, slowdowns."""
        changes: dict = {}
        if agent.model_change is not None and index >= agent.model_change:
            changes["model"] = agent.successor
        if agent.deploy is not None and index >= agent.deploy:
            changes.update(version="2", prompt_suffix="-r2", latency=agent.deploy_latency,
                           input_tokens=agent.deploy_tokens)  # fmt: skip
        for onset, end, factor in self.slowdowns:
            if onset <= index < end:
                changes["latency"] = changes.get("latency", 1.0) * factor
        return dataclasses.replace(HEALTHY, **changes)

    def agent(self, name: str) -> Agent:
        """The named agent."""
        return next(a for a in self.agents if a.name == name)

    def calls_during(self, episode: Episode) -> float:
        """The calls an interval its agent is expected to make over the fault's span (a
        batch agent's idle phase: a call every few intervals, or none)."""
        traits = self.agent(episode.agent).traits
        ends = ((i + 1) * self.interval_seconds for i in range(episode.onset, episode.end))
        return statistics.fmean(traits.operations * load(traits, at) for at in ends)

    def slowed(self, index: int, grace: int = 0) -> bool:
        """Whether a fleet-wide slowdown is under way (or ended at most ``grace`` before)."""
        return any(onset <= index < end + grace for onset, end, _ in self.slowdowns)


def _fault_effect(agent: Agent, episode: Episode, index: int, healthy: Effect) -> Effect:
    changes: dict = {"model": episode.model or healthy.model}
    if episode.kind in ("prompt_drift", "prompt_injection"):
        changes["prompt_suffix"] = f"{healthy.prompt_suffix}-{episode.kind}-{episode.onset}"
    if episode.kind in SCALED:
        field, vital = SCALED[episode.kind]
        if episode.shape == "creep":
            factor = episode.factor_at(index)
        else:
            size = episode.magnitude_at(index) * agent.sigmas[vital]
            factor = 1.0 + size / max(agent.means[vital], 1e-9)
        changes[field] = getattr(healthy, field) * _field_factor(agent.traits, field, factor)
    return dataclasses.replace(healthy, **changes)


def _field_factor(traits: Traits, field: str, factor: float) -> float:
    """The factor on ``field`` that moves the mean of the vital it drives by ``factor``.

    Most vitals are in proportion to their field. Retries are not when the client retries
    each failure (the field drives only the other retries), nor is the error rate (a failed
    call makes no tool calls, so more failures also shrink what the rate is a share of)."""
    if field == "retry_rate":
        from_failures = traits.retries_per_error * traits.error_rate
        return 1.0 + (factor - 1.0) * (traits.retry_rate + from_failures) / traits.retry_rate
    if field == "error_rate":
        tools = mean_tool_rate(traits)
        share = factor * traits.error_rate / (1.0 + tools * (1.0 - traits.error_rate))
        failing = share * (1.0 + tools) / (1.0 + share * tools)  # the inverse of the line above
        return failing / traits.error_rate
    return factor


def generate(
    seed: int,
    agents: int,
    hours: float,
    mean_gap_hours: float = 6.0,
    slowdowns_per_day: float = 2.0,
    noise: Noise = Noise(),
) -> Scenario:
    """A fleet of ``agents`` over ``hours``, with faults about every ``mean_gap_hours`` each,
    its agents' noise drawn from ``noise``."""
    rng = random.Random(f"scenario:{seed}")
    # Apart, so that the other draws stay as they were: how agents export.
    parts = ("exports", "telemetry", "prompts", "routing", "buckets")
    exports = tuple(random.Random(f"{part}:{seed}") for part in parts)
    intervals = round(hours * 3600 / INTERVAL_SECONDS)
    fleet = tuple(_agent(rng, n, intervals, exports, noise) for n in range(agents))
    episodes = [e for a in fleet for e in _episodes(rng, a, intervals, mean_gap_hours * 60)]
    slowdowns = _slowdowns(rng, intervals, slowdowns_per_day)
    return Scenario(seed, INTERVAL_SECONDS, intervals, fleet, tuple(episodes), slowdowns)


def _slowdowns(rng: random.Random, intervals: int, per_day: float):
    count = round(per_day * intervals * INTERVAL_SECONDS / 86_400)
    starts = sorted(rng.randrange(WARMUP, max(WARMUP + 1, intervals - 30)) for _ in range(count))
    return tuple((s, s + rng.randint(10, 30), rng.uniform(1.3, 2.0)) for s in starts)


def _agent(rng: random.Random, n: int, intervals: int, exports, noise: Noise) -> Agent:
    kind = KINDS[n % len(KINDS)]
    p = kind.normal
    traits = Traits(
        operations=p.operations * rng.uniform(*noise.operations),
        latency=p.latency * rng.uniform(0.8, 1.25),
        latency_shape=rng.uniform(*noise.latency_shape),
        input_tokens=p.input_tokens * rng.uniform(0.7, 1.4),
        output_tokens=p.output_tokens * rng.uniform(0.7, 1.4),
        token_shape=rng.uniform(*noise.token_shape),
        tool_rate=p.tool_calls,
        burst_share=rng.uniform(*noise.burst_share),
        burst_factor=rng.uniform(*noise.burst_factor),
        retry_rate=rng.uniform(0.01, 0.05),
        error_rate=rng.uniform(0.002, 0.02),
        model=p.model,
        provider=p.provider,
        prompt_hash=p.prompt_hash,
        tools=p.tools,
        phase=rng.choice((0.0, 1 / 3, 2 / 3)),
        straggler_share=noise.stragglers[0],
        straggler_factor=noise.stragglers[1],
    )
    often, spans, prompts, routing, buckets = exports
    traits = _exporting(_regimes(rng, traits, noise), often, spans, prompts)
    traits = _routing(_bucketed(traits, buckets), routing)
    means, sigmas = healthy_spread(traits, random.Random(rng.random()))
    upgraded = rng.random() < 0.25 and intervals > WARMUP
    change = rng.randrange(WARMUP, intervals) if upgraded else None
    successor = SUCCESSORS.get(p.model, p.model) if change is not None else ""
    deployed = rng.random() < 0.3 and intervals > WARMUP
    deploy = rng.randrange(WARMUP, intervals) if deployed else None
    return Agent(f"{kind.name}-{n:03d}", traits, means, sigmas, change, successor, deploy,
                 rng.uniform(0.85, 1.2), rng.uniform(0.8, 1.3))  # fmt: skip


def _exporting(t: Traits, often: random.Random, spans: random.Random, prompts) -> Traits:
    """How the agent exports: metrics once an interval or more often, or spans alone (and
    which system prompt they capture)."""
    if often.random() < FAST_EXPORTERS:
        t = dataclasses.replace(t, export_seconds=often.choice((15.0, 20.0, 30.0)))
    prompt = prompts.choices(tuple(SPAN_PROMPTS), tuple(SPAN_PROMPTS.values()))[0]
    if spans.random() < SPAN_SENDERS:
        t = dataclasses.replace(
            t, telemetry="spans", export_seconds=SPAN_EXPORT_SECONDS, prompt=prompt
        )
    return t


def _bucketed(t: Traits, rng: random.Random) -> Traits:
    """Whether the agent records call durations on the SDK's default buckets (metrics too
    coarse for a median, as OpenLLMetry's), not the conventions' advised ones."""
    return dataclasses.replace(t, advised_buckets=rng.random() >= SDK_BUCKETS)


def _routing(t: Traits, rng: random.Random) -> Traits:
    """A router (on a share of the fleet) sends some calls to a model 3 to 20 times as dear
    (with a dearer one still above it, for its cost spikes)."""
    routed, share = rng.random() < ROUTERS, rng.uniform(0.03, 0.3)
    own, top = blended(t.model), max(map(blended, DEFAULT_PRICES))
    tiers = sorted(
        m for m in DEFAULT_PRICES if 3 * own <= blended(m) <= min(20 * own, top / PRICE_JUMP)
    )
    escalation = rng.choice(tiers) if tiers else ""
    if not (routed and escalation):
        return t
    return dataclasses.replace(t, routed=share, escalation=escalation)


def blended(model: str) -> float:
    """A model's price per million tokens, as the sidecar weighs it (0: unknown)."""
    return PRICES.per_million(model) or 0.0


def _regimes(rng: random.Random, t: Traits, noise: Noise) -> Traits:
    """Noise the detector was not tuned on, each on a share of the fleet."""
    changes: dict = {}
    if rng.random() < 0.25:
        changes["cache_hits"] = rng.uniform(*noise.cache_hits)
    if rng.random() < 0.2:
        changes.update(
            sawtooth_growth=rng.uniform(*noise.sawtooth_growth),
            sawtooth_intervals=rng.randint(15, 45),
        )
    if rng.random() < 0.15:
        changes["idle_share"] = rng.uniform(*noise.idle_share)
    if rng.random() < 0.3:
        changes.update(
            error_rate=rng.uniform(*noise.error_rate),
            retries_per_error=rng.randint(*noise.retries_per_error),
        )
    return dataclasses.replace(t, **changes)


def healthy_spread(
    traits: Traits, rng: random.Random, samples: int = 2000
) -> tuple[dict[str, float], dict[str, float]]:
    """Mean and σ of each vital over healthy intervals at random times of day."""
    draws = (draw(traits, HEALTHY, rng.uniform(0, 86_400), rng) for _ in range(samples))
    rows = [interval_vitals(ops, traits) for ops in draws if ops]
    means = {v: statistics.fmean(r[v] for r in rows) for v in rows[0]}
    sigmas = {v: statistics.pstdev(r[v] for r in rows) or 1e-9 for v in rows[0]}
    return means, sigmas


def interval_vitals(ops: list[Operation], traits: Traits, model: str = "") -> dict[str, float]:
    """The vitals of one interval, per operation, as the sidecar defines them."""
    n = len(ops)
    tools = sum(o.tool_calls for o in ops)
    spent = sum(PRICES.cost(o.model or model or traits.model, o.input_tokens, o.output_tokens)
                for o in ops)  # fmt: skip
    return {
        "latency": sum(o.latency for o in ops) / n,
        "input_tokens": sum(o.input_tokens for o in ops) / n,
        "tool_calls": tools / n,
        "retries": sum(o.retries for o in ops) / n,
        "error_rate": sum(o.failed for o in ops) / (n + tools),
        "cost": spent / n,
    }


def _episodes(rng: random.Random, agent: Agent, intervals: int, mean_gap: float):
    cursor = WARMUP
    while True:
        onset = cursor + round(rng.expovariate(1 / mean_gap))
        end = onset + rng.randint(20, 60)
        if end > intervals:
            return
        kind = rng.choice(FAULT_KINDS)
        magnitude = math.exp(rng.uniform(math.log(2.0), math.log(20.0)))
        yield _episode(agent, kind, onset, end, magnitude, rng.choice(SHAPES))
        cursor = end + 30  # room to recover before the next


def _episode(agent: Agent, kind: str, onset: int, end: int, magnitude: float, shape: str):
    if kind == "prompt_drift":
        return Episode(agent.name, kind, onset, end, math.inf, "step")
    if kind == "cost_spike":
        model, magnitude = _pricier(agent, magnitude, onset)
        return Episode(agent.name, kind, onset, end, magnitude, "step", model)
    if shape == "creep":  # its magnitude is the σ it reaches before it ends
        vital = SCALED[kind][1]
        unit = agent.relative_sigma(vital)
        ceiling = 1.0 + magnitude * unit
        reached = min(ceiling, 1.0 + CREEP * (end - onset))
        return Episode(agent.name, kind, onset, end, (reached - 1) / unit, shape, ceiling=ceiling)
    return Episode(agent.name, kind, onset, end, magnitude, shape)


def _pricier(agent: Agent, wanted: float, onset: int) -> tuple[str, float]:
    """The model whose price moves cost closest to ``wanted`` σ, and the σ it moves it.

    Only models at least ``price_jump`` times as dear as the one in use at ``onset`` (after
    a benign upgrade, its successor) count: a move to a model of about the same price is an
    upgrade (the benign model changes), not a cost spike."""
    t = agent.traits
    upgraded = agent.model_change is not None and agent.model_change <= onset
    base, now = PRICES.price(t.model), PRICES.price(agent.successor if upgraded else t.model)
    if t.escalation and blended(t.escalation) > blended(agent.successor if upgraded else t.model):
        now = PRICES.price(t.escalation)  # a spike is dearer than the dearest model it uses
    unit = agent.means["cost"] / (t.input_tokens * base[0] + t.output_tokens * base[1])
    current = unit * (t.input_tokens * now[0] + t.output_tokens * now[1])
    sigma = agent.sigmas["cost"] * current / agent.means["cost"]  # the spread scales with price
    options = {}
    for model, price in DEFAULT_PRICES.items():
        cost = unit * (t.input_tokens * price[0] + t.output_tokens * price[1])
        if cost >= PRICE_JUMP * current:
            options[model] = (cost - current) / sigma
    return min(options.items(), key=lambda kv: abs(math.log(kv[1] / wanted)))
