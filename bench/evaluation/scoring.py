"""Detection scores from alarms against a scenario's ground truth.

An alarm is true when it falls in a fault episode of its agent (or within
``grace`` intervals after it ends, while the agent's figures settle); every
other alarm is a false quarantine of a healthy agent. An episode is detected
by its first true alarm; its time to detect counts the interval that showed
the fault first as 1, since a sample arrives as its interval ends.
"""

import dataclasses
import math
import statistics
from collections.abc import Iterable

from .detection import Alarm
from .scenario import Episode, Scenario

GRACE = 5
BIG = 3.0  # σ: the faults the recall target is about


@dataclasses.dataclass(frozen=True)
class TypeScore:
    """Precision, recall and F1 of one anomaly type."""

    anomaly: str
    alarms: int
    true_alarms: int
    episodes: int
    caught: int

    @property
    def precision(self) -> float:
        """True alarms naming the type over all alarms naming it (1 when there are none)."""
        return self.true_alarms / self.alarms if self.alarms else 1.0

    @property
    def recall(self) -> float:
        """Episodes expecting the type that an alarm naming it caught."""
        return self.caught / self.episodes if self.episodes else 1.0

    @property
    def f1(self) -> float:
        """The harmonic mean of precision and recall."""
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


@dataclasses.dataclass(frozen=True)
class DetectionScore:
    """Everything the detection table prints for one configuration."""

    types: tuple[TypeScore, ...]
    episodes: int
    detected: int
    big_episodes: int
    big_detected: int
    delays: tuple[int, ...]  # intervals to detect, per detected big episode
    step_delays: tuple[int, ...]  # the same, for faults that begin at full size
    false_alarms: int
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
    def false_per_1000_hours(self) -> float:
        """False quarantines per 1,000 agent-hours of healthy traffic."""
        return 1000 * self.false_alarms / self.healthy_agent_hours

    @property
    def median_delay(self) -> float:
        """Median intervals to detect a big fault (inf when none was detected)."""
        return statistics.median(self.delays) if self.delays else math.inf

    @property
    def median_step_delay(self) -> float:
        """Median intervals to detect a big fault that began at full size."""
        return statistics.median(self.step_delays) if self.step_delays else math.inf

    def delay_quantile(self, q: float) -> float:
        """The ``q`` quantile of intervals to detect."""
        if not self.delays:
            return math.inf
        ordered = sorted(self.delays)
        return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)]


def score(scenario: Scenario, alarms: Iterable[Alarm], grace: int = GRACE) -> DetectionScore:
    """Score one configuration's alarms."""
    true, false = _split(scenario, alarms, grace)
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
        tuple(d for e, d in delays.items() if e.shape == "step"),
        len(false),
        healthy,
        scenario.interval_seconds,
    )


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
    expecting = [e for e in scenario.episodes if kind in e.expected]
    caught = {e for a, e in true if kind in a.types and kind in e.expected}
    wrong = sum(kind in a.types for a in false)
    return TypeScore(kind, len(named) + wrong, len(named), len(expecting), len(caught))


def _healthy_intervals(scenario: Scenario, grace: int) -> int:
    faulty = sum(min(e.end + grace, scenario.intervals) - e.onset for e in scenario.episodes)
    return len(scenario.agents) * scenario.intervals - faulty
