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

import math
import statistics
from typing import Any

from .bursts import Bursts, level_above
from .load import LoadSlope
from .persistence import Persistence
from .settings import BaselineSettings
from .stats import (
    dispersed_poisson_low_z,
    dispersed_poisson_z,
    poisson_low_quantile,
    poisson_quantile,
    student_z,
    z_of_p,
)
from .tail import ZTail

WINSOR = 2.5  # values beyond this many standard deviations do not move the level
FIT_WINSOR = 4.0  # residuals are clipped here for the spread; a count beyond is not learned
COUNT_CLIP_Z = 3.09  # counts are clipped at their 0.999 quantile before they are learned
COUNT_BURST_Z = 2.5  # a count's interval may be a burst from here (see ``Bursts``)
COUNT_PRIOR = 20.0  # intervals of plain Poisson behaviour a count's over-dispersion starts from
PRIOR_EVENTS = 10.0  # ... and at least this many events' worth, for a rare count
RELATIVE_FROM = 5.0  # events in a typical interval before a relative spread is told apart
LASTING_EVENTS = 5.0  # events a count's baseline remembers before its lasting test runs
MAD_TO_SIGMA = 1.4826
# Samples before a baseline has seen how its agent bursts: bursts in one interval in
# twenty have shown in 60 intervals 19 times in 20 (in 30, 4 in 5).
BURSTS_SHOWN = 60
MEDIAN_EFFICIENCY = math.pi / 2  # a median's variance, × a mean's (normal samples)
WELL_POSED = 0.05  # the two variance terms are told apart only past this correlation slack
MAX_WEIGHT = 4.0  # the most an interval's precision weighs in a level's learning, × the usual
ADOPT_SAMPLES, ADOPT_ALPHA = 10, 0.3  # after an adopted level, samples that settle it quickly
MAX_CALL_VARIANCE = 2.0  # a single call's log-variance a mean's shortfall is told from, at most
FEW_CALLS = 3  # from this many calls on, a level's value is no single call's
SEVERAL_BURSTS = 3  # bursts seen before a small count's lasting sum takes them as the agent's
LOWEST_SHIFT = 0.05  # a falling share's likelihood ratio is tuned to no lower a share than this


class VarianceFit:
    """var = a·u + b·v with a, b ≥ 0, fitted to squared residuals (EW least squares).

    Residuals may be an excess over a known variance, and negative; the fit is never."""

    __slots__ = ("sums",)

    def __init__(self, sums: list[float] | None = None) -> None:
        self.sums = sums or [0.0] * 5  # Σuu, Σuv, Σvv, Σu·r², Σv·r²

    def add(self, u: float, v: float, squared: float, keep: float, weight: float = 1.0) -> None:
        """Take one squared residual in, after forgetting by ``keep``, at ``weight`` (for
        least squares weighted by the inverse of each residual's variance)."""
        sums = self.sums
        sums[0] = sums[0] * keep + weight * u * u
        sums[1] = sums[1] * keep + weight * u * v
        sums[2] = sums[2] * keep + weight * v * v
        sums[3] = sums[3] * keep + weight * u * squared
        sums[4] = sums[4] * keep + weight * v * squared

    def variance(
        self, u: float, v: float, prior: tuple[float, float, float] = (0, 0, 0), larger=True,
        bounded=False,
    ) -> float:  # fmt: skip
        """The fitted variance at (u, v); 0 before any residual.

        When the two terms cannot be told apart, ``larger`` takes the larger one-term fit
        (the safe side), else the first term alone. ``bounded``: where they can be and one
        comes out below 0, the least-squares fit with that one at 0 (else: as when they
        cannot). ``prior`` = (weight, u₀, v₀) adds that many residuals of zero at (u₀, v₀):
        a few rare events say little about a spread."""
        weight, u0, v0 = prior
        uu, uv, vv, uy, vy = self.sums
        uu, uv, vv = uu + weight * u0 * u0, uv + weight * u0 * v0, vv + weight * v0 * v0
        if uu <= 0 or vv <= 0:
            return 0.0
        det = uu * vv - uv * uv
        if det > WELL_POSED * uu * vv:
            a, b = (vv * uy - uv * vy) / det, (uu * vy - uv * uy) / det
            if a >= 0 and b >= 0:
                return a * u + b * v
            if bounded:  # the one-term fit that explains more (a term below 0 explains none)
                first, second = max(uy, 0.0) ** 2 / uu, max(vy, 0.0) ** 2 / vv
                return max(uy / uu * u if first >= second else vy / vv * v, 0.0)
        if not larger:
            return max(uy / uu * u, 0.0)
        return max(uy / uu * u, vy / vv * v, 0.0)


