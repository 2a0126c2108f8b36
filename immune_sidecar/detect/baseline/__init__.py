"""Streaming per-(agent, vital) baselines that know how much evidence an interval holds.

Two kinds, one contract (``z``, ``learn``, ``adopt``, ``to_json``):

- ``LevelBaseline`` — a per-call mean (latency, tokens) on a log scale,
  since per-call latencies and token counts are log-normal-ish. Its variance
  is ``τ² + b/n`` for an interval of n calls: τ² the drift between intervals
  (time of day, cache mixes), b the spread of single calls averaged over n.
- ``RateBaseline`` — events per exposure (tool calls per call, retries per
  call, errors per attempt), judged as an over-dispersed Poisson count:
  variance ``φ·m + τ²·m²`` for an expected count m, φ ≥ 1. ``ShareBaseline``
  is one judged when it falls (answers per call).

Both fit their two variance terms by exponentially weighted least squares on
squared residuals, each weighed by the inverse of its variance (a share's are
not: see ``ShareBaseline``), so an agent whose load changes learns how its
noise scales with n: its busy intervals do not drown what its idle ones tell.
When n barely varies the two terms cannot be told apart and the choice that is
conservative for the interval at hand is taken.

Learning: the first ``min_samples`` samples are fitted robustly (median), so a
fault during learning does not become normal; afterwards values are clipped
before they move the baseline, and samples that alarm, or arrive while the
CUSUM sum is half way to its limit, are not learned at all (the detector
skips them). Far values that end the next interval are the agent's bursts
(``Bursts``): both kinds are judged against the mixture of their baseline and
their bursts.
"""

from .fit import VarianceFit
from .level import LevelBaseline, MeanBaseline
from .rate import RateBaseline, ShareBaseline
from .streaming import BURSTS_SHOWN

__all__ = [
    "BURSTS_SHOWN",
    "Baseline",
    "LevelBaseline",
    "MeanBaseline",
    "RateBaseline",
    "ShareBaseline",
    "VarianceFit",
]

Baseline = LevelBaseline | RateBaseline
