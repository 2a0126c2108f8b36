"""A vital's bursts: single intervals far beyond its baseline that the next one undoes
(above it; for a share judged when it falls, below it).

Some agents' vitals come in bursts: a minute in ten with four times the tool calls, a
minute whose few calls were all stragglers. One interval like that is far out for the
vital's own model (a negative binomial around a count's rate, a log-normal level), and
the spread fit, which refuses or clips what lies that far out, never learns it; so every
burst alarmed, for as long as the agent lived. What tells a burst from a fault is that
it ends: a tool loop, a retry storm, a slow provider last. So an interval beyond
``excursion`` is held pending, and learned as a burst only when the next interval is
back under ``BACK_Z``. A level's excursion is where its fit stops taking an interval in
full (its residual is clipped at 4). A count's is 2.5, below where its fit clips (its
0.999 quantile, 3.09): its bursts between 3.09 and 4 were neither learned nor bursts and
fed the lasting sum until three or four in a few intervals alarmed; and those its
negative-binomial spread takes in at z 2 to 3 (2.5 to 3.6× its tool calls in one
interval in eight) were never candidates, so no mixture was learned, and five in a row
alarmed.

A burst may also show as two intervals in a row, neither back: a sample's window cuts a
burst that straddles it in two (an agent exporting every 15 s has its exports cut into
minutes at whatever export comes nearest; a burst keeps no minutes). Two such pieces,
each at ``BACK_Z`` or more and together beyond ``excursion`` (their z-scores' sum over
√2), are learned as two bursts at their own levels when the next interval is plainly
back, under ``PAIR_BACK_Z``: both intervals were a burst's. (Left a run, the pieces of
bursts cut in half, each about 2σ, were never learned, and four bursts in six minutes
added up to a lasting alarm. Back under ``BACK_Z`` was not enough: a lasting shift of
2.5× a count's rate dipped under it often enough that its own intervals were learned as
bursts, and its alarms slowed.) A third interval not back makes a run, no burst.

The vital is then judged against the mixture of its baseline and its bursts, by the
share of intervals that were bursts and their level beyond the baseline (log):

    p = (1 − π)·p_baseline + π·p_burst,   z = Φ⁻¹(1 − p)

p_burst is two-sided: an interval far below the bursts' level is no more a burst than
one far above it (a creep on its way up is judged against the baseline).

A vital that never burst is no part of a mixture (π = 0: its own model alone).
"""

import math
from collections.abc import Callable
from statistics import NormalDist

from .stats import z_of_p

BACK_Z = 2.0  # the interval after it is back at the baseline: the candidate was a burst
# How far bursts' levels spread about their mean (log), before several are seen: one burst
# says little about the next one's size. Weighted as this many bursts.
PRIOR_SPREAD, PRIOR_BURSTS = 0.25, 2.0
MAX_WEIGHT = 50.0  # the latest bursts' level weighs at least 1/50: it follows the agent
IN_A_RUN = -1.0  # pending: the last intervals were not back, and are no burst's
PIECES = 2  # the intervals one burst may show in (a sample's window cut it in two)
PAIR_BACK_Z = 1.0  # the interval after two pieces is back: they were a burst's
_NORMAL = NormalDist()


