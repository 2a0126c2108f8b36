"""Events per unit of exposure, judged as an over-dispersed Poisson count: ``RateBaseline``
(tool calls, retries, errors), and ``ShareBaseline`` for a share judged when it falls."""

import math
from typing import Any

from ..bursts import Bursts, level_above
from ..settings import BaselineSettings
from ..stats import (
    dispersed_poisson_low_z,
    dispersed_poisson_z,
    poisson_low_quantile,
    poisson_quantile,
    student_z,
    z_of_p,
)
from ..tail import ZTail
from .fit import VarianceFit, carried_of
from .streaming import ADOPT_SAMPLES, FIT_WINSOR, StreamingBaseline

COUNT_CLIP_Z = 3.09  # counts are clipped at their 0.999 quantile before they are learned
COUNT_BURST_Z = 2.5  # a count's interval may be a burst from here (see ``Bursts``)
COUNT_PRIOR = 20.0  # intervals of plain Poisson behaviour a count's over-dispersion starts from
PRIOR_EVENTS = 10.0  # ... and at least this many events' worth, for a rare count
RELATIVE_FROM = 5.0  # events in a typical interval before a relative spread is told apart
LASTING_EVENTS = 5.0  # events a count's baseline remembers before its lasting test runs
SEVERAL_BURSTS = 3  # bursts seen before a small count's lasting sum takes them as the agent's
LOWEST_SHIFT = 0.05  # a falling share's likelihood ratio is tuned to no lower a share than this


