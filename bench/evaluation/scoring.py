"""Detection scores from alarms against a scenario's ground truth, with 95% intervals.

An alarm is true when it falls in a fault episode of its agent (or within
``grace`` intervals after it ends, while the agent's figures settle, not counting
intervals in which the agent made no calls); every
other alarm that held the agent is a false quarantine of a healthy agent. A
shared shift (most agents moving the same vital at once) holds nobody and is
counted apart. An episode is detected by its first true alarm; its time to
detect counts the interval that showed the fault first as 1, since a sample
arrives as its interval ends. Scores of several seeds pool by adding up.
"""

import dataclasses
import math
import statistics
from collections.abc import Iterable
from typing import NamedTuple

from immune_sidecar.detect import BaselineSettings
from immune_sidecar.detect.stats import z_of_p

from .detection import Alarm
from .scenario import SCALED, Episode, Scenario

GRACE = 5
BIG = 3.0  # σ: the faults the recall target is about
LARGE_STEP = 5.0  # σ: the step faults the "detected at once" target is about
# The calls an interval a fault's agent made (expected), banded: a fault shows only in calls.
CALL_BANDS = ((0.0, "under 1"), (1.0, "1 to 3"), (3.0, "3 or more"))
# A creeping fault's vital by its healthy σ between intervals, as a share of its level: the
# soonest any test can see a creep of 5% an interval grows with that spread.
SPREAD_BANDS = ((0.0, "under 10%"), (0.1, "10 to 20%"), (0.2, "20 to 40%"), (0.4, "40% or more"))
Z95 = 1.959964


@dataclasses.dataclass(frozen=True)
class TypeScore:
    """How often alarms naming one anomaly type were right."""

    anomaly: str
    alarms: int
    true_alarms: int

    @property
    def precision(self) -> float:
        """True alarms naming the type over all alarms naming it (1 when there are none)."""
        return self.true_alarms / self.alarms if self.alarms else 1.0

    def plus(self, other: "TypeScore") -> "TypeScore":
        """Pooled with another seed's score of the same type."""
        return TypeScore(self.anomaly, self.alarms + other.alarms,
                         self.true_alarms + other.true_alarms)  # fmt: skip


@dataclasses.dataclass(frozen=True)
class KindScore:
    """How faults ≥ BIG σ of one group (their kind, or their calls' band) were caught, and
    whether by the anomaly that names them."""

    kind: str
    episodes: int
    detected: int
    named: int  # caught by an alarm naming one of the kind's expected anomaly types

    @property
    def recall(self) -> float:
        """Detected over all."""
        return self.detected / self.episodes if self.episodes else 1.0

    @property
    def right_type_recall(self) -> float:
        """Caught and named right, over all."""
        return self.named / self.episodes if self.episodes else 1.0

    def plus(self, other: "KindScore") -> "KindScore":
        """Pooled with another seed's score of the same kind."""
        return KindScore(self.kind, self.episodes + other.episodes,
                         self.detected + other.detected, self.named + other.named)  # fmt: skip


@dataclasses.dataclass(frozen=True)
class CreepScore:
    """One fault that grows 5% of its vital's level an interval: when it was caught, and
    when a test knowing it could have been (``creep_bound``)."""

    spread: float  # the vital's healthy σ between intervals, as a share of its level
    delay: float  # intervals to detect (inf: not caught)
    bound: float
    at_once: bool  # shown at once by what comes with it (an injection's new prompt)


class CreepBand(NamedTuple):
    """The creeps of one spread band: how many, how many caught, and the median intervals
    to detect the caught ones and its bound."""

    band: str
    faults: int
    caught: int
    delay: float
    bound: float


