"""Daily patterns: the detector driven directly, sample by sample, as a public labelled series
is, on series whose level follows the hour of the day, with labelled faults of an hour."""

import dataclasses
import logging
import math
import random
from collections.abc import Callable

from immune_sidecar.detect import BaselineSettings, Detector
from immune_sidecar.vitals import VitalSample

from .workload import poisson

INTERVAL = 300.0  # seconds: five minutes, as most public series
PER_DAY = 288
DAYS = 30
FROM_DAY = 7  # false alarms are counted from here: the agent's day takes about a week
FROM_WEEK = 14  # ... and for a weekly shape from here: its week is judged from the third
FAULT_INTERVALS = 12  # an hour
FAULT_FACTOR = 2.5  # a fault multiplies the series by this
FAULT_EVERY_DAYS = 2.0  # on average, after FROM_DAY
GRACE = 3  # intervals after a fault in which an alarm still counts as its own
SWITCH_DWELL = 36  # intervals a switching level stays at either of its levels, on average

Draw = Callable[[random.Random, int], float]


@dataclasses.dataclass(frozen=True)
class Shape:
    """One kind of series: what it moves, how it is drawn, the calls it stands for."""

    name: str
    vital: str
    draw: Draw
    calls: float
    from_day: int = FROM_DAY  # false alarms are counted from this day


@dataclasses.dataclass(frozen=True)
class Row:
    """One shape's figures over its series."""

    shape: str
    series: int
    false_alarms: int
    hours: float  # judged for false alarms (from FROM_DAY)
    faults: int
    caught: int


def _daily(index: int) -> float:
    return math.sin(2 * math.pi * index / PER_DAY)


def _busy(index: int) -> bool:
    return 9 <= index // 12 % 24 < 12


def _rush(rng: random.Random, i: int) -> float:
    return (1.8 if _busy(i) else 1.0) * math.exp(rng.gauss(0.0, 0.1))


def _load(rng: random.Random, i: int) -> float:
    return float(poisson(rng, 20.0 * (1.0 + 0.8 * _daily(i))))


def _weekend(index: int) -> bool:
    """Saturday or Sunday (the series start on a Thursday, the Unix epoch)."""
    return index // PER_DAY % 7 in (2, 3)


def _weekday_rush(rng: random.Random, i: int) -> float:
    return (1.8 if _busy(i) and not _weekend(i) else 1.0) * math.exp(rng.gauss(0.0, 0.1))


def _weekly_load(rng: random.Random, i: int) -> float:
    return float(poisson(rng, 20.0 * (1.0 + 0.6 * _daily(i)) * (0.4 if _weekend(i) else 1.0)))


