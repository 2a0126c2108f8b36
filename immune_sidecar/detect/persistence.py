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
the walking level's is 4 to 6) is judged so. A context that grows through a conversation
and is cleared reads about 4, a day's or a week's pattern not yet learned 1.5 to 3 for
days; taken in full (an allowance of 0.4), the daily and weekly series missed a fifth to
a half of their faults more, and with 1.5, `make eval` lost faults of those contexts
(recall 0.985 → 0.979). The means hold up to ``MEMORY`` intervals (about twice that, once
they forget), and more allowance while they hold fewer, as their error: read over 150,
the walk's c fell below the allowance for a while often enough to alarm 12 times in 2,760
hours; over 600, twice.
"""

import math

SPAN = 8  # intervals: about what a lasting shift of twice the slack takes to alarm
WEIGHT = 2.0 / (SPAN + 1)
INDEPENDENT = WEIGHT / (2.0 - WEIGHT)  # the short mean's variance for independent z-scores
ALLOWANCE = 2.5  # how far above 1 the ratio may be and the test still take z as it is
MEMORY = 600.0  # intervals the means of squares hold, at most
SEEN_ENOUGH = 100.0  # intervals before the ratio is read (else 1)
TOP_Z = 4.0  # a z beyond this either way is taken in at this (one far interval is no walk)
ABOVE_USUAL = 1.0  # the z an interval needs for its jump from the recent level to count


class Persistence:
    """A short mean of a level's healthy z-scores, the running means of its square and of
    theirs, and how many intervals these hold."""

    __slots__ = ("held", "short", "squares", "weight")

    def __init__(self, short: float = 0.0, squares: tuple[float, float, float] = (0.0, 0.0, 0.0),
                 weight: float = 0.0):  # fmt: skip
        self.short = short
        # Of the short mean, of the z-scores, of each z's step from the short mean before it.
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
        jump = z - self.short
        self.short += WEIGHT * jump
        self.weight = min(self.weight + 1.0, MEMORY)
        squares = self.squares
        for k, square in enumerate((self.short * self.short, z * z, jump * jump)):
            squares[k] += (square - squares[k]) / self.weight

    def root(self) -> float:
        """What the lasting test's z-scores are divided by (at least 1)."""
        if self.weight < SEEN_ENOUGH or self.squares[1] <= 0.0:
            return 1.0
        allowance = ALLOWANCE * math.sqrt(MEMORY / self.weight)
        ratio = self.squares[0] / (INDEPENDENT * self.squares[1]) - allowance
        return math.sqrt(ratio) if ratio > 1.0 else 1.0

    def jump(self, z: float) -> float:
        """How far an interval of ``z`` lies from the level's recent healthy ones, in the
        spread of their own steps: of a level that wanders (``root`` above 1) and an
        interval above the usual, else ``z`` itself."""
        if z < ABOVE_USUAL or self.root() <= 1.0 or self.squares[2] <= 0.0:
            return z
        return max(z, (z - self.short) / math.sqrt(self.squares[2]))

    def carried(self) -> "Persistence":
        """What a new baseline of the level starts from (a deploy's): how it wanders is the
        nature of the agent's work, not of its version."""
        return Persistence(self.short, tuple(self.squares), self.weight)

    def to_json(self) -> list[float]:
        """A plain list for the state file."""
        return [self.short, *self.squares, self.weight]

    @classmethod
    def from_json(cls, data: list | None) -> "Persistence":
        """Restore from ``to_json`` output (none before it was kept)."""
        if not data or len(data) != 5:  # (or kept before the steps were: start afresh)
            return cls()
        short, *squares, weight = (float(x) for x in data)
        return cls(short, tuple(squares), weight)
