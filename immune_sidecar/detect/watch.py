"""Whether a deploy changed a vital: the new version's healthy intervals judged against the
baseline from before it, while the new one is young.

A vital the deploy left as it was takes its old baseline back. A young one, fitted on a
dozen intervals and unsure of its level, learns a fault that begins soon after the deploy
(a bad deploy's creep) as the new version's normal. (Fresh seeds 10 to 23: 9 of 30 faults
of 3σ or more in the hour after a deploy were missed or misnamed, against 41 of 3,203
elsewhere.)

"Left as it was" must be shown, not merely not disproved: an idle agent's one-call
intervals tell next to nothing of a shift, and its busy ones, judged against a baseline
its deploy had moved by a fifth, would add to the lasting sum every time. So the shift of
the vital's log level is estimated from the intervals, each weighed by what it tells of
one (``g``, the z it moves per unit of log level), and the old baseline comes back only
when the shift's confidence bound, as the most telling interval would read it, stays
under ``BOUND_Z``, and the intervals spread no wider than the old baseline says."""

import math
from typing import NamedTuple

from .baseline import Baseline

BOUND_Z = 0.75  # how far off a kept baseline may be, in the z of the most telling interval
CONFIDENCE_Z = 1.64  # the shift's bound is one-sided 95% on each side
CLIP_Z = 3.0  # a burst or straggler counts no more than this in the estimate
RETOLD = 1.5  # an interval this much more telling than those the old baseline came back on
LONGEST = 60  # intervals a vital is watched; then it keeps the baseline it has


class Tally(NamedTuple):
    """The old baseline, the young one while the old is back (it goes on learning, should
    the deploy turn out to have moved the vital after all), and what the new version's
    intervals told against the old: Σg·z, Σg², the largest g and how many intervals."""

    before: Baseline
    young: Baseline | None = None
    gz: float = 0.0
    gg: float = 0.0
    most: float = 0.0
    count: int = 0
    kept_at: float = 0.0  # ``most`` when the old baseline was brought back
    zz: float = 0.0  # Σz², for whether the deploy widened the spread

    def add(self, z: float, g: float) -> "Tally":
        """One more healthy interval, of z against the old baseline and sensitivity g."""
        z = max(-CLIP_Z, min(CLIP_Z, z))
        return self._replace(gz=self.gz + g * z, gg=self.gg + g * g, most=max(self.most, g),
                             count=self.count + 1, zz=self.zz + z * z)  # fmt: skip

    def unchanged(self, least: int) -> bool:
        """Whether ``least`` intervals or more are in and the shift they bound, read by the
        most telling of them, is under ``BOUND_Z``."""
        return self.count >= least and self._bound() <= BOUND_Z and not self._wider()

    def _wider(self) -> bool:
        """Whether the z-scores spread wider than the old baseline's (their mean square
        beyond 1 by more than its one-sided 95% bound): a deploy that widened the spread,
        judged by the old one, would be held for the new version's ordinary intervals."""
        return self.zz / self.count > 1.0 + CONFIDENCE_Z * math.sqrt(2.0 / self.count)

    def outgrown(self, least: int) -> bool:
        """Whether the old baseline, brought back, was brought back on intervals far less
        telling than one seen since (an idle agent's first busy one), which no longer
        shows the vital unchanged. (A shift that shows in intervals like those it was
        brought back on is the agent's, not the deploy's: a bad deploy's creep.)"""
        return self.most > RETOLD * self.kept_at and not self.unchanged(least)

    def _bound(self) -> float:
        """The shift's upper confidence bound, as the most telling interval reads it."""
        if self.gg <= 0.0:
            return math.inf
        shift, error = abs(self.gz / self.gg), 1.0 / math.sqrt(self.gg)
        return (shift + CONFIDENCE_Z * error) * self.most

    def to_json(self) -> dict:
        """A plain dict for the state file: the baseline not in use (the old one, or the
        young one while the old is back, the vital's own) and the sums."""
        sums = [self.gz, self.gg, self.most, self.count, self.kept_at, self.zz]
        if self.young is None:
            return {"before": self.before.to_json(), "sums": sums}
        return {"young": self.young.to_json(), "sums": sums}