def _shifts(rng: random.Random, i: int) -> float:
    return (2.0 if i // (PER_DAY // 2) % 2 else 1.0) * math.exp(rng.gauss(0.0, 0.1))


def _bursty(rng: random.Random, i: int) -> float:
    return float(poisson(rng, 4.0 * (8.0 if rng.random() < 0.03 else 1.0)))


def _heavy(rng: random.Random, i: int) -> float:
    """A level whose noise is Student's t with 3 degrees of freedom (far heavier-tailed
    than the t with 30 the detector reads z-scores as)."""
    spread = math.sqrt(sum(rng.gauss(0.0, 1.0) ** 2 for _ in range(3)) / 3.0)
    return 5.0 * math.exp(0.15 * rng.gauss(0.0, 1.0) / spread)


class _Wander:
    """A level whose log walks (an AR(1) of 0.995, steps of 0.03: about ±30% over a day)
    under noise of 0.1, as a machine's metric that follows a slow load does. Each series
    is drawn from its first interval on, in order: the walk starts afresh at interval 0."""

    def __init__(self) -> None:
        self._walk = 0.0

    def __call__(self, rng: random.Random, i: int) -> float:
        before = 0.995 * self._walk if i > 0 else 0.0  # a new series starts at its level
        self._walk = before + rng.gauss(0.0, 0.03)
        return 10.0 * math.exp(self._walk + rng.gauss(0.0, 0.1))


class _Switching:
    """A level that switches between its usual and one half as high again, staying in each
    for 3 hours on average (a cache that comes and goes, a second backend), under noise of
    0.1. Each series starts afresh at its usual level."""

    def __init__(self) -> None:
        self._high = False

    def __call__(self, rng: random.Random, i: int) -> float:
        switched = rng.random() < 1.0 / SWITCH_DWELL
        self._high = (self._high if i > 0 else False) != switched
        return 10.0 * (1.5 if self._high else 1.0) * math.exp(rng.gauss(0.0, 0.1))


SHAPES = (
    Shape("busy hours: latency of 20 calls", "latency", _rush, 20.0),
    Shape("daily load: a raw count", "tool_calls", _load, 1.0),
    Shape("daily load: as a level", "latency", lambda rng, i: max(_load(rng, i), 0.5), 1.0),
    Shape("12 h shifts: a level", "latency", _shifts, 1.0),
    Shape("weekdays' busy hours: latency", "latency", _weekday_rush, 20.0, FROM_WEEK),
    Shape("weekly load: a raw count", "tool_calls", _weekly_load, 1.0, FROM_WEEK),
    Shape("bursts: a count, 8× in 3% of intervals", "tool_calls", _bursty, 1.0),
    Shape("heavy tail: a level, Student's t₃", "latency", _heavy, 1.0),
    Shape("wandering: a level that walks", "latency", _Wander(), 1.0),
    Shape("switching: a level 1× or 1.5×, for 3 h", "latency", _Switching(), 1.0),
)


def run(shape: Shape, seeds: range) -> Row:
    """The shape's series, one per seed, through a detector each (its log kept quiet: a
    series adopts a level now and then, which it says)."""
    quiet = logging.getLogger("immune_sidecar.detect.detector")
    level, quiet.level = quiet.level, logging.ERROR
    try:
        return _run(shape, seeds)
    finally:
        quiet.setLevel(level)


def _run(shape: Shape, seeds: range) -> Row:
    false = faults = caught = 0
    for seed in seeds:
        rng = random.Random(f"days:{shape.name}:{seed}")
        onsets = _onsets(rng)
        alarms = _alarms(shape, rng, onsets)
        found = {o for o in onsets if any(_during(a, [o], GRACE) for a in alarms)}
        judged = shape.from_day * PER_DAY
        false += sum(1 for a in alarms if a >= judged and not _during(a, onsets, GRACE))
        faults, caught = faults + len(onsets), caught + len(found)
    hours = (DAYS - shape.from_day) * 24 * len(seeds)
    return Row(shape.name, len(seeds), false, hours, faults, caught)


def _onsets(rng: random.Random) -> list[int]:
    onsets, at = [], FROM_DAY * PER_DAY
    while True:
        at += int(rng.expovariate(1.0 / (FAULT_EVERY_DAYS * PER_DAY))) + 2 * FAULT_INTERVALS
        if at + FAULT_INTERVALS >= DAYS * PER_DAY:
            return onsets
        onsets.append(at)


def _during(index: int, onsets: list[int], grace: int = 0) -> bool:
    """Whether ``index`` lies in a fault of ``onsets`` or the ``grace`` intervals after it."""
    return any(o <= index < o + FAULT_INTERVALS + grace for o in onsets)


def _alarms(shape: Shape, rng: random.Random, onsets: list[int]) -> list[int]:
    detector, alarms = Detector(BaselineSettings()), []
    for i in range(DAYS * PER_DAY):
        value = shape.draw(rng, i) * (FAULT_FACTOR if _during(i, onsets) else 1.0)
        sample = VitalSample("series", i * INTERVAL, INTERVAL, shape.calls, {shape.vital: value})
        if detector.observe(sample) is not None:
            alarms.append(i)
    return alarms
