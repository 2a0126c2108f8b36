"""How much a level's healthy z-scores hang together from interval to interval, for its
lasting test.

The lasting test's limit (``budget``) is set for z-scores that are independent from one
interval to the next. A level that wanders (a machine's metric that follows a slow load,
a level that walks) has z-scores of variance about 1, since its spread fit saw to that,
that stay high or low for many intervals together: their sums over the intervals a CUSUM
adds up grow far faster than independent ones', and its limit is reached many times
sooner than designed (a level whose log walks by 0.03 an interval under noise of 0.1 was
quarantined 44 times per 1,000 hours).

So the z-scores of every healthy interval are followed by a short exponential mean (weight
``2 / (SPAN + 1)``, ``SPAN`` about the intervals a lasting shift takes to alarm). Its
variance over independent z-scores is ``a / (2 − a)`` of theirs; how many times that it is,
``c``, is the variance of their sums over such a span relative to independent ones', and
the lasting test's z-scores are divided by √(c − ``ALLOWANCE``) where that is above 1.

A wandering level's sudden test reads its z against the whole spread, which the walk has
widened (where the walk took the level low, a jump to 2.5 times it read z ≈ 2). So each
healthy z's step from the short mean before it is followed as well, and where the level
wanders (``root`` above 1) an interval above its usual level is also judged by its step
from the recent ones, in the spread of their steps (``jump``): a jump from where the level
was lately alarms at once, a slow walk does not.

The allowance is wide: only a level whose z-scores hang together strongly (c above 3.5;
the walking level's is 4 to 6) is judged so. A day's or a week's pattern not yet learned
reads 1.5 to 3 for days; taken in full (an allowance of 0.4), the daily and weekly series
missed a fifth to a half of their faults more. A context that grows through a
conversation and is cleared reads about 4 as well, and its faults are real (with an
allowance of 1.5, `make eval` lost faults of those contexts: recall 0.985 → 0.979). What
tells it from a walk is that its z-scores part again within each conversation: a longer
mean (``LONG_SPAN``) of them varies under ``LONG_GATE`` times as independent ones' would
(about 4), a walk's about 13 times, a level switching between two about 10. Below
that, the level is not taken to wander.

The other way round, a level whose z-scores are seen to come one by one (``calm``: both
means vary under ``CALM_RATIO`` times as independent ones' would) has no wander for a
smaller slack to add up, and its lasting test takes the settings' ``calm_slack``: every
call 12% slower, among 20 calls an interval of log-spread 0.3 (z about 1.35), sums little
faster than the usual slack takes off, and was learned as the level's own 3 times in 12.

The means hold up to ``MEMORY`` intervals (about twice that, once they forget), and more
allowance while they hold fewer, as their error: read over 150, the walk's c fell below
the allowance for a while often enough to alarm 12 times in 2,760 hours; over 600, twice.
"""

import math

SPAN = 8  # intervals: about what a lasting shift of twice the slack takes to alarm
WEIGHT = 2.0 / (SPAN + 1)
INDEPENDENT = WEIGHT / (2.0 - WEIGHT)  # the short mean's variance for independent z-scores
ALLOWANCE = 2.5  # how far above 1 the ratio may be and the test still take z as it is
LONG_SPAN = 24  # intervals: a longer mean's, which tells a walk from a level that resets
LONG_WEIGHT = 2.0 / (LONG_SPAN + 1)
LONG_INDEPENDENT = LONG_WEIGHT / (2.0 - LONG_WEIGHT)
LONG_GATE = 6.0  # the longer mean's ratio below which the level is not taken to wander
MEMORY = 600.0  # intervals the means of squares hold, at most
SEEN_ENOUGH = 100.0  # intervals before the ratio is read (else 1)
TOP_Z = 4.0  # a z beyond this either way is taken in at this (one far interval is no walk)
ABOVE_USUAL = 1.0  # the z an interval needs for its jump from the recent level to count
CALM_RATIO = 1.5  # both means' ratios below which the z-scores are taken as independent


class Persistence:
    """A short and a long mean of a level's healthy z-scores, the running means of their
    squares, of the z-scores' and of their steps from the short mean, and how many
    intervals these hold."""

    __slots__ = ("held", "means", "squares", "weight")

    def __init__(self, means: tuple[float, float] = (0.0, 0.0),
                 squares: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0),
                 weight: float = 0.0):  # fmt: skip
        self.means = list(means)  # short, long
        # Of the short mean, of the z-scores, of each z's step from the short mean before it,
        # of the long mean.
        self.squares = list(squares)
        self.weight = weight
        self.held: float | None = None  # the z of the interval judged last, until learned

    def hold(self, z: float) -> None:
        """Keep the judged interval's z until it is known healthy (``learn``)."""
        self.held = z

    def learn(self) -> None:
        """Take the held z in: its interval was healthy."""
        z, self.held = self.held, None
        if z is None or not math.isfinite(z):
            return
        z = max(-TOP_Z, min(TOP_Z, z))
        means = self.means
        jump = z - means[0]
        means[0] += WEIGHT * jump
        means[1] += LONG_WEIGHT * (z - means[1])
        self.weight = min(self.weight + 1.0, MEMORY)
        squares = self.squares
        for k, square in enumerate((means[0] ** 2, z * z, jump * jump, means[1] ** 2)):
            squares[k] += (square - squares[k]) / self.weight

    def _ratios(self) -> tuple[float, float] | None:
        """How many times as much as independent z-scores' the short and the long mean
        vary (None until ``SEEN_ENOUGH`` intervals are in)."""
        short, each, _, long = self.squares
        if self.weight < SEEN_ENOUGH or each <= 0.0:
            return None
        return short / (INDEPENDENT * each), long / (LONG_INDEPENDENT * each)

    def root(self) -> float:
        """What the lasting test's z-scores are divided by (at least 1)."""
        ratios = self._ratios()
        if ratios is None or ratios[1] < LONG_GATE:
            return 1.0  # (or its z-scores part within a few dozen intervals: no walk)
        ratio = ratios[0] - ALLOWANCE * math.sqrt(MEMORY / self.weight)
        return math.sqrt(ratio) if ratio > 1.0 else 1.0

    def calm(self) -> bool:
        """Whether the healthy z-scores are seen to come one by one: both means vary under
        ``CALM_RATIO`` times as independent z-scores' would, over ``SEEN_ENOUGH`` or more."""
        ratios = self._ratios()
        return ratios is not None and max(ratios) < CALM_RATIO

    def jump(self, z: float) -> float:
        """How far an interval of ``z`` lies from the level's recent healthy ones, in the
        spread of their own steps: of a level that wanders (``root`` above 1) and an
        interval above the usual, else ``z`` itself."""
        steps = self.squares[2]
        if z < ABOVE_USUAL or steps <= 0.0 or self.root() <= 1.0:
            return z
        return max(z, (z - self.means[0]) / math.sqrt(steps))

    def carried(self) -> "Persistence":
        """What a new baseline of the level starts from (a deploy's): how it wanders is the
        nature of the agent's work, not of its version."""
        return Persistence(tuple(self.means), tuple(self.squares), self.weight)

    def to_json(self) -> list[float]:
        """A plain list for the state file."""
        return [*self.means, *self.squares, self.weight]

    @classmethod
    def from_json(cls, data: list | None) -> "Persistence":
        """Restore from ``to_json`` output (none before it was kept)."""
        if not data or len(data) != 7:  # (or kept in an older form: start afresh)
            return cls()
        short, long, *squares, weight = (float(x) for x in data)
        return cls((short, long), tuple(squares), weight)