class _Streaming:
    """What both kinds share: learning (robust fit, then following), the one-sided CUSUM
    sum, the estimate's certainty and a settling level after an adopted one."""

    excess: float
    n: int
    fresh: int
    warmup: list[list[float]]
    bursts: Bursts
    bursty = True  # whether the vital's far intervals may be bursts (see ``Bursts``)
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
        """Whether the baseline is sure enough of its level for small lasting shifts."""
        return self.n >= s.lasting_after

    def untried(self, s: BaselineSettings, calls: float, waiting: bool = False) -> bool:
        """Whether a far interval of ``calls`` calls now may be a burst the baseline could
        not know yet: it is young (under ``BURSTS_SHOWN`` samples), or one call may have
        made the interval's value and it is not the second far one (``waiting``: the last
        one's excursion is waiting, deferred); and the last interval was not far (unless
        ``waiting``)."""
        few = not waiting and self.one_call_makes(calls)
        unsure = self.bursty and (self.n < BURSTS_SHOWN or few)
        return unsure and (waiting or self.bursts.pending is None)

    def one_call_makes(self, calls: float) -> bool:
        """Whether one call may make the value of an interval of ``calls`` calls (a count:
        never, every call adds to it)."""
        return False

    def learn(self, value: float, exposure: float, s: BaselineSettings) -> None:
        """Take a normal interval in: fitted robustly once ``min_samples`` are in, then
        followed."""
        fitted = self.n > len(self.warmup)  # (the warm-up holds every sample until the fit)
        self.n += 1
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

    def run_z(self, value: float, exposure: float, s: BaselineSettings) -> float | None:
        """Evidence an interval adds to a run that is judged at once (a share's); None."""
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

    def carry(self, before: "_Streaming") -> None:
        """Start from what the vital's baseline before a deploy saw of the agent's work:
        its bursts."""
        self.bursts = before.bursts.carried()

    def z(self, value: float, exposure: float, floor: float, s: BaselineSettings) -> float:
        """How far above normal ``value`` lies for an interval of ``exposure``, against the
        baseline and the bursts the agent showed (``floor``: the smallest spread, on the
        log scale, a level is granted)."""
        alone = self._z_at(value, exposure, floor, s)
        return self.bursts.z(
            alone, lambda level, spread: self._z_at(value, exposure, floor, s, level, spread)
        )

    def note(self, value: float, exposure: float, s: BaselineSettings, new: bool) -> None:
        """Show the bursts every judged interval, alarmed or not (``new``: it may begin
        one, the agent healthy and the vital unexplained; see ``Bursts``)."""
        z = lambda: self._z_at(value, exposure, s.level_floor, s)  # noqa: E731
        self.bursts.note(z, self._above(value, exposure), s.spread_alpha, new, self.burst_from)

    def _z_at(self, value, exposure, floor, s, level=0.0, spread=0.0) -> float:
        """z of ``value`` against the baseline moved up by ``level`` (log), a level that
        varies by ``spread`` (log, squared)."""
        raise NotImplementedError

    def _above(self, value: float, exposure: float) -> float:
        """How far above the baseline ``value`` lies, on the log scale."""
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