@dataclasses.dataclass(frozen=True)
class DetectionScore:
    """Everything the detection table prints for one run (or several, pooled)."""

    types: tuple[TypeScore, ...]
    kinds: tuple[KindScore, ...]
    bands: tuple[KindScore, ...]  # the same, by the calls an interval the agent made
    episodes: int
    detected: int
    big_episodes: int
    big_detected: int
    delays: tuple[int, ...]  # intervals to detect, per detected big episode
    step_delays: tuple[int, ...]  # the same, for faults ≥ LARGE_STEP σ that begin at full size
    creeps: tuple[CreepScore, ...]  # the faults that grow 5% per interval
    false_alarms: int
    shared_shifts: int
    healthy_agent_hours: float
    interval_seconds: float

    @property
    def recall(self) -> float:
        """Detected episodes over all episodes."""
        return self.detected / self.episodes if self.episodes else 1.0

    @property
    def big_recall(self) -> float:
        """Detected over all episodes of at least ``BIG`` σ."""
        return self.big_detected / self.big_episodes if self.big_episodes else 1.0

    @property
    def big_recall_interval(self) -> tuple[float, float]:
        """Wilson's 95% interval of ``big_recall``."""
        return wilson(self.big_detected, self.big_episodes)

    @property
    def false_per_1000_hours(self) -> float:
        """False quarantines per 1,000 agent-hours of healthy traffic."""
        return 1000 * self.false_alarms / self.healthy_agent_hours

    @property
    def false_interval(self) -> tuple[float, float]:
        """The exact 95% Poisson interval of ``false_per_1000_hours``."""
        low, high = poisson_interval(self.false_alarms)
        scale = 1000 / self.healthy_agent_hours
        return low * scale, high * scale

    @property
    def median_delay(self) -> float:
        """Median intervals to detect a big fault (inf when none was detected)."""
        return _median(self.delays)

    @property
    def median_step_delay(self) -> float:
        """Median intervals to detect a fault ≥ LARGE_STEP σ that began at full size."""
        return _median(self.step_delays)

    @property
    def creep_delays(self) -> tuple[float, ...]:
        """Intervals to detect each caught fault that grows 5% of the level per interval."""
        return tuple(c.delay for c in self.creeps if not math.isinf(c.delay))

    @property
    def creep_bounds(self) -> tuple[float, ...]:
        """For the same creeping faults, the soonest any test could (``creep_bound``)."""
        return tuple(c.bound for c in self.creeps if not math.isinf(c.delay))

    @property
    def median_creep_delay(self) -> float:
        """Median intervals to detect a fault that grows 5% of the level per interval."""
        return _median(self.creep_delays)

    @property
    def median_creep_bound(self) -> float:
        """The median, over the same creeping faults, of ``creep_bound``."""
        return _median(self.creep_bounds)

    def creeps_by_spread(self) -> list[CreepBand]:
        """The creeps a vital alone shows, by its spread band (``SPREAD_BANDS``): faults,
        caught, and the median intervals to detect the caught ones and its bound."""
        bands: dict[str, list[CreepScore]] = {label: [] for _, label in SPREAD_BANDS}
        for creep in self.creeps:
            if not creep.at_once:
                bands[_band(creep.spread, SPREAD_BANDS)].append(creep)
        return [_creep_band(label, creeps) for label, creeps in bands.items() if creeps]

    def delay_quantile(self, q: float) -> float:
        """The ``q`` quantile of intervals to detect."""
        if not self.delays:
            return math.inf
        ordered = sorted(self.delays)
        return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)]


def score(
    scenario: Scenario,
    alarms: Iterable[Alarm],
    grace: int = GRACE,
    budget: float = BaselineSettings().false_alarms_per_1000_hours,
) -> DetectionScore:
    """Score one run's alarms (``budget``: the detector's false alarms per 1,000 hours, which
    sets the creep bound's threshold)."""
    alarms = list(alarms)
    held = [a for a in alarms if not a.shared]
    true, false = _split(scenario, held, grace)
    first = _first_alarms(true)
    big = [e for e in scenario.episodes if e.reached >= BIG]
    delays = {e: first[e].index - e.onset + 1 for e in big if e in first}
    healthy = _healthy_intervals(scenario, grace) * scenario.interval_seconds / 3600
    threshold = z_of_p(budget / 1000 * scenario.interval_seconds / 3600)
    return DetectionScore(
        _type_scores(true, false),
        _group_scores(big, true, lambda e: e.kind),
        _group_scores(big, true, lambda e: _band(scenario.calls_during(e))),
        len(scenario.episodes),
        len(first),
        len(big),
        len(delays),
        tuple(delays.values()),
        tuple(d for e, d in delays.items() if e.shape == "step" and e.reached >= LARGE_STEP),
        tuple(
            _creep(scenario, e, first.get(e), threshold)
            for e in scenario.episodes
            if e.shape == "creep"
        ),
        len(false),
        len(alarms) - len(held),
        healthy,
        scenario.interval_seconds,
    )


def pool(scores: list[DetectionScore]) -> DetectionScore:
    """Several runs' scores as one."""
    add = lambda field: sum(getattr(s, field) for s in scores)  # noqa: E731
    join = lambda field: tuple(d for s in scores for d in getattr(s, field))  # noqa: E731
    return DetectionScore(
        _pooled(s.types for s in scores),
        _pooled(s.kinds for s in scores),
        _pooled(s.bands for s in scores),
        add("episodes"), add("detected"), add("big_episodes"), add("big_detected"),
        join("delays"), join("step_delays"), join("creeps"),
        add("false_alarms"), add("shared_shifts"), add("healthy_agent_hours"),
        scores[0].interval_seconds,
    )  # fmt: skip


def _creep(
    scenario: Scenario, episode: Episode, first: Alarm | None, threshold: float
) -> CreepScore:
    delay = math.inf if first is None else first.index - episode.onset + 1
    bound = creep_bound(scenario, episode, threshold)
    if _at_once(episode):
        return CreepScore(0.0, delay, bound, True)
    spread = scenario.agent(episode.agent).relative_sigma(SCALED[episode.kind][1])
    return CreepScore(spread, delay, bound, False)


def _creep_band(label: str, creeps: list[CreepScore]) -> CreepBand:
    caught = [c for c in creeps if not math.isinf(c.delay)]
    delays, bounds = tuple(c.delay for c in caught), tuple(c.bound for c in caught)
    return CreepBand(label, len(creeps), len(caught), _median(delays), _median(bounds))


