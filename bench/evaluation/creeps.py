"""How soon a creep of 5% of the level an interval can be caught, and how soon it is.

One steady level (a per-call mean of 20 calls an interval, log-normal between intervals
with a known spread) is learned for ``LEARN`` intervals, then creeps. Beside the
detector's intervals to detect, the same creep's exact z-scores (the level and spread
known, nothing learned) are run through:

- the CUSUM of the detector's own slack and limits (its lasting test at a steady level's
  calm slack, and its sudden test beside it): what the detector would do if its baseline
  were the truth;
- a test matched to a ramp whose onset it does not know (``RAMP_SPANS``: the ramp's
  matched filter over each of several spans ending now, its threshold the budget's
  shared among them);
- and the bound of a test that knows the onset too (as ``scoring.creep_bound``, on the
  log scale the level is judged on).

The CUSUM against the ramp's test measures the lasting test's design (within two intervals
of it in ``make eval``'s table); the detector against its CUSUM, what its learning and its
prudence cost: its baseline follows the creep's first intervals until its sum holds them
out, and its slack gives up a margin for the level's own uncertainty.
"""

import math
import random
import statistics
from typing import NamedTuple

from immune_sidecar.detect import BaselineSettings, Detector, Thresholds
from immune_sidecar.detect.stats import z_of_p
from immune_sidecar.vitals import VitalSample

from .scenario import CREEP
from .scoring import matched_reach

SPREADS = (0.05, 0.1, 0.2, 0.3)  # the level's healthy σ between intervals, on the log scale
LEARN = 600  # healthy intervals before the creep
CALLS = 20.0
INTERVAL = 60.0
LONGEST = 150  # intervals a creep is followed for (inf: not caught by then)
RAMP_SPANS = (4, 6, 8, 11, 16, 22, 32, 45, 64)
_RAMP_NORMS = {span: math.sqrt(sum(k * k for k in range(1, span + 1))) for span in RAMP_SPANS}
LEVEL = 1000.0


class Row(NamedTuple):
    """Median intervals to detect a creep on a level of one spread, by each test."""

    spread: float
    detector: float
    cusum: float
    ramp: float
    bound: float


def run(spreads: tuple[float, ...] = SPREADS, runs: int = 16) -> list[Row]:
    """One row per spread, each the median over ``runs`` creeps."""
    settings = BaselineSettings()
    limits = Detector(settings).limits(INTERVAL, "calm")  # (a steady level is calm)
    budget = settings.false_alarms_per_1000_hours / 1000 * INTERVAL / 3600
    ramp_threshold = z_of_p(budget / len(RAMP_SPANS))
    rows = []
    for spread in spreads:
        seeds = range(runs)
        rows.append(Row(
            spread,
            statistics.median(detector_delay(spread, seed) for seed in seeds),
            statistics.median(
                cusum_delay(spread, seed, settings.calm_slack, limits) for seed in seeds
            ),
            statistics.median(ramp_delay(spread, seed, ramp_threshold) for seed in seeds),
            bound(spread, z_of_p(budget)),
        ))  # fmt: skip
    return rows


def rise(t: int) -> float:
    """The creep's rise ``t`` intervals in, on the log scale."""
    return math.log(1.0 + CREEP * t)


def detector_delay(spread: float, seed: int) -> float:
    """Intervals until the detector alarms on the creep, having learned the level."""
    rng, detector = random.Random(seed), Detector(BaselineSettings())

    def sample(index: int, log_rise: float) -> VitalSample:
        value = LEVEL * math.exp(log_rise + rng.gauss(0.0, spread))
        return VitalSample("creep", index * INTERVAL, INTERVAL, CALLS, {"input_tokens": value})

    for index in range(LEARN):
        detector.observe(sample(index, 0.0))
    for t in range(1, LONGEST + 1):
        if detector.observe(sample(LEARN + t, rise(t))) is not None:
            return float(t)
    return math.inf


def _exact_z(spread: float, seed: int):
    rng = random.Random(seed)
    return ((t, rise(t) / spread + rng.gauss(0.0, 1.0)) for t in range(1, LONGEST + 1))


def cusum_delay(spread: float, seed: int, slack: float, limits: Thresholds) -> float:
    """Intervals until the detector's sudden or lasting test, on the creep's exact z-scores,
    alarms (its sum taking at most half the limit an interval, as the detector's does)."""
    excess = 0.0
    for t, z in _exact_z(spread, seed):
        excess = max(0.0, excess + min(z - slack, limits.lasting / 2))
        if z >= limits.sudden or excess >= limits.lasting:
            return float(t)
    return math.inf


def ramp_delay(spread: float, seed: int, threshold: float) -> float:
    """Intervals until a ramp's matched filter over one of ``RAMP_SPANS`` reaches
    ``threshold``: Σ k·z / √Σ k², k = 1 … span over the span's intervals."""
    seen: list[float] = []
    for t, z in _exact_z(spread, seed):
        seen.append(z)
        for span, norm in _RAMP_NORMS.items():
            if span > len(seen):
                break
            filtered = sum(k * x for k, x in enumerate(seen[-span:], start=1))
            if filtered / norm >= threshold:
                return float(t)
    return math.inf


def bound(spread: float, threshold: float) -> float:
    """The interval by which a test knowing the creep's onset, slope and the level's spread
    would reach ``threshold`` on average."""
    return matched_reach((rise(t) / spread for t in range(1, LONGEST + 1)), threshold)
