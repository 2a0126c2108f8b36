"""A per-call mean on a log scale (latency, tokens): ``LevelBaseline``, and ``MeanBaseline``
for a mean that one straggler moves fully."""

import math
import statistics
from typing import Any

from ..bursts import Bursts
from ..load import LoadSlope
from ..persistence import Persistence
from ..settings import BaselineSettings
from ..stats import student_z
from .fit import VarianceFit, carried_of
from .streaming import ADOPT_SAMPLES, FIT_WINSOR, StreamingBaseline

WINSOR = 2.5  # values beyond this many standard deviations do not move the level
MAD_TO_SIGMA = 1.4826
MEDIAN_EFFICIENCY = math.pi / 2  # a median's variance, × a mean's (normal samples)
MAX_WEIGHT = 4.0  # the most an interval's precision weighs in a level's learning, × the usual
MAX_CALL_VARIANCE = 2.0  # a single call's log-variance a mean's shortfall is told from, at most
FEW_CALLS = 3  # from this many calls on, a level's value is no single call's


class LevelBaseline(StreamingBaseline):
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
        "before", "bursts", "calls", "calm", "excess", "fit", "fresh", "load", "mu", "n",
        "persistence", "warmup",
    )  # fmt: skip
    kind = "level"
    loaded = True  # whether the level moves with load (a call's duration; not its tokens)

    def __init__(
        self, mu=0.0, n=0, fit=None, warmup=None, excess=0.0, fresh=0, bursts=None, calls=None,
        load=None, persistence=None, calm=None, before=None,
    ):  # fmt: skip
        self.mu, self.n, self.excess, self.fresh = mu, n, excess, fresh
        self.before = before
        self.bursts = bursts or Bursts()
        self.persistence = persistence or Persistence()
        # Whether the lasting test runs at the calm slack: chosen while its sum is at 0, so
        # that a sum is never judged against another slack's limit than it was added at.
        self.calm = self.persistence.calm() if calm is None else calm
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
        fitted = self._fitted(self.fit, calls)
        if self.before is not None:  # (a deploy's, while young: see ``carry``)
            fitted = max(fitted, self._fitted(self.before.fit, calls))
        return max(fitted, floor * floor)

    def _between(self, calls: float, fit: VarianceFit) -> float:
        """What an interval tells of the spread between intervals (its Fisher information
        on it, relative to a busy interval's): the square of the share of its variance
        ``fit`` (the carried one) puts there. A minute of one call of an agent whose calls vary
        widely tells little of how its busy minutes spread (a sawtooth agent idle four
        minutes in five, its young spread fitted on 40 idle minutes and 20 busy ones,
        held it on its next climbs)."""
        whole = fit.variance(1.0, 1.0 / max(calls, 1.0))
        return min(1.0, fit.variance(1.0, 0.0) / whole) ** 2 if whole > 0.0 else 1.0

    def _fitted(self, fit: VarianceFit, calls: float) -> float:
        per_call = 1.0 / max(calls, 1.0)
        fitted = fit.variance(1.0, per_call)
        usual = self._usual_per_call()
        if per_call > usual:
            fitted = max(fitted, fit.variance(1.0, usual) * per_call / usual)
        return fitted

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
        return weight * z - (self.slack(s) + margin) * weight * weight

    def slack(self, s: BaselineSettings) -> float:
        """The lasting test's slack: the calm one for z-scores seen to be independent."""
        return s.calm_slack if self.calm else s.cusum_slack

    def hold(self, z: float) -> None:
        """Keep the judged interval's z for its persistence; with the lasting sum at 0, take
        the slack its z-scores call for now (``Persistence.calm``)."""
        self.persistence.hold(z)
        if self.excess <= 0.0:
            self.calm = self.persistence.calm()

    def sudden_z(self, z: float) -> float:
        """The larger of ``z`` and its jump from the level's recent healthy intervals, where
        the level wanders (``Persistence.jump``)."""
        return self.persistence.jump(z)

    def healthy(self) -> None:
        """Take the judged interval's z into its persistence."""
        self.persistence.learn()

    def carry(self, before: "StreamingBaseline") -> None:
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

    _beyond = distance  # (a level's distance is never None)

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
                 "persistence": self.persistence.to_json(), "calm": self.calm}  # fmt: skip
        state.update(self._before_json())
        return state if self.load is None else {**state, "load": self.load.sums}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "LevelBaseline":
        """Restore from ``to_json`` output (earlier versions' without a slope on load,
        without persistence, without the slack chosen, or without a deploy's spread)."""
        load, calm = data.get("load"), data.get("calm")
        if calm is not None and not isinstance(calm, bool):
            raise TypeError(f"a level's calm must be true or false, not {calm!r}")
        return cls(float(data["mu"]), int(data["n"]), VarianceFit(list(data["fit"])),
                   list(data["warmup"]), float(data["excess"]), int(data["fresh"]),
                   Bursts.from_json(data.get("bursts")), data.get("calls"),
                   LoadSlope(list(load)) if load else None,
                   Persistence.from_json(data.get("persistence")), calm,
                   carried_of(data))  # fmt: skip


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


def _log(value: float) -> float:
    return math.log(max(value, 1e-12))