class LevelBaseline(_Streaming):
    """A per-call mean on a log scale, with variance τ² + b/n.

    The level follows each interval by its precision relative to the agent's usual
    interval's, as a weighted mean would: an agent busy for an hour, then idle but for a
    call or two, has the level of its busy hours, not of its many near-empty intervals.
    The spread's two terms are fitted the same way, each squared residual weighed by the
    inverse of its variance (2·v², v the interval's): fitted alike, a batch agent's
    many near-empty intervals, whose squared residuals vary a hundred times as much,
    drowned what its busy ones tell of τ².

    ``mu`` is the level at the agent's usual load; an interval's value is read there
    along the level's slope on load (``LoadSlope``). Its lasting test takes its z-scores
    as they hang together (``Persistence``)."""

    __slots__ = (
        "bursts", "calls", "excess", "fit", "fresh", "load", "mu", "n", "persistence", "warmup"
    )  # fmt: skip
    kind = "level"
    loaded = True  # whether the level moves with load (a call's duration; not its tokens)

    def __init__(
        self, mu=0.0, n=0, fit=None, warmup=None, excess=0.0, fresh=0, bursts=None, calls=None,
        load=None, persistence=None,
    ):  # fmt: skip
        self.mu, self.n, self.excess, self.fresh = mu, n, excess, fresh
        self.bursts = bursts or Bursts()
        self.persistence = persistence or Persistence()
        self.fit = fit or VarianceFit()
        self.warmup: list[list[float]] = warmup if warmup is not None else []
        # Intervals and their 1/n, exponentially weighted as the fit forgets (unweighted).
        self.calls = calls or self.fit.sums[:2]
        # The slope on load, for a level that moves with load (None for one that does not).
        self.load = (load or LoadSlope()) if self.loaded else None

    @staticmethod
    def _scale(value: float) -> float:
        return _log(value)

    _unscale = staticmethod(math.exp)

    def variance(self, calls: float, floor: float) -> float:
        """The variance of the log of an interval's mean over ``calls`` calls.

        Fewer calls than the agent's intervals usually hold is an extrapolation of the
        fit, and a fit over a narrow range of calls tells the per-call term badly (it
        may give a single call the spread of a busy interval): there, the variance at
        the usual calls is taken to grow at least as a mean's does, as 1/n."""
        per_call = 1.0 / max(calls, 1.0)
        fitted = self.fit.variance(1.0, per_call)
        usual = self._usual_per_call()
        if per_call > usual:
            fitted = max(fitted, self.fit.variance(1.0, usual) * per_call / usual)
        return max(fitted, floor * floor)

    def one_call_makes(self, calls: float) -> bool:
        """Under ``FEW_CALLS`` calls: one straggler moves the median of two calls half way
        (on the log scale), a mean of two as far, the value of one all the way."""
        return calls < FEW_CALLS

    def shows(self, rise: float, calls: float, s: BaselineSettings) -> float:
        """The z a rise of every call by the factor ``rise`` shows in ``calls`` calls."""
        return math.log(rise) / math.sqrt(self.variance(calls, s.level_floor))

    def _z_at(self, value, calls, floor, s, level=0.0, spread=0.0) -> float:
        t = (self._level_of(value, calls) - self.mu - level) / math.sqrt(
            self.variance(calls, floor) + spread
        )
        return student_z(t, s.tail_dof)

    def _level_of(self, value: float, calls: float) -> float:
        """An interval's value on the scale of ``mu``."""
        return self._at_usual_load(_log(value) + self._shortfall(calls), calls)

    def _at_usual_load(self, y: float, calls: float) -> float:
        """An interval's log level moved to the agent's usual load along the slope."""
        return y if self.load is None else y - self.load.offset(calls)

    def _shortfall(self, calls: float) -> float:
        """How far below ``mu`` the log of an interval of ``calls`` calls lies, on average
        (none: a median's log is the calls' own)."""
        return 0.0

    def step(
        self, z: float, value: float, calls: float, s: BaselineSettings, margin: float = 0.0
    ) -> float:
        """What an interval adds to the CUSUM: its z beyond the slack and ``margin``, for an
        interval of fewer calls than usual weighed down as a likelihood ratio would (w·z −
        k·w², w the interval's standard deviation relative to a usual one's): a few calls
        are weak evidence, but a shift that lasts through an agent's quiet hours still adds up."""
        weight = min(1.0, math.sqrt(self._precision(calls, s.level_floor)))
        z /= self.persistence.root()
        return weight * z - (s.cusum_slack + margin) * weight * weight

    def hold(self, z: float) -> None:
        """Keep the judged interval's z for its persistence."""
        self.persistence.hold(z)

    def sudden_z(self, z: float) -> float:
        """The larger of ``z`` and its jump from the level's recent healthy intervals, where
        the level wanders (``Persistence.jump``)."""
        return self.persistence.jump(z)

    def healthy(self) -> None:
        """Take the judged interval's z into its persistence."""
        self.persistence.learn()

    def carry(self, before: "_Streaming") -> None:
        """Also how its z-scores hang together."""
        super().carry(before)
        if isinstance(before, LevelBaseline):
            self.persistence = before.persistence.carried()

    def uncertainty(self, s: BaselineSettings) -> float:
        """The median of the first ``min_samples`` (π/2 over their number), then followed
        at ``alpha``: each interval shrinks what the start leaves and adds alpha²."""
        kept = (1.0 - s.alpha) ** (2 * max(0, self.n - s.min_samples))
        return kept * MEDIAN_EFFICIENCY / s.min_samples + s.alpha / (2.0 - s.alpha) * (1.0 - kept)

    def _precision(self, calls: float, floor: float) -> float:
        """An interval's precision relative to the agent's usual interval's."""
        usual = self.variance(1.0 / self._usual_per_call(), floor)
        return usual / self.variance(calls, floor)

    def _usual_per_call(self) -> float:
        """1/n of the agent's usual interval (the fit's mean of 1/n)."""
        return self.calls[1] / self.calls[0] if self.calls[0] > 0 else 1.0

    def typical(self) -> float:
        """The baseline on the vital's own scale (its geometric mean)."""
        return math.exp(self.mu)

    def distance(self, value: float, calls: float) -> float | None:
        """How far ``value`` lies from the level, on the log scale (for the agent's day)."""
        return self._level_of(value, calls) - self.mu

    _above = distance  # (a level's distance is never None)

    def position(self) -> float:
        """The level on the log scale (what ``distance`` is measured from)."""
        return self.mu

    def moved(self, value: float, calls: float, offset: float) -> tuple[float, float]:
        """An interval's figures as they would be at the level moved by ``offset`` (log)."""
        return value * math.exp(-offset), calls

    def adopt(self, value: float, calls: float) -> None:
        """Make ``value`` the new normal level (an operator or a lasting shift said so);
        the next samples settle it."""
        self.mu, self.fresh = self._level_of(value, calls), ADOPT_SAMPLES
        self.restart()

    def _fit(self, rows: list[list[float]], s: BaselineSettings) -> None:
        if self.load is not None:
            centre = statistics.median(y + self._shortfall(calls) for y, calls in rows)
            for y, calls in rows:
                self.load.learn(calls, y + self._shortfall(calls) - centre, 1.0, 1.0)
            rows = [[self._at_usual_load(y, calls), calls] for y, calls in rows]
        self.mu = statistics.median(y for y, _ in rows)
        spread = MAD_TO_SIGMA * statistics.median(abs(y - self.mu) for y, _ in rows)
        limit = FIT_WINSOR * max(spread, s.level_floor)
        squares = [(max(-limit, min(limit, y - self.mu)) ** 2, calls) for y, calls in rows]
        for squared, calls in squares:  # unweighted first, then weighed by that fit
            self._add_residual(squared, calls, 1.0, 1.0)
        first, self.fit = self.fit, VarianceFit()
        for squared, calls in squares:
            self.fit.add(1.0, 1.0 / max(calls, 1.0), squared, 1.0, self._weigh(first, calls, s))
        self.mu = statistics.median(y + self._shortfall(calls) for y, calls in rows)

    def _follow(self, y: float, calls: float, s: BaselineSettings) -> None:
        y += self._shortfall(calls)
        residual, sd = self._learn_spread(self._at_usual_load(y, calls), calls, s)
        alpha, settling = self._step(s.alpha)
        if settling or abs(residual) <= WINSOR * sd:  # a far value tells of the spread
            weight = self._weight(calls, s)
            if self.load is not None:
                self.mu += self.load.learn(calls, y - self.mu, weight, 1.0 - s.spread_alpha)
            self.mu += alpha * (1.0 if settling else weight) * residual

    def _learn_spread(self, y: float, calls: float, s: BaselineSettings) -> tuple[float, float]:
        """Take the interval's residual from the level into the spread (clipped); the
        residual, and the standard deviation it was judged by."""
        sd = math.sqrt(self.variance(calls, s.level_floor))
        residual = y - self.mu
        clipped = max(-FIT_WINSOR * sd, min(FIT_WINSOR * sd, residual))
        weight = self._weigh(self.fit, calls, s)
        self._add_residual(clipped * clipped, calls, 1.0 - s.spread_alpha, weight)
        return residual, sd

    def _add_residual(self, squared: float, calls: float, keep: float, weight: float) -> None:
        per_call = 1.0 / max(calls, 1.0)
        self.fit.add(1.0, per_call, squared, keep, weight)
        self.calls = [self.calls[0] * keep + 1.0, self.calls[1] * keep + per_call]

    def _weigh(self, fit: VarianceFit, calls: float, s: BaselineSettings) -> float:
        """A squared residual's weight: the inverse of its variance under ``fit``, relative
        to a usual interval's (so that the sums keep their scale)."""
        usual = self._usual_per_call()
        at = lambda per_call: max(fit.variance(1.0, per_call), s.level_floor**2)  # noqa: E731
        return (at(usual) / at(1.0 / max(calls, 1.0))) ** 2

    def _weight(self, calls: float, s: BaselineSettings) -> float:
        """How much an interval moves the level: by its precision (at most MAX_WEIGHT)."""
        return min(MAX_WEIGHT, self._precision(calls, s.level_floor))

    def to_json(self) -> dict[str, Any]:
        """A plain dict for the state file."""
        state = {"kind": self.kind, "mu": self.mu, "n": self.n, "fit": self.fit.sums,
                 "warmup": self.warmup, "excess": self.excess, "fresh": self.fresh,
                 "bursts": self.bursts.to_json(), "calls": self.calls,
                 "persistence": self.persistence.to_json()}  # fmt: skip
        return state if self.load is None else {**state, "load": self.load.sums}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "LevelBaseline":
        """Restore from ``to_json`` output (earlier versions' without a slope on load, or
        without persistence)."""
        load = data.get("load")
        return cls(float(data["mu"]), int(data["n"]), VarianceFit(list(data["fit"])),
                   list(data["warmup"]), float(data["excess"]), int(data["fresh"]),
                   Bursts.from_json(data.get("bursts")), data.get("calls"),
                   LoadSlope(list(load)) if load else None,
                   Persistence.from_json(data.get("persistence")))  # fmt: skip