class RateBaseline(StreamingBaseline):
    """Events per unit of exposure, with count variance φ·m + τ²·m² (φ ≥ 1)."""

    __slots__ = (
        "before", "bursts", "events", "excess", "exposure", "fit", "fresh", "n", "tail", "usual",
        "warmup",
    )  # fmt: skip
    kind = "rate"
    burst_from = COUNT_BURST_Z
    # Whether the spread fit weighs each squared residual by its precision (and bounds its
    # terms at 0): a count's excess over Poisson is never below 0, a share's is (−p·m).
    weighed = True

    def __init__(
        self, events=0.0, exposure=0.0, n=0, fit=None, warmup=None, excess=0.0, fresh=0,
        bursts=None, tail=None, usual=None, before=None,
    ):  # fmt: skip
        self.events, self.exposure, self.n, self.excess = events, exposure, n, excess
        # Intervals and their exposure, exponentially weighted as the fit forgets.
        self.usual: list[float] = usual or [0.0, 0.0]
        self.fresh = fresh
        self.bursts = bursts or Bursts()
        self.tail = tail or ZTail()
        self.fit = fit or VarianceFit()
        self.warmup: list[list[float]] = warmup if warmup is not None else []
        self.before = before

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

    _beyond = distance  # (a count's is never None; a share's is, and it has its own)

    def _moved_mean(self, exposure: float, level: float) -> float:
        """The count expected of ``exposure`` at the rate moved ``level`` (log) the way the
        vital alarms (a count's: up)."""
        return self.rate() * exposure * math.exp(level)

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
        squared, weighed = mean * mean, self.weighed
        excess = self.fit.variance(mean, squared, prior, larger=large, bounded=weighed)
        if self.before is not None:  # (a deploy's, while young: see ``carry``)
            excess = max(excess, self.before.fit.variance(mean, squared, prior, large, weighed))
        return mean + max((self._floor(s) * mean) ** 2, excess)

    def _z_at(self, count, exposure, floor, s, level=0.0, spread=0.0) -> float:
        """(No floor: φ ≥ 1 is one.) The bursts' spread of level adds to the count's own."""
        moved = self._moved_mean(exposure, level)
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
        Poisson scaled by their dispersion φ = variance / mean).

        ``margin`` is for the rate's error as a usual interval sees it; an interval told
        P times as finely (``precision``) sees it P times larger (a batch agent's rate
        learned from its idle phase, a call a minute, then judged on its busy minutes of
        forty). The z-scores give up margin·max(1, P); the likelihood ratios only what an
        interval finer than the usual ones adds, margin·(P − 1): a young small rate learns
        each interval by as much as 1/n, so a storm its slower test had not reached yet
        became its rate (a fourfold error rate, 60 intervals in, alarmed twice and was then
        learned).

        A ratio knows nothing of the agent's bursts: where they lower the interval's ``z``
        (``Bursts``), once ``SEVERAL_BURSTS`` were seen, it adds at most what a normal
        count's ratio at that z would, δ·(z − δ/2). (Each burst of four tool calls an
        interval, eight times as many now and then, added half the limit, and two a few
        intervals apart alarmed. From the first burst on, a rare count's one pair of
        failures, a storm's first interval, was taken for a burst and the storm's own
        ratios capped: 6 storms of 20 caught, 9 or more before.)"""
        precision = self.precision(exposure, s)
        if not self.by_likelihood(s):
            slack, given = s.count_cusum_slack, margin * max(1.0, precision)
            return (z - slack - given) / self.tail.stretch(slack, s.rate_alpha)
        mean = self.rate() * exposure
        variance = self.count_variance(mean, s)
        ratio = self._shifted(s.count_shift * math.sqrt(variance) / mean)
        likelihood = (count * math.log(ratio) - mean * (ratio - 1.0)) * mean / variance
        if self.bursts.weight >= SEVERAL_BURSTS and z < self._z_at(count, exposure, 0.0, s):
            likelihood = min(likelihood, s.count_shift * (z - s.count_shift / 2.0))
        return likelihood - margin * max(0.0, precision - 1.0)

    def uncertainty(self, s: BaselineSettings) -> float:
        """The rate is the remembered events over their exposure, each interval's weighed
        by (1 − rate_alpha) per interval since: Σw² / (Σw)² over the intervals seen."""
        kept = 1.0 - s.rate_alpha
        n = max(1, self.n)
        squares = (1.0 - kept ** (2 * n)) / (1.0 - kept * kept)
        return squares / ((1.0 - kept**n) / (1.0 - kept)) ** 2

    def precision(self, exposure: float, s: BaselineSettings) -> float:
        """An interval's precision on the rate relative to the agent's usual interval's:
        the inverse of its count's variance over its mean squared, against a usual one's."""
        intervals, total = self.usual
        if intervals <= 0.0 or total <= 0.0 or exposure <= 0.0:
            return 1.0
        return self._relative_variance(total / intervals, s) / self._relative_variance(exposure, s)

    def _relative_variance(self, exposure: float, s: BaselineSettings) -> float:
        mean = self.rate() * exposure
        return self.count_variance(mean, s) / (mean * mean)

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

    def carry(self, before: "StreamingBaseline") -> None:
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
                "usual": self.usual, **self._before_json()}  # fmt: skip

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "RateBaseline":
        """Restore from ``to_json`` output."""
        return cls(float(data["events"]), float(data["exposure"]), int(data["n"]),
                   VarianceFit(list(data["fit"])), list(data["warmup"]), float(data["excess"]),
                   int(data["fresh"]), Bursts.from_json(data.get("bursts")),
                   ZTail.from_json(data.get("tail")), data.get("usual"),
                   carried_of(data))  # fmt: skip


class ShareBaseline(RateBaseline):
    """Events per unit of exposure that alarm when they fall: the LLM calls that ended an
    invocation or answered, per call. A loop's calls never end in an answer, and answers
    given calls are a fair test whatever the load (calls given answers are not: a quiet
    minute's one answer would make its calls look like a loop). The same count model,
    judged on its lower tail; its spread fit unweighed and unbounded (``weighed``): its
    excess over Poisson is below 0 (binomial, −p·m), and weighed, a spans agent's first
    intervals of a call or two set it near Poisson, its busy intervals without an
    answer were then too far out to be learned, and they alarmed. Its bursts are falls
    (an orchestrator's minute of many tool rounds answers few of its calls)."""

    __slots__ = ("run", "run_share", "silence", "unanswered")
    kind = "share"
    weighed = False
    _tail = staticmethod(dispersed_poisson_low_z)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The run since the last interval with an ending: its intervals, its calls, and the
        # log of its chance (each interval's at the share, or at the bursts' in π of them).
        self.run, self.unanswered, self.silence = 0, 0.0, 0.0
        # The lowest plausible share when the run began: what a run is too long for to be
        # learned (taken then, or the run's own learned zeros would keep lowering it).
        self.run_share = 0.0

    def distance(self, count: float, exposure: float) -> float | None:
        """None: the share of calls that answer has no hours (the load does not move it)."""
        return None

    def _beyond(self, count: float, exposure: float) -> float:
        """How far below the expected count ``count`` lies (log): a share bursts down."""
        return level_above(self.rate() * exposure, count)

    def _moved_mean(self, exposure: float, level: float) -> float:
        return self.rate() * exposure * math.exp(-level)

    def carry(self, before: StreamingBaseline) -> None:
        """Also: nothing of a share that never saw an ending (one that never answered, an
        orchestrator's: a new version's share of 0 is its way too, learned at once)."""
        super().carry(before)
        if isinstance(before, RateBaseline) and before.events < 1.0:
            self.before = None

    def learned(self, s: BaselineSettings) -> bool:
        """Also, a deploy's young share (``before`` carried): an ending seen. Learned from
        none, a new version that never answers took its loop for its way; until one comes,
        the share the version before had judges the runs (``Detector._guard``). (An agent
        that never answers from its start, an orchestrator, learns a share of 0.)"""
        return super().learned(s) and (self.events > 0.0 or self.before is None)

    def untried(self, s: BaselineSettings, calls: float, waiting: bool = False) -> bool:
        """Also: not a run of several intervals without an ending (a burst is one)."""
        return self.run <= 1 and super().untried(s, calls, waiting)

    def run_z(
        self, value: float, exposure: float, s: BaselineSettings, weight: float = 1.0
    ) -> float | None:
        """An interval with no ending adds its calls to the run since the last one, judged
        at once: a loop's evidence grows with its calls, where an interval holds too few
        to tell and before the lasting test runs. An ending clears the run (None).
        ``weight``: the share of the run's log chance taken (a run ``1 / weight`` times as
        long is as far).

        Each interval of the run is as likely as the agent's intervals are: in one in π a
        burst, its share its bursts' level below (``Bursts``). A burst's many calls with
        no answer, then a quiet minute's call, are no loop; busy intervals that keep
        answering at a burst's share soon are (π per interval)."""
        if value > 0:
            self.run, self.unanswered, self.silence = 0, 0.0, 0.0
            return None
        if self.run == 0:
            self.run_share = self._plausible_rate()
        self.run, self.unanswered = self.run + 1, self.unanswered + exposure
        self.silence += self._silence(exposure, s)
        return _z_of_log(self.silence * weight, s)

    def _silence(self, calls: float, s: BaselineSettings) -> float:
        """The log of the chance that ``calls`` calls in one interval all go without an
        ending: at the share, or in a share π of intervals at the bursts' level."""
        scaled, share = calls / self._dispersion(s), self.bursts.share
        alone = scaled * _log_miss(self.rate())
        if share <= 0.0:
            return alone
        burst = scaled * _log_miss(self._moved_mean(1.0, self.bursts.level))
        top = max(alone, burst)
        return top + math.log((1.0 - share) * math.exp(alone - top) + share * math.exp(burst - top))

    def _run_z(self, share: float, s: BaselineSettings) -> float:
        """z of the run's calls without an ending at this share: (1 − p)^(calls/φ)."""
        return _z_of_log(self.unanswered * _log_miss(share) / self._dispersion(s), s)

    def _dispersion(self, s: BaselineSettings) -> float:
        """φ of the count at a typical interval (its floor at that scale only: a run is not
        one interval's count)."""
        typical = max(self._typical_count(s), 1e-9)
        return max(1.0, self.count_variance(typical, s) / typical)

    def _follow(self, count: float, exposure: float, s: BaselineSettings) -> None:
        if count <= 0 and self._run_z(self.run_share, s) > FIT_WINSOR:
            return  # a run too long even for the lowest plausible share: a loop, not noise
        super()._follow(count, exposure, s)

    def restart(self) -> None:
        """Forget the lasting evidence and the run (an alarm was raised, or a level adopted)."""
        super().restart()
        self.run, self.unanswered, self.silence = 0, 0.0, 0.0

    def to_json(self) -> dict[str, Any]:
        """A plain dict for the state file."""
        return {**super().to_json(), "unanswered": self.unanswered, "run_share": self.run_share,
                "run": self.run, "silence": self.silence}  # fmt: skip

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "ShareBaseline":
        """Restore from ``to_json`` output."""
        base = super().from_json(data)
        base.run_share = float(data.get("run_share", 0.0))
        if "silence" in data:  # (a run of a file that did not keep its chance starts afresh)
            base.run, base.silence = int(data["run"]), float(data["silence"])
            base.unanswered = float(data["unanswered"])
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


def _z_of_log(log_p: float, s: BaselineSettings) -> float:
    """The (Student) z of a chance given by its log."""
    return student_z(z_of_p(math.exp(max(log_p, -690.0))), s.tail_dof)


def _log_miss(share: float) -> float:
    """The log of the chance that one call does not end, at this share of calls that do."""
    return math.log1p(-min(share, 1.0 - 1e-9))


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