def _at_once(episode: Episode) -> bool:
    """Whether what comes with the fault shows it at once (an injection's new prompt)."""
    return episode.kind not in SCALED or episode.kind == "prompt_injection"


def creep_bound(scenario: Scenario, episode: Episode, threshold: float) -> float:
    """The interval by which a test knowing a creep's onset, slope and σ exactly would
    reach ``threshold`` (inf: not before the fault ends), spending the whole false-alarm
    budget on that one test.

    Such a test is the matched filter Σ sₜ·zₜ / √Σ sₜ², sₜ the creep's size in σ t
    intervals in; its mean is √Σ sₜ², and no test at the same false-alarm rate has more
    power at any t. A new prompt (an injection) shows at once."""
    if _at_once(episode):
        return 1.0
    vital = SCALED[episode.kind][1]
    unit = scenario.agent(episode.agent).relative_sigma(vital)
    sizes = ((episode.factor_at(index) - 1.0) / unit for index in range(episode.onset, episode.end))
    return matched_reach(sizes, threshold)


def matched_reach(sizes: Iterable[float], threshold: float) -> float:
    """The interval (1, 2, …) by which the mean of a matched filter, √Σ sₜ², over a shift of
    ``sizes`` (σ, one an interval) reaches ``threshold``; inf if it never does."""
    power = 0.0
    for t, size in enumerate(sizes, start=1):
        power += size * size
        if power >= threshold * threshold:
            return float(t)
    return math.inf


def wilson(successes: int, trials: int) -> tuple[float, float]:
    """Wilson's 95% score interval of a proportion."""
    if trials == 0:
        return 0.0, 1.0
    p, n, z2 = successes / trials, trials, Z95 * Z95
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = Z95 * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def poisson_interval(count: int, tail: float = 0.025) -> tuple[float, float]:
    """The exact (Garwood) 95% interval of a Poisson mean, given ``count`` events."""
    low = 0.0 if count == 0 else _solve(lambda m: 1 - _cdf(count - 1, m), tail, count)
    return low, _solve(lambda m: -_cdf(count, m), -tail, count)


def _solve(increasing, target: float, count: int) -> float:
    lo, hi = 0.0, 10.0 + 5.0 * count
    for _ in range(100):
        mid = (lo + hi) / 2
        if increasing(mid) < target:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def _cdf(k: int, mean: float) -> float:
    """P(K ≤ k) for a Poisson count of ``mean``."""
    if mean <= 0:
        return 1.0
    log_term, total = -mean, 0.0
    for j in range(k + 1):
        if j:
            log_term += math.log(mean / j)
        total += math.exp(log_term)
    return min(1.0, total)


def _median(values: tuple[int, ...]) -> float:
    return statistics.median(values) if values else math.inf


def _split(scenario: Scenario, alarms: Iterable[Alarm], grace: int):
    true: list[tuple[Alarm, Episode]] = []
    false: list[Alarm] = []
    for alarm in alarms:
        # Grace counts the intervals in which the agent made calls: its silence after a
        # fault is no time in which its figures could settle.
        episode = scenario.episode_at(alarm.agent, alarm.index) or scenario.episode_at(
            alarm.agent, alarm.index - alarm.quiet, grace
        )
        if episode is None:
            false.append(alarm)
        else:
            true.append((alarm, episode))
    return true, false


def _first_alarms(true: list[tuple[Alarm, Episode]]) -> dict[Episode, Alarm]:
    first: dict[Episode, Alarm] = {}
    for alarm, episode in true:
        if episode not in first or alarm.index < first[episode].index:
            first[episode] = alarm
    return first


def _type_scores(true, false) -> tuple[TypeScore, ...]:
    named = [a for a, _ in true] + false
    kinds = sorted({t for a in named for t in a.types})
    return tuple(
        TypeScore(k, sum(k in a.types for a in named), sum(k in a.types for a, _ in true))
        for k in kinds
    )


def _group_scores(big: list[Episode], true, key) -> tuple[KindScore, ...]:
    caught = {e for _, e in true if e.reached >= BIG}
    named = {e for a, e in true if e.reached >= BIG and set(a.types) & e.expected}
    keys = {e: key(e) for e in big}
    return tuple(
        KindScore(k, *(sum(keys[e] == k for e in group) for group in (big, caught, named)))
        for k in sorted(set(keys.values()))
    )


def _band(value: float, bands: tuple[tuple[float, str], ...] = CALL_BANDS) -> str:
    return next(label for low, label in reversed(bands) if value >= low)


def _pooled(groups):
    """Scores of several runs, added up by their first field (the type or the kind)."""
    pooled: dict = {}
    for group in groups:
        for score in group:
            key = dataclasses.astuple(score)[0]
            pooled[key] = pooled[key].plus(score) if key in pooled else score
    return tuple(pooled[k] for k in sorted(pooled))


def _healthy_intervals(scenario: Scenario, grace: int) -> int:
    faulty = sum(min(e.end + grace, scenario.intervals) - e.onset for e in scenario.episodes)
    return len(scenario.agents) * scenario.intervals - faulty