class MeanBaseline(LevelBaseline):
    """A level that is the mean of an interval's calls (tokens a call): ``mu`` is the log of
    the calls' mean, which the log of a mean of few calls falls short of.

    For log-normal calls of log-spread s, E[log x] = log E[x] − s²/2, and the log of a mean
    of n calls falls short by about half its per-call variance: b/2n, b the fit's per-call
    term, at most ``MAX_CALL_VARIANCE``. (The log-normal a mean of n is about, Fenton–
    Wilkinson's, falls short by ln(1 + (e^{s²} − 1)/n)/2; its e^{s²} would make a b told
    badly, over a narrow range of n, a shortfall far out.) The cap also keeps the fit,
    fed the corrected residuals, from feeding on its own error: a b too large by d adds
    about d²/4 to the next, which grows without end past d = 4.

    Judged uncorrected, a batch agent's level was learned from its idle minutes' one or
    two calls, and each busy one, 300 calls, stood s²/2 above it (output tokens of
    log-spread 0.75: 0.27 in the log, five spreads of a busy interval)."""

    __slots__ = ("_one_call",)
    kind = "mean"
    loaded = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._one_call = ([], 0.0)  # the fit's sums, and the per-call term told from them

    def _shortfall(self, calls: float) -> float:
        return self._per_call_term() / max(calls, 1.0) / 2.0

    def _per_call_term(self) -> float:
        """The fit's per-call term, capped (kept while the fit is unchanged: an interval is
        judged and learned against the same fit several times)."""
        sums, (told_from, term) = self.fit.sums, self._one_call
        if sums != told_from:
            term = self.fit.variance(1.0, 1.0) - self.fit.variance(1.0, 0.0)
            term = min(max(term, 0.0), MAX_CALL_VARIANCE)
            self._one_call = (list(sums), term)
        return term

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "LevelBaseline":
        """Restore; a plain level's state (earlier versions') is moved up by its usual
        interval's shortfall."""
        base = super().from_json(data)
        if data["kind"] == LevelBaseline.kind and not base.warmup:
            base.mu += base._shortfall(1.0 / base._usual_per_call())
        return base


