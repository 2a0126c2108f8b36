"""What a level's and a count's baselines share: learning (a robust fit, then following),
the one-sided CUSUM sum, and a settling level after an adopted one."""

import math
from typing import Any

from ..bursts import Bursts
from ..settings import BaselineSettings
from .fit import CarriedFit, VarianceFit

FIT_WINSOR = 4.0  # residuals are clipped here for the spread; a count beyond is not learned
# Samples before a baseline has seen how its agent bursts: bursts in one interval in
# twenty have shown in 60 intervals 19 times in 20 (in 30, 4 in 5).
BURSTS_SHOWN = 60
ADOPT_SAMPLES, ADOPT_ALPHA = 10, 0.3  # after an adopted level, samples that settle it quickly
SENSED_SHIFT = 0.05  # the shift of log level an interval's sensitivity is read over


class StreamingBaseline:
    """What both kinds share: learning (robust fit, then following), the one-sided CUSUM
    sum, the estimate's certainty and a settling level after an adopted one."""

    excess: float
    n: int
    fresh: int
    warmup: list[list[float]]
    bursts: Bursts
    fit: VarianceFit
    # The spread fit of the version before a deploy: the least a young baseline's spread is
    # granted (see ``carry``).
    before: CarriedFit | None
    burst_from = FIT_WINSOR  # the z from which an interval may be a burst (see ``Bursts``)

    @staticmethod
    def _scale(value: float) -> float:
        """The scale a value is learned on (a level's log; a count as it is)."""
        return value

    @staticmethod
    def _unscale(scaled: float) -> float:
        """A value back from the scale it is learned on."""
        return scaled

    def learned(self, s: BaselineSettings) -> bool:
        """Whether enough samples were seen for detection to run."""
        return self.n >= s.min_samples and not self.warmup

    def settled(self, s: BaselineSettings) -> bool:
        """Whether the baseline is sure enough of its level for small lasting shifts: from
        ``lasting_after`` samples on, or once learned where a deploy carried the spread
        over (the level's own uncertainty is the lasting test's margin)."""
        carried = self.before is not None and self.learned(s)
        return carried or self.n >= s.lasting_after

    def untried(self, s: BaselineSettings, calls: float, waiting: bool = False) -> bool:
        """Whether a far interval of ``calls`` calls now may be a burst the baseline could
        not know yet: it is young (under ``BURSTS_SHOWN`` samples), or one call may have
        made the interval's value and it is not the second far one (``waiting``: the last
        one's excursion is waiting, deferred); and the last interval was not far (unless
        ``waiting``)."""
        few = not waiting and self.one_call_makes(calls)
        unsure = self.n < BURSTS_SHOWN or few
        return unsure and (waiting or not self.bursts.after_far(self.burst_from))

    def one_call_makes(self, calls: float) -> bool:
        """Whether one call may make the value of an interval of ``calls`` calls (a count:
        never, every call adds to it)."""
        return False

    def learn(self, value: float, exposure: float, s: BaselineSettings) -> None:
        """Take a normal interval in: fitted robustly once ``min_samples`` are in, then
        followed."""
        fitted = self.n > len(self.warmup)  # (the warm-up holds every sample until the fit)
        self.n += 1
        if self.before is not None:
            self.before.told += self._between(exposure, self.before.fit)
            if self.before.told >= BURSTS_SHOWN:
                self.before = None
        row = [self._scale(value), exposure]
        if fitted:
            self._follow(row[0], exposure, s)
        elif self.n < s.min_samples:
            self.warmup.append(row)
        else:
            rows, self.warmup = [*self.warmup, row], []
            self._fit(rows, s)
            for scaled, exposure_of in rows:  # the warm-up's bursts, seen once it is fitted
                self.note(self._unscale(scaled), exposure_of, s, True)

    def _between(self, exposure: float, fit: VarianceFit) -> float:
        """How much an interval of ``exposure`` tells of the spread between intervals under
        ``fit``, as a share of a busy interval's (a count: all of it)."""
        return 1.0

    def _fit(self, rows: list[list[float]], s: BaselineSettings) -> None:
        raise NotImplementedError

    def _follow(self, scaled: float, exposure: float, s: BaselineSettings) -> None:
        raise NotImplementedError

    def _step(self, alpha: float) -> tuple[float, bool]:
        """How fast the level follows now, and whether far values may move it (settling)."""
        if self.fresh > 0:
            self.fresh -= 1
            return ADOPT_ALPHA, True
        return alpha, False

    def shows(self, rise: float, exposure: float, s: BaselineSettings) -> float:
        """The z a rise by the factor ``rise`` shows over ``exposure`` (a count: any, as
        far as a shared shift goes; the fleet's count storms are several-fold)."""
        return math.inf

    def run_z(
        self, value: float, exposure: float, s: BaselineSettings, weight: float = 1.0
    ) -> float | None:
        """Evidence an interval adds to a run that is judged at once (a share's), its log
        chance taken at ``weight``; None."""
        return None

    def hold(self, z: float) -> None:
        """Keep the judged interval's z until it is learned (a count's tail; a level's
        persistence)."""

    def sudden_z(self, z: float) -> float:
        """The z the sudden test judges an interval of ``z`` by (a wandering level's: also
        its jump from where it was lately)."""
        return z

    def healthy(self) -> None:
        """The interval judged last alarmed nothing and the vital's shift had no known
        cause: a level takes its z into how its z-scores hang together (else nothing)."""

    def carry(self, before: "StreamingBaseline") -> None:
        """Start from what the vital's baseline before a deploy saw of the agent's work:
        its bursts, and, until ``BURSTS_SHOWN`` samples are in, its spread as the least
        this one's is (a new version's first intervals may happen to be calm, and its
        spread fitted on them alone held the agent for what the old one saw every hour)."""
        self.bursts = before.bursts.carried()
        if before.kind == self.kind:
            self.before = CarriedFit(VarianceFit(list(before.fit.sums)))

    def _before_json(self) -> dict[str, Any]:
        return {} if self.before is None else self.before.to_json()

    def z(self, value: float, exposure: float, floor: float, s: BaselineSettings) -> float:
        """How far above normal ``value`` lies for an interval of ``exposure``, against the
        baseline and the bursts the agent showed (``floor``: the smallest spread, on the
        log scale, a level is granted)."""
        alone = self._z_at(value, exposure, floor, s)
        return self.bursts.z(
            alone, lambda level, spread: self._z_at(value, exposure, floor, s, level, spread)
        )

    def sensitivity(self, value: float, exposure: float, floor: float, s: BaselineSettings):
        """How far the interval's z moves as the level moves (z per unit of log level, the
        way the vital alarms): what the interval tells of a shift of the level."""
        at = lambda level: self._z_at(value, exposure, floor, s, level)  # noqa: E731
        return (at(0.0) - at(SENSED_SHIFT)) / SENSED_SHIFT

    def note(self, value: float, exposure: float, s: BaselineSettings, new: bool) -> None:
        """Show the bursts every judged interval, alarmed or not (``new``: it may begin
        one, the agent healthy and the vital unexplained; see ``Bursts``)."""
        z = lambda: self._z_at(value, exposure, s.level_floor, s)  # noqa: E731
        self.bursts.note(z, self._beyond(value, exposure), s.spread_alpha, new, self.burst_from)

    def _z_at(self, value, exposure, floor, s, level=0.0, spread=0.0) -> float:
        """z of ``value`` against the baseline moved up by ``level`` (log), a level that
        varies by ``spread`` (log, squared)."""
        raise NotImplementedError

    def _beyond(self, value: float, exposure: float) -> float:
        """How far ``value`` lies beyond the baseline on the side the vital alarms (log)."""
        raise NotImplementedError

    def uncertainty(self, s: BaselineSettings) -> float:
        """The variance of the baseline's estimate of its level, in a usual interval's."""
        raise NotImplementedError

    def restart(self) -> None:
        """Forget the lasting evidence (an alarm was raised on it)."""
        self.excess = 0.0

    def accumulate(self, step: float, limit: float) -> bool:
        """Add a sample's step (at most half the limit: one sample alone never reaches it);
        whether the sum reached the limit."""
        self.excess = max(0.0, self.excess + min(step, limit / 2))
        return self.excess >= limit

    def drifting(self, limit: float) -> bool:
        """Whether the sum is half way to the limit (too suspect to learn from).

        Not any sum above 0: leaving every somewhat high sample out would bias the
        baseline low."""
        return self.excess >= limit / 2
