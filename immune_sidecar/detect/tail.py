"""How heavy a count's healthy z-scores are in their upper tail, for its lasting test.

The lasting test's limit (``budget``) is set for z-scores of a normal law. A count
whose intervals come from two modes (the answers among an agent's calls, which fall
many-fold in the intervals whose tasks take many tool rounds) has z-scores of
variance about 1, since its spread fit saw to that, but a far heavier upper tail: a
few high intervals close together reach the limit many times sooner than designed.

A CUSUM of z − k reaches its limit h about once in exp(θ*·h) intervals, θ* the root
of E[exp(θ(z − k))] = 1: θ* = 2k for a normal z (Siegmund's approximation, which the
budget uses). So the means of exp(θ(z − k)) over the count's learned intervals that
began with the lasting sum at 0 (``RateBaseline.hold``) are kept at a few θ from 2k
down, and θ* is read where they cross 1 (linearly between two); the steps are divided
by 2k/θ*, which keeps the designed run length. A normal z's mean at 2k is 1, and its
test is unchanged.

Each mean is taken one standard error low (from the mean of its square): a few
intervals' chance tail loosens no test, a tail that is the agent's own does. The
means start from a normal z's, weighted as ``PRIOR`` intervals, and forget at the
count's rate: a fault building up slowly is too little of the memory to loosen its
own test.
"""

import math

PRIOR = 50.0  # intervals of normal z-scores the means start from: a young count's few say little
TOP_Z = 4.0  # a z beyond this is taken in at this (one far interval is no tail's shape)
# The θ the means are kept at, as fractions of 2k (the last bounds the stretch: 1 / 0.4).
FRACTIONS = (1.0, 0.85, 0.7, 0.55, 0.4)


class ZTail:
    """Running means of exp(θ(z − k)) and of its square over a count's healthy
    intervals, at the θ of ``FRACTIONS``, and how many intervals they hold."""

    __slots__ = ("held", "means", "squares", "weight")

    def __init__(self, means=None, squares=None, weight: float = 0.0):
        self.means: list[float] | None = means
        self.squares: list[float] | None = squares
        self.weight = weight
        self.held: float | None = None  # the z of the interval judged last, until learned

    def hold(self, z: float | None) -> None:
        """Keep the judged interval's z (None: not one to learn), until it is learned."""
        self.held = z

    def learn(self, slack: float, alpha: float) -> None:
        """Take the held z in (the interval was healthy)."""
        z, self.held = self.held, None
        if z is None or not math.isfinite(z):
            return
        if self.means is None or self.squares is None:
            self.means, self.squares = _normal(slack)
            self.weight = PRIOR
        self.weight = min(self.weight + 1.0, max(1.0 / alpha, PRIOR + 1.0))
        step = min(z, TOP_Z) - slack
        for i, theta in enumerate(_thetas(slack)):
            grown = math.exp(theta * step)
            self.means[i] += (grown - self.means[i]) / self.weight
            self.squares[i] += (grown * grown - self.squares[i]) / self.weight

    def stretch(self, slack: float, alpha: float) -> float:
        """What the lasting test's steps of z − ``slack`` are divided by (at least 1)."""
        if self.means is None or self.squares is None or slack <= 0.0:
            return 1.0
        # A running mean of w intervals holds w; once it forgets at 1/w, about 2w − 1.
        held = 2.0 * self.weight - 1.0 if self.weight >= 1.0 / alpha else self.weight
        means, squares = self.means, self.squares
        low = lambda i: means[i] - math.sqrt(max(squares[i] - means[i] ** 2, 0.0) / held)  # noqa: E731
        if low(0) <= 1.0:  # (a normal z's, most counts': no need of the others)
            return 1.0
        return 1.0 / _crossing([low(i) for i in range(len(FRACTIONS))])

    def carried(self) -> "ZTail":
        """What a new baseline of the count starts from (a deploy's): the shape of its
        noise is the nature of the agent's work, not of its version."""
        means = None if self.means is None else list(self.means)
        squares = None if self.squares is None else list(self.squares)
        return ZTail(means, squares, self.weight)

    def to_json(self) -> list | None:
        """A plain list for the state file (None before any interval was learned)."""
        return None if self.means is None else [self.means, self.squares, self.weight]

    @classmethod
    def from_json(cls, data: list | None) -> "ZTail":
        """Restore from ``to_json`` output (none before tails were kept)."""
        return cls(list(data[0]), list(data[1]), float(data[2])) if data else cls()


def _crossing(lows: list[float]) -> float:
    """The fraction of 2k at which the means, from 2k down (the first above 1), fall to 1
    (linearly between the two around it; the last fraction if none does)."""
    for i in range(1, len(FRACTIONS)):
        if lows[i] <= 1.0:
            between = (1.0 - lows[i]) / (lows[i - 1] - lows[i])
            return FRACTIONS[i] + (FRACTIONS[i - 1] - FRACTIONS[i]) * between
    return FRACTIONS[-1]


def _thetas(slack: float) -> tuple[float, ...]:
    return tuple(2.0 * slack * fraction for fraction in FRACTIONS)


def _normal(slack: float) -> tuple[list[float], list[float]]:
    """The means for a normal z: E exp(θ(z − k)) = exp(θ²/2 − θk), its square's at 2θ."""
    thetas = _thetas(slack)
    return (
        [math.exp(t * t / 2 - t * slack) for t in thetas],
        [math.exp(2 * t * t - 2 * t * slack) for t in thetas],
    )