class Bursts:
    """The bursts seen of one vital: their share of intervals and their level beyond its
    baseline (log)."""

    __slots__ = ("level", "pending", "share", "spread", "weight")

    def __init__(self, share=0.0, level=0.0, spread=0.0, weight=0.0, pending=None) -> None:
        self.share, self.level, self.spread, self.weight = share, level, spread, weight
        # A candidate awaiting its next interval: its pieces' [level, z, level, z], or
        # IN_A_RUN. (A state file before pieces held a candidate's level alone: forgotten,
        # one burst at most.)
        if isinstance(pending, (int, float)) and pending != IN_A_RUN:
            pending = None
        self.pending: list[float] | float | None = pending

    def note(
        self, z: Callable[[], float], level: float, alpha: float, new: bool, excursion: float
    ) -> None:
        """Take an interval: ``z()``, its z against the baseline (asked only when it
        matters), and its level beyond it (log). A pending candidate is a burst if this
        interval is back and its pieces were beyond ``excursion``; ``new``: this one may
        be a candidate's piece (the agent was healthy and the vital unexplained)."""
        pending = self.pending
        z_now = z() if pending is not None or level > 0.0 else -math.inf
        if new:
            self.share *= 1.0 - alpha  # (a burst's pieces are added once it is seen whole)
        if z_now < BACK_Z:
            self.pending = None
            if isinstance(pending, list) and _whole(pending[1::2], z_now, excursion):
                for piece in pending[0::2]:
                    self._learn(piece, alpha)
            return
        if new and pending is None:
            self.pending = [level, z_now]
        elif new and isinstance(pending, list) and len(pending) < 2 * PIECES:  # (level, z)s
            self.pending = [*pending, level, z_now]
        else:
            self.pending = IN_A_RUN

    def after_far(self, excursion: float) -> bool:
        """Whether the last interval was not back: a candidate's piece beyond
        ``excursion``, or a run's."""
        pending = self.pending
        return pending == IN_A_RUN or (isinstance(pending, list) and pending[-1] >= excursion)

    def _learn(self, level: float, alpha: float) -> None:
        self.share = min(1.0, self.share + alpha)
        self.weight = min(self.weight + 1.0, MAX_WEIGHT)
        step = level - self.level
        self.level += step / self.weight
        self.spread += (step * (level - self.level) - self.spread) / self.weight

    def variance(self) -> float:
        """How far the bursts' levels spread (log, squared), with the prior's weight."""
        return (PRIOR_SPREAD**2 * PRIOR_BURSTS + self.spread * self.weight) / (
            PRIOR_BURSTS + self.weight
        )

    def z(self, z_alone: float, z_burst: Callable[[float, float], float]) -> float:
        """The mixture's z, given the vital's z against its baseline and ``z_burst(level,
        variance)``, its z against the bursts' level. The bursts explain an interval as
        far from their level as theirs are, either way: one far below it (a creep on its
        way up) is no burst, however often the vital burst."""
        if self.share <= 0.0 or z_alone < BACK_Z:
            return z_alone
        tail = _NORMAL.cdf(-z_alone) * (1.0 - self.share)
        tail += 2.0 * _NORMAL.cdf(-abs(z_burst(self.level, self.variance()))) * self.share
        return min(z_alone, z_of_p(tail))

    def carried(self) -> "Bursts":
        """What a new baseline of the vital starts from (a deploy's): how an agent bursts
        is the nature of its work, not of its version."""
        return Bursts(self.share, self.level, self.spread, self.weight)

    def to_json(self) -> list[float | None]:
        """A plain list for the state file."""
        return [self.share, self.level, self.spread, self.weight, self.pending]

    @classmethod
    def from_json(cls, data: list | None) -> "Bursts":
        """Restore from ``to_json`` output (none before bursts were kept)."""
        return cls(*data) if data else cls()


def _whole(pieces: list[float], z_after: float, excursion: float) -> bool:
    """Whether a candidate's pieces (their z-scores) were a burst, the interval after them
    at ``z_after``: taken together (Stouffer's z, their sum over the root of their number)
    beyond ``excursion``, and that interval back (under ``PAIR_BACK_Z`` after two pieces)."""
    back = z_after < (BACK_Z if len(pieces) == 1 else PAIR_BACK_Z)
    return back and sum(pieces) / math.sqrt(len(pieces)) >= excursion


def level_above(count: float, mean: float) -> float:
    """How far above ``mean`` a count lies, on the log scale (half an event added to both)."""
    return math.log((count + 0.5) / (mean + 0.5))
