"""Detection scores from alarms against a scenario's ground truth, with 95% intervals.

An alarm is true when it falls in a fault episode of its agent (or within
``grace`` intervals after it ends, while the agent's figures settle); every
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

from .detection import Alarm
from .scenario import Episode, Scenario

GRACE = 5
BIG = 3.0  # σ: the faults the recall target is about
LARGE_STEP = 5.0  # σ: the step faults the "detected at once" target is about
Z95 = 1.959964


@dataclasses.dataclass(frozen=True)
class TypeScore:
    """Precision and right-type recall of one anomaly type."""

    anomaly: str
    alarms: int
    true_alarms: int
    episodes: int  # faults ≥ BIG σ whose kind should be named by this type
    caught: int  # of those, caught by an alarm naming it

    @property
    def precision(self) -> float:
        """True alarms naming the type over all alarms naming it (1 when there are none)."""
        return self.true_alarms / self.alarms if self.alarms else 1.0

    @property
    def recall(self) -> float:
        """Faults expecting the type that an alarm naming it caught."""
        return self.caught / self.episodes if self.episodes else 1.0

    def plus(self, other: "TypeScore") -> "TypeScore":
        """Pooled with another seed's score of the same type."""
        return TypeScore(self.anomaly, self.alarms + other.alarms,
                         self.true_alarms + other.true_alarms, self.episodes + other.episodes,
                         self.caught + other.caught)  # fmt: skip


@dataclasses.dataclass(frozen=True)
class DetectionScore:
    """Everything the detection table prints for one run (or several, pooled)."""

    types: tuple[TypeScore, ...]
    episodes: int
    detected: int
    big_episodes: int
    big_detected: int
    delays: tuple[int, ...]  # intervals to detect, per detected big episode
    step_delays: tuple[int, ...]  # the same, for faults ≥ LARGE_STEP σ that begin at full size
    creep_delays: tuple[int, ...]  # the same, for faults that grow 5% per interval
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
    def median_creep_delay(self) -> float:
        """Median intervals to detect a fault that grows 5% of the level per interval."""
        return _median(self.creep_delays)

    def delay_quantile(self, q: float) -> float:
        """The ``q`` quantile of intervals to detect."""
        if not self.delays:
            return math.inf
        ordered = sorted(self.delays)
        return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)]


def score(scenario: Scenario, alarms: Iterable[Alarm], grace: int = GRACE) -> DetectionScore:
    """Score one run's alarms."""
    alarms = list(alarms)
    held = [a for a in alarms if not a.shared]
    true, false = _split(scenario, held, grace)
    first = _first_alarms(true)
    big = [e for e in scenario.episodes if e.magnitude >= BIG]
    delays = {e: first[e].index - e.onset + 1 for e in big if e in first}
    healthy = _healthy_intervals(scenario, grace) * scenario.interval_seconds / 3600
    return DetectionScore(
        _type_scores(scenario, true, false),
        len(scenario.episodes),
        len(first),
        len(big),
        len(delays),
        tuple(delays.values()),
        tuple(d for e, d in delays.items() if e.shape == "step" and e.magnitude >= LARGE_STEP),
        tuple(first[e].index - e.onset + 1 for e in first if e.shape == "creep"),
        len(false),
        len(alarms) - len(held),
        healthy,
        scenario.interval_seconds,
    )


def pool(scores: list[DetectionScore]) -> DetectionScore:
    """Several runs' scores as one."""
    types: dict[str, TypeScore] = {}
    for s in scores:
        for t in s.types:
            types[t.anomaly] = types[t.anomaly].plus(t) if t.anomaly in types else t
    add = lambda field: sum(getattr(s, field) for s in scores)  # noqa: E731
    join = lambda field: tuple(d for s in scores for d in getattr(s, field))  # noqa: E731
    return DetectionScore(
        tuple(sorted(types.values(), key=lambda t: t.anomaly)),
        add("episodes"), add("detected"), add("big_episodes"), add("big_detected"),
        join("delays"), join("step_delays"), join("creep_delays"),
        add("false_alarms"), add("shared_shifts"), add("healthy_agent_hours"),
        scores[0].interval_seconds,
    )  # fmt: skip


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
        episode = scenario.episode_at(alarm.agent, alarm.index, grace)
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


def _type_scores(scenario, true, false) -> tuple[TypeScore, ...]:
    named = [a for a, _ in true] + false
    kinds = sorted(
        {t for e in scenario.episodes for t in e.expected} | {t for a in named for t in a.types}
    )
    return tuple(_type_score(kind, scenario, true, false) for kind in kinds)


def _type_score(kind: str, scenario: Scenario, true, false) -> TypeScore:
    named = [a for a, _ in true if kind in a.types]
    expecting = [e for e in scenario.episodes if kind in e.expected and e.magnitude >= BIG]
    caught = {e for a, e in true if kind in a.types and e in expecting}
    wrong = sum(kind in a.types for a in false)
    return TypeScore(kind, len(named) + wrong, len(named), len(expecting), len(caught))


def _healthy_intervals(scenario: Scenario, grace: int) -> int:
    faulty = sum(min(e.end + grace, scenario.intervals) - e.onset for e in scenario.episodes)
    return len(scenario.agents) * scenario.intervals - faulty