class RateBaseline(_Streaming):
    """Events per unit of exposure, with count variance φ·m + τ²·m² (φ ≥ 1)."""

    __slots__ = (
        "bursts", "events", "excess", "exposure", "fit", "fresh", "n", "tail", "usual", "warmup"
    )  # fmt: skip
    kind = "rate"
    burst_from = COUNT_BURST_Z
    # Whether the spread fit weighs each squared residual by its precision (and bounds its
    # terms at 0): a count's excess over Poisson is never below 0, a share's is (−p·m).
    weighed = True

    def __init__(
        self, events=0.0, exposure=0.0, n=0, fit=None, warmup=None, excess=0.0, fresh=0,
        bursts=None, tail=None, usual=None,
    ):  # fmt: skip
        self.events, self.exposure, self.n, self.excess = events, exposure, n, excess
        # Intervals and their exposure, exponentially weighted as the fit forgets.
        self.usual: list[float] = usual or [0.0, 0.0]
        self.fresh = fresh
        self.bursts = bursts or Bursts()
        self.tail = tail or ZTail()
        self.fit = fit or VarianceFit()
        self.warmup: list[list[float]] = warmup if warmup is not None else []

    def rate(self) -> float:
        """Events per unit of exposure; never below half an event in the remembered window."""
        return max(self.events, 0.5) / max(self.exposure, 1e-9)

    def typical(self) -> float:
        """The baseline on the vital's own scale (events per unit)."""
        return self.events / self.exposure if self.exposure > 0 else 0.0

    def distance(self, count: float, exposure: float) -> float | None:
        """How far ``count`` lies from the expected one, on the log scale: half an event
        added to both, so that a quiet interval is not infinitely far, and so that the
        mean of the distances is the log of the ratio of the rates (to within 3% from two
        events an interval up; one event added to both put a trough of 4 at 4.3)."""
        return level_above(count, self.rate() * exposure)

    _above = distance  # (a count's is never None; a share's would be, but it has no bursts)

    def position(self) -> float:
        """The rate on the log scale (about what ``distance`` is measured from)."""
        return math.log(self.rate())

    def moved(self, count: float, exposure: float, offset: float) -> tuple[float, float]:
        """An interval's count as it would be judged at the rate moved by ``offset`` (log):
        the exposure moves with it, so the count keeps its Poisson nature."""
        return count, exposure * math.exp(offset)

    def settled(self, s: BaselineSettings) -> bool:
        """Also: LASTING_EVENTS events remembered. A rate told from fewer is uncertain by
        more than the rises the lasting test is tuned to (and an agent's first rare events,
        in clumps, would be fought rather than learned)."""
        return super().settled(s) and self.events >= LASTING_EVENTS

    def rate_bound(self) -> float:
        """The highest rate the events seen make plausible: the upper 0.999 bound of a
        Poisson mean given the remembered events (Wilson's form), per unit of exposure."""
        return _wilson(self.events, 1.0) / max(self.exposure, 1e-9)

    def count_variance(self, mean: float, s: BaselineSettings) -> float:
        """The variance of a count whose expectation is ``mean``: Poisson's, plus the excess
        the agent showed (at least ``count_floor``, a share of the rate, between intervals).

        The excess starts from plain Poisson behaviour at a typical interval's count, as
        much of it as COUNT_PRIOR intervals or PRIOR_EVENTS events hold, whichever is more:
        how a rare count's events clump, its first few cannot tell (one pair taken for a
        spread would halve the evidence of every later event). And below RELATIVE_FROM
        events an interval, a spread relative to the rate cannot be told from Poisson
        noise, so the excess is taken as proportional (quasi-Poisson)."""
        typical = self._typical_count(s)
        weight = max(COUNT_PRIOR, min(PRIOR_EVENTS / max(typical, 1e-9), 1e6))
        prior = (weight, typical, typical * typical)
        large = typical >= RELATIVE_FROM
        excess = self.fit.variance(mean, mean * mean, prior, larger=large, bounded=self.weighed)
        return mean + max((self._floor(s) * mean) ** 2, excess)

    def _z_at(self, count, exposure, floor, s, level=0.0, spread=0.0) -> float:
        """(No floor: φ ≥ 1 is one.) The bursts' spread of level adds to the count's own."""
        moved = self.rate() * exposure * math.exp(level)
        variance = self.count_variance(moved, s) + moved * moved * spread
        return student_z(self._tail(count, moved, variance), s.tail_dof)

    def by_likelihood(self, s: BaselineSettings) -> bool:
        """Whether the CUSUM adds likelihood ratios (a typical interval holds under
        RELATIVE_FROM events) rather than z-scores beyond the slack."""
        return self._typical_count(s) < RELATIVE_FROM

    def step(
        self, z: float, count: float, exposure: float, s: BaselineSettings, margin: float = 0.0
    ) -> float:
        """What an interval adds to the CUSUM: z beyond the slack, or for a small count the
        log-likelihood ratio of its count under a rate risen by ``count_shift`` standard
        deviations of the interval's count against the baseline's rate (counts taken as
        Poisson scaled by their dispersion φ = variance / mean). The z-scores give up
        ``margin``; the likelihood ratios do not: a young small rate learns each interval
        by as much as 1/n, so a storm its slower test had not reached yet became its rate
        (a fourfold error rate, 60 intervals in, alarmed twice and was then learned).

        A ratio knows nothing of the agent's bursts: where they lower the interval's ``z``
        (``Bursts``), once ``SEVERAL_BURSTS`` were seen, it adds at most what a normal
        count's ratio at that z would, δ·(z − δ/2). (Each burst of four tool calls an
        interval, eight times as many now and then, added half the limit, and two a few
        intervals apart alarmed. From the first burst on, a rare count's one pair of
        failures, a storm's first interval, was taken for a burst and the storm's own
        ratios capped: 6 storms of 20 caught, 9 or more before.)"""
        if not self.by_likelihood(s):
            slack = s.count_cusum_slack
            return (z - slack - margin) / self.tail.stretch(slack, s.rate_alpha)
        mean = self.rate() * exposure
        variance = self.count_variance(mean, s)
        ratio = self._shifted(s.count_shift * math.sqrt(variance) / mean)
        likelihood = (count * math.log(ratio) - mean * (ratio - 1.0)) * mean / variance
        if self.bursts.weight < SEVERAL_BURSTS or z >= self._z_at(count, exposure, 0.0, s):
            return likelihood
        return min(likelihood, s.count_shift * (z - s.count_shift / 2.0))

    def uncertainty(self, s: BaselineSettings) -> float:
        """The rate is the remembered events over their exposure, each interval's weighed
        by (1 − rate_alpha) per interval since: Σw² / (Σw)² over the intervals seen."""
        kept = 1.0 - s.rate_alpha
        n = max(1, self.n)
        squares = (1.0 - kept ** (2 * n)) / (1.0 - kept * kept)
        return squares / ((1.0 - kept**n) / (1.0 - kept)) ** 2

    def _typical_count(self, s: BaselineSettings) -> float:
        return self.events / max(1.0, min(float(self.n), 1.0 / s.rate_alpha))

    def adopt(self, count: float, exposure: float) -> None:
        """Make this interval's rate the new normal; the next samples settle it."""
        scale = self.exposure / max(exposure, 1e-9)
        self.events, self.fresh = count * scale, ADOPT_SAMPLES
        self.restart()

    def _fit(self, rows: list[list[float]], s: BaselineSettings) -> None:
        # The interval with the highest rate is left out: one fault while learning stays out.
        rows = self._without_extreme(rows)
        self.events = sum(k for k, _ in rows)
        self.exposure = sum(e for _, e in rows)
        for count, exposure in rows:
            mean = self.rate() * exposure
            variance = self.count_variance(mean, s)
            self._add_residual(count, mean, variance, 1.0, weight=self._weigh(mean, variance, s))

    def hold(self, z: float) -> None:
        """Keep the judged interval's z, for the tail of its z-scores if it is learned and
        began with the lasting sum at 0: healthy z-scores come one by one, each as likely
        after a high one as after a low one, so this leaves their tail as it is, while a
        shift building up adds its first interval only (else it loosened its own test)."""
        self.tail.hold(z if self.excess <= 0.0 else None)

    def carry(self, before: "_Streaming") -> None:
        """Also the tail of its z-scores."""
        super().carry(before)
        if isinstance(before, RateBaseline):
            self.tail = before.tail.carried()

    def _follow(self, count: float, exposure: float, s: BaselineSettings) -> None:
        if not self.by_likelihood(s):  # (a small count's likelihood ratios are not stretched)
            self.tail.learn(s.count_cusum_slack, s.rate_alpha)
        mean = self.rate() * exposure
        variance = self.count_variance(mean, s)
        # What is too far out to learn is judged against the highest rate the events seen
        # allow: against the estimate alone, a rare event's clumps (three retries to every
        # failure) look impossible to a young rate, are never learned, and it stays too low.
        likely = self._plausible_rate() * exposure
        if self._tail(count, likely, self.count_variance(likely, s)) > FIT_WINSOR:
            return  # a shift the young baseline missed is neither its rate nor its spread
        weight = self._weigh(mean, variance, s)
        clipped = self._add_residual(count, mean, variance, 1.0 - s.spread_alpha, likely, weight)
        alpha, _ = self._step(s.rate_alpha)
        keep = 1.0 - alpha
        self.events = self.events * keep + clipped
        self.exposure = self.exposure * keep + exposure

    def _add_residual(
        self, count: float, mean: float, variance: float, keep: float, likely: float | None = None,
        weight: float = 1.0,
    ) -> float:  # fmt: skip
        """Feed the spread fit; the count clipped at the 0.999 quantile of the ``likely``
        mean (what the rate learns; at least ``mean``).

        Clipped, not dropped: dropping every rare second event would bias a small rate low
        and read its own Poisson noise as over-dispersion."""
        dispersion = variance / max(mean, 1e-12)
        clipped = self._clip(count, mean if likely is None else likely, mean, dispersion)
        self.fit.add(mean, mean * mean, (clipped - mean) ** 2 - mean, keep, weight)  # over Poisson
        exposure = mean / self.rate()  # (the mean is the rate times the interval's exposure)
        self.usual = [self.usual[0] * keep + 1.0, self.usual[1] * keep + exposure]
        return clipped

    def _weigh(self, mean: float, variance: float, s: BaselineSettings) -> float:
        """A squared residual's weight: the inverse of its variance, relative to that of an
        interval of the usual exposure (so that the sums keep their scale); 1 unweighed."""
        if not self.weighed:
            return 1.0
        intervals, exposure = self.usual
        usual = self.rate() * exposure / intervals if intervals > 0 else self._typical_count(s)
        usual = max(usual, 1e-9)
        at_usual = _residual_variance(usual, self.count_variance(usual, s))
        return at_usual / _residual_variance(mean, variance)

    # The side a count is judged on: a rate alarms when it rises (the upper tail).
    _tail = staticmethod(dispersed_poisson_z)

    @staticmethod
    def _floor(s: BaselineSettings) -> float:
        """The smallest spread of the rate between intervals, as a share of it."""
        return s.count_floor

    @staticmethod
    def _shifted(rise: float) -> float:
        """The rate, relative to the baseline's, the likelihood ratio is tuned to."""
        return 1.0 + rise

    def _plausible_rate(self) -> float:
        """The rate beyond which a count is a shift the young baseline missed."""
        return self.rate_bound()

    @staticmethod
    def _clip(count: float, likely: float, mean: float, dispersion: float) -> float:
        top = max(mean, likely) / dispersion
        return min(count, dispersion * poisson_quantile(top, COUNT_CLIP_Z))

    @staticmethod
    def _without_extreme(rows: list[list[float]]) -> list[list[float]]:
        """The warm-up's rows without the one at the highest rate (a fault while learning)."""
        return _by_rate(rows)[:-1] or rows

    def to_json(self) -> dict[str, Any]:
        """A plain dict for the state file."""
        return {"kind": self.kind, "events": self.events, "exposure": self.exposure,
                "n": self.n, "fit": self.fit.sums, "warmup": self.warmup,
                "excess": self.excess, "fresh": self.fresh,
                "bursts": self.bursts.to_json(), "tail": self.tail.to_json(),
                "usual": self.usual}  # fmt: skip

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "RateBaseline":
        """Restore from ``to_json`` output."""
        return cls(float(data["events"]), float(data["exposure"]), int(data["n"]),
                   VarianceFit(list(data["fit"])), list(data["warmup"]), float(data["excess"]),
                   int(data["fresh"]), Bursts.from_json(data.get("bursts")),
                   ZTail.from_json(data.get("tail")), data.get("usual"))  # fmt: skip


