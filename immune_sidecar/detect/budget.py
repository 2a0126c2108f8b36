"""The false-alarm budget, and the thresholds it implies.

A healthy agent may be quarantined at most ``per_1000_hours`` times per 1,000
hours. The budget is split evenly across the tests (one per judged vital),
and each test's share in half: one half for the *sudden* test (one interval
far out), the other for the *lasting* one (a one-sided CUSUM). Per interval
of ``interval_seconds``, each of the 2·T tests may fire with probability

    p = per_1000_hours / 1000 · interval_seconds / 3600 / (2·T)

The sudden threshold is the normal quantile z = Φ⁻¹(1 − p). The CUSUM limit
``h`` gives an in-control average run length (ARL₀) of at least 1/p intervals:

- a per-call level's CUSUM adds z-scores beyond a slack k; by Siegmund's
  approximation for N(0, 1) steps, ARL₀ ≈ (exp(2k·b) − 2k·b − 1) / (2k²),
  b = h + 1.166;
- a small count's CUSUM adds log-likelihood ratios for a rise of δ standard
  deviations of its count, δ·(z − δ/2) for a normal count: the CUSUM of z − δ/2
  scaled by δ, so its limit is δ times that one's (slack δ/2) — tighter than
  Wald's bound ln(1/p), which ignores the overshoot (about 1.6 nats at δ = 1.5).

That run length is for a baseline that knows its level; one known from a few
intervals gives up a margin of slack for its error (``Thresholds.margin``).
"""

import dataclasses
import functools
import math

from .stats import z_of_p

SIEGMUND = 1.166


@dataclasses.dataclass(frozen=True)
class Thresholds:
    """What a z-score must reach at once, and what a CUSUM sum must reach."""

    sudden: float
    lasting: float
    # The limit plus Siegmund's overshoot (b, in the steps' units): see ``margin``.
    reach: float

    def margin(self, uncertainty: float) -> float:
        """What each CUSUM step gives up for a baseline whose level is known only to within
        ``uncertainty``: its estimate's variance, in a usual interval's (v).

        The estimate's error β moves every step alike, and a false alarm's rate grows as
        e^{2bβ}: e^{2b²v} on average over β ~ N(0, v), many-fold for a young baseline.
        A slack larger by b·v takes e^{−2b²v} off it again."""
        return self.reach * uncertainty


@functools.lru_cache(maxsize=256)
def thresholds(
    per_1000_hours: float, tests: int, interval_seconds: float, slack: float, scale: float = 1.0
) -> Thresholds:
    """The thresholds for an interval length (cached; intervals repeat). ``slack``: the
    z a CUSUM step leaves out; ``scale``: what its steps are multiplied by (δ for the
    likelihood ratios of a rise of δ, with slack δ/2)."""
    per_interval = per_1000_hours / 1000.0 * interval_seconds / 3600.0
    each = min(0.5, per_interval / (2 * max(1, tests)))
    lasting = max(0.5, scale * cusum_limit(1.0 / each, slack))
    return Thresholds(z_of_p(each), lasting, lasting + scale * SIEGMUND)


def cusum_limit(arl: float, slack: float) -> float:
    """The limit h of a CUSUM of z − ``slack`` whose in-control run length is ``arl``."""
    lo, hi = 0.0, 200.0
    for _ in range(80):
        b = (lo + hi) / 2
        if _arl(b, slack) < arl:
            lo = b
        else:
            hi = b
    return max(0.5, hi - SIEGMUND)


def _arl(b: float, k: float) -> float:
    x = 2 * k * b
    if x > 700:
        return math.inf
    return (math.exp(x) - x - 1) / (2 * k * k)