class ShareBaseline(RateBaseline):
    """Events per unit of exposure that alarm when they fall: the LLM calls that ended an
    invocation or answered, per call. A loop's calls never end in an answer, and answers
    given calls are a fair test whatever the load (calls given answers are not: a quiet
    minute's one answer would make its calls look like a loop). The same count model,
    judged on its lower tail; its spread fit unweighed and unbounded (``weighed``): its
    excess over Poisson is below 0 (binomial, −p·m), and weighed, a spans agent's first
    intervals of a call or two set it near Poisson, its busy intervals without an
    answer were then too far out to be learned, and they alarmed."""

    __slots__ = ("run_share", "unanswered")
    kind = "share"
    bursty = False
    weighed = False
    _tail = staticmethod(dispersed_poisson_low_z)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.unanswered = 0.0  # calls since the last interval with an ending
        # The lowest plausible share when the run began: what a run is too long for to be
        # learned (taken then, or the run's own learned zeros would keep lowering it).
        self.run_share = 0.0

    def distance(self, count: float, exposure: float) -> float | None:
        """None: the share of calls that answer has no hours (the load does not move it)."""
        return None

    def note(self, count: float, exposure: float, s: BaselineSettings, new: bool) -> None:
        """A share that falls has no bursts: a loop's run of calls is judged as a run."""

    def run_z(self, value: float, exposure: float, s: BaselineSettings) -> float | None:
        """An interval with no ending adds its calls to the run since the last one, judged
        at once: a loop's evidence grows with its calls, where an interval holds too few
        to tell and before the lasting test runs. An ending clears the run (None)."""
        if value > 0:
            self.unanswered = 0.0
            return None
        if self.unanswered <= 0:
            self.run_share = self._plausible_rate()
        self.unanswered += exposure
        return self._run_z(self.rate(), s)

    def _run_z(self, share: float, s: BaselineSettings) -> float:
        """z of so many calls in a row without an ending at this share: (1 − p)^(calls/φ),
        φ the count's dispersion at a typical interval (its floor, at that scale only: a
        run is not one interval's count)."""
        typical = max(self._typical_count(s), 1e-9)
        dispersion = max(1.0, self.count_variance(typical, s) / typical)
        log_p = self.unanswered * math.log1p(-min(share, 1.0 - 1e-9)) / dispersion
        return student_z(z_of_p(math.exp(max(log_p, -690.0))), s.tail_dof)

    def _follow(self, count: float, exposure: float, s: BaselineSettings) -> None:
        if count <= 0 and self._run_z(self.run_share, s) > FIT_WINSOR:
            return  # a run too long even for the lowest plausible share: a loop, not noise
        super()._follow(count, exposure, s)

    def restart(self) -> None:
        """Forget the lasting evidence and the run (an alarm was raised, or a level adopted)."""
        super().restart()
        self.unanswered = 0.0

    def to_json(self) -> dict[str, Any]:
        """A plain dict for the state file."""
        return {**super().to_json(), "unanswered": self.unanswered, "run_share": self.run_share}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "ShareBaseline":
        """Restore from ``to_json`` output."""
        base = super().from_json(data)
        base.unanswered = float(data.get("unanswered", 0.0))
        base.run_share = float(data.get("run_share", 0.0))
        return base

    @staticmethod
    def _floor(s: BaselineSettings) -> float:
        """A third of a rate's: the answers among a given number of calls are binomial (no
        spread between intervals of their own), and a share's fall is capped at 0, so a
        rate's floor would cap its evidence at 1 / ``count_floor`` σ."""
        return s.count_floor / 3.0

    @staticmethod
    def _shifted(rise: float) -> float:
        return max(LOWEST_SHIFT, 1.0 - rise)

    def _plausible_rate(self) -> float:
        """The lowest rate the events seen make plausible (Wilson's lower 0.999 bound)."""
        return _wilson(self.events, -1.0) / max(self.exposure, 1e-9)

    @staticmethod
    def _clip(count: float, likely: float, mean: float, dispersion: float) -> float:
        bottom = min(mean, likely) / dispersion
        return max(count, dispersion * poisson_low_quantile(bottom, COUNT_CLIP_Z))

    @staticmethod
    def _without_extreme(rows: list[list[float]]) -> list[list[float]]:
        """The warm-up's rows without the one at the lowest rate (a fault while learning)."""
        return _by_rate(rows)[1:] or rows


Baseline = LevelBaseline | RateBaseline


def _log(value: float) -> float:
    return math.log(max(value, 1e-12))


def _residual_variance(mean: float, variance: float) -> float:
    """The variance of a count's squared residual, (k − m)², for a Poisson count scaled by
    its dispersion φ = v/m: 2v² + φ²·v (a plain Poisson count's: 2m² + m)."""
    return 2.0 * variance * variance + variance**3 / max(mean * mean, 1e-18)


def _wilson(events: float, side: float) -> float:
    """Wilson's 0.999 bound of a Poisson mean, given the events seen: the upper (side 1)
    or the lower (side -1)."""
    z2 = COUNT_CLIP_Z * COUNT_CLIP_Z
    events = max(events, 0.0)
    return max(events + z2 / 2 + side * COUNT_CLIP_Z * math.sqrt(events + z2 / 4), 0.0)


def _by_rate(rows: list[list[float]]) -> list[list[float]]:
    """Warm-up rows of (events, exposure), lowest rate first."""
    return sorted(rows, key=lambda r: r[0] / max(r[1], 1e-9))
