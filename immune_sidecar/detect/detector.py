"""Event-driven anomaly detection: each sample is judged as it arrives.

A sample alarms when one of its tests is far out at once (z at or past the
budget's sudden threshold) or when a CUSUM on its z-scores reaches the
budget's limit (a shift that lasts); a young baseline's lone excursion, short of
overwhelming, alarms when neither of the next two intervals undoes it (it may be the
agent's first bursts). A deploy — a new prompt hash together with a new version —
re-learns the agent's baselines of how it works (not of how often its calls fail or are
retried: a new version doing so more often is a bad deploy), while the old ones keep
watch at twice the sudden threshold until the new ones are learned, and come back
for the vitals the deploy is shown to have left as they were (see ``watch``).
"""

import copy
import dataclasses
import logging
import math
import threading
from collections.abc import Callable, Collection
from typing import Any, NamedTuple

from immune_common.severity import severity

from ..vitals import VitalSample
from .admit import admitted
from .baseline import Baseline, LevelBaseline, RateBaseline
from .budget import Thresholds, thresholds
from .bursts import BACK_Z as UNDONE_Z
from .evidence import PRICE, PROMPT, SHARES, TEST_OF, TESTS, Observation, VitalTest, kin
from .hours import HourlyProfile
from .infection import Anomaly, Infection
from .settings import BaselineSettings
from .shared import SHIFT_Z, TOLD_RISE
from .state import AgentState, Replaced, Streak
from .watch import LONGEST, Tally

log = logging.getLogger(__name__)
DEFAULT_INTERVAL = 60.0
GUARD_FACTOR = 2.0  # the old baselines' sudden threshold during a re-learn, × the usual
YOUNG_HOLD = 2  # the intervals a young baseline's excursion may wait (see ``_defer``)
_TESTED = frozenset(test.vital for test in TESTS)
JUMP_INCLUDED = 1.0 - 1e-9  # a price rise of exactly ``price_jump`` is a jump
# A lasting shift adopted is undone when BACK_SAMPLES samples in a row read within BACK_Z of
# the level it replaced, nearer it than the adopted one and BELOW_Z or more below that,
# within WATCH_SECONDS.
BACK_Z, BELOW_Z, BACK_SAMPLES, WATCH_SECONDS = 2.0, 1.75, 3, 86400.0
RelearnListener = Callable[[str, str], None]


class _Limits(NamedTuple):
    """One interval length's thresholds: per-call levels' (at the usual slack and the calm
    one), counts' and small counts' (their CUSUMs differ: z beyond a slack, and likelihood
    ratios)."""

    level: Thresholds
    count: Thresholds
    likelihood: Thresholds
    calm: Thresholds

    def of(self, base: Baseline, s: BaselineSettings) -> Thresholds:
        if not isinstance(base, RateBaseline):
            return self.calm if base.calm else self.level
        return self.likelihood if base.by_likelihood(s) else self.count


class Detector:
    """Keeps every agent's baselines and turns abnormal samples into infections."""

    def __init__(self, settings: BaselineSettings, on_relearn: RelearnListener | None = None):
        self.settings = settings
        self._of_calls = dataclasses.replace(settings, tail_dof=settings.mean_tail_dof)
        self._on_relearn = on_relearn
        self._limits: dict[float, _Limits] = {}
        self._agents: dict[str, AgentState] = {}
        self._lock = threading.Lock()

    def limits(self, interval_seconds: float = DEFAULT_INTERVAL, kind: str = ""):
        """The sudden and lasting thresholds for samples of this interval length (``kind``:
        "" for a level's CUSUM at the usual slack, "calm" at the calm slack; "z" for count
        tests' CUSUM of z-scores, "likelihood" for their likelihood ratios)."""
        s = self.settings
        seconds = _whole_seconds(interval_seconds)
        shift = s.count_shift
        slack, scale = {
            "": (s.cusum_slack, 1.0), "z": (s.count_cusum_slack, 1.0),
            "likelihood": (shift / 2, shift), "calm": (s.calm_slack, 1.0),
        }[kind]  # fmt: skip
        base = thresholds(s.false_alarms_per_1000_hours, SHARES, seconds, slack, scale)
        lasting, overshoot = s.cusum_limit or base.lasting, base.reach - base.lasting
        return Thresholds(s.sigma_threshold or base.sudden, lasting, lasting + overshoot)

    def observe(
        self, sample: VitalSample, learn: bool = True, explained: Collection[str] = ()
    ) -> Infection | None:
        """Judge a sample; learn from it only if it is normal and ``learn`` is set.

        ``explained``: vitals whose shift has a known cause already (the fault the agent
        is held for; a shift the fleet shares). Their lasting sums start afresh after the
        sample and they are not learned: what built them must not carry into the time
        after it, nor become the agent's normal.

        Raises ``UnreadableSample`` (a ``ValueError``) for a sample it cannot judge, and
        changes nothing then; a vital whose value is NaN is judged as not read."""
        sample = admitted(sample)
        limits = self._limits_of(sample.interval_seconds)
        seen = self._read(sample)
        with self._lock:
            state = self._agents.get(sample.agent_id)
            if state is None:
                state = self._agents[sample.agent_id] = AgentState()
            state.evidence.append(sample)
            deploy = state.prompt.is_deploy(sample.prompt_hash, sample.version, self.settings)
            if deploy:
                self._relearn(state, sample, limits)
            anomalies, adopted = self._examine(state, sample, seen, limits, learn, explained)
            evidence = tuple(state.evidence)
        if deploy:
            self._relearned(sample.agent_id, "deploy")
        if adopted:
            self._adopted(sample.agent_id, anomalies[0].type, adopted)
            return None
        if not anomalies:
            return None
        value = severity([a.sigma for a in anomalies], limits.level.sudden)
        return Infection(sample.agent_id, sample.time, value, anomalies, evidence)

    def _read(self, sample: VitalSample):
        """The sample's observation of each vital judged (those it tells)."""
        ignored = self.settings.ignore
        seen = ((test, test.read(sample)) for test in TESTS if test.vital not in ignored)
        return [(test, observation) for test, observation in seen if observation is not None]

    def _examine(self, state: AgentState, sample: VitalSample, seen, limits: _Limits,
                 learn: bool, explained: Collection[str]):  # fmt: skip
        """Judge the sample's vitals at its hour; learn from a healthy one (if ``learn``),
        or count an alarm toward adopting a lasting shift. The anomalies, and the vitals
        whose level was adopted."""
        raw, seen = seen, self._at_hour(state, seen, sample.time)
        if state.replaced:
            self._returned(state, seen, sample)
        confirming, state.deferred = state.deferred, {}
        anomalies = self._anomalies(state, sample, seen, limits, confirming)
        if learn:
            anomalies = self._defer(
                state, anomalies, limits, explained, confirming, sample.operations
            )
        self._note(state, seen, learn, explained, anomalies)
        if learn:
            self._learn_day(state, raw, sample, explained)
        adopted: tuple[str, ...] = ()
        if anomalies:
            self._alarmed(state, anomalies)
            adopted = self._outlived(state, anomalies, sample.time, explained)
        elif learn:
            self._learn_healthy(state, sample, seen, limits, explained)
        if explained:
            _restart_sums(state, explained)
        return (_as_shown(anomalies, raw, seen) if anomalies else anomalies), adopted

    def _learn_healthy(self, state: AgentState, sample: VitalSample, seen, limits: _Limits,
                       explained: Collection[str]) -> None:  # fmt: skip
        """Learn a healthy sample: its vitals but those explained or waiting (deferred),
        and its models' prices unless a cost is explained."""
        unlearned = {*explained, *state.deferred}
        unexplained = [(t, o) for t, o in seen if t.vital not in unlearned]
        self._learn(state, sample, unexplained, limits)
        if PRICE not in explained:
            state.models.learn(sample.prices, sample.operations, self.settings.price_jump)

    def _adopted(self, agent_id: str, kind: str, adopted: tuple[str, ...]) -> None:
        log.warning(
            "%s: %s alarmed %d times in a row with nothing else wrong; adopted as its new "
            "normal (%s)", agent_id, kind, self.settings.relearn_after_ejections,
            ", ".join(adopted),
        )  # fmt: skip
        self._relearned(agent_id, "lasting_shift")

    def shifts(self, agent_id: str) -> tuple[frozenset[str], frozenset[str]]:
        """What the agent's latest sample tells a shared shift: the vitals it showed at
        ``SHIFT_Z`` or more above normal, or whose lasting sum is half way to its limit;
        and those it could not tell, unseen or in too few calls to show a rise by
        ``TOLD_RISE`` at ``SHIFT_Z`` (see ``SharedShifts``)."""
        with self._lock:
            state = self._agents.get(agent_id)
            if state is None:
                return frozenset(), frozenset()
            return frozenset(state.shifted), frozenset(state.blind)

    def _limits_of(self, interval_seconds: float) -> _Limits:
        # Keyed by the whole seconds the thresholds use: wall-clock intervals (60.0013 s)
        # would otherwise miss the cache on nearly every sample.
        seconds = _whole_seconds(interval_seconds)
        limits = self._limits.get(seconds)
        if limits is None:
            if len(self._limits) > 1000:  # interval lengths come from the agents' clocks
                self._limits.clear()
            kinds = ("", "z", "likelihood", "calm")
            limits = _Limits(*(self.limits(seconds, kind) for kind in kinds))
            self._limits[seconds] = limits
        return limits

    def _anomalies(self, state: AgentState, sample: VitalSample, seen, limits: _Limits,
                   confirming: dict[str, Anomaly]):  # fmt: skip
        """What alarmed, joined (when something did) by the vitals whose lasting sum is half
        way to its limit: evidence building beside an alarm is part of the same infection
        (an error storm's failures alarm late beside the retries that follow them).
        ``confirming``: the excursions deferred the interval before."""
        found: dict[str, Anomaly] = {}
        building: dict[str, Anomaly] = {}
        state.shifted, state.blind = set(), set(_TESTED)
        for test, observation in seen:
            pending = confirming.get(test.vital)
            anomaly, alarmed = self._judge(state, test, observation, limits, pending)
            into = found if alarmed else building
            if anomaly is not None and anomaly.sigma > into.get(anomaly.type, _NONE).sigma:
                into[anomaly.type] = anomaly
        categorical = (
            self._prompt_anomaly(state, sample),
            self._model_anomaly(state, sample, limits),
        )
        for anomaly in categorical:
            if anomaly is not None:
                found[anomaly.type] = anomaly
        if found:
            found = building | found
        return tuple(sorted(found.values(), key=lambda a: -a.sigma))

    def _judge(
        self, state: AgentState, test: VitalTest, seen: Observation, every: _Limits,
        deferred: Anomaly | None = None,
    ):  # fmt: skip
        """The vital's anomaly and whether it alarmed (an anomaly that did not is one
        building: its lasting sum half way to the limit). ``deferred``: the vital's
        excursion of the interval before, which alarms now unless this one undoes it."""
        s = self.settings
        base = state.vitals.get(test.vital)
        if base is None or not base.learned(s):
            guarded = self._guard(state, test, seen, every.level)
            return guarded, guarded is not None
        z = self._z(base, seen)
        base.hold(z)
        limits = every.of(base, s)
        judged = base.settled(s)
        step = 0.0
        if judged:
            margin = limits.margin(base.uncertainty(s))
            step = base.step(z, seen.value, seen.exposure, s, margin)
        run = base.run_z(seen.value, seen.exposure, s)
        z = base.sudden_z(z) if run is None else max(z, run)
        lasting = judged and base.accumulate(step, limits.lasting)
        drifting = base.drifting(limits.lasting)
        if z >= SHIFT_Z or drifting:
            state.shifted.add(test.vital)  # this interval high, or the last ones on the whole
        if base.shows(TOLD_RISE, seen.exposure, s) >= SHIFT_Z:  # whatever it showed
            state.blind.discard(test.vital)
        once = z >= limits.sudden and test.vital not in s.lasting_only
        kept = deferred is not None and z >= UNDONE_Z
        if not (once or lasting or drifting or kept):
            return None, False
        alarmed = once or lasting or kept
        sigma = max(z, deferred.sigma) if kept and deferred is not None else z
        shown, typical = _shown(seen, test), base.typical()
        return Anomaly(
            test.anomaly, test.vital, shown, typical, round(sigma, 2), alarmed=alarmed
        ), alarmed

    def _defer(self, state: AgentState, anomalies, limits: _Limits, explained, confirming,
               calls: float):  # fmt: skip
        """A lone excursion short of overwhelming, of a young baseline or in too few
        ``calls`` for its value to be more than one call's, waits up to ``YOUNG_HOLD``
        intervals: it may be the agent's first bursts (a straggler), which the baseline
        has not seen yet, and bursts may come two in a row. It alarms then, unless an
        interval undoes it (``_judge``)."""
        held, state.held = (state.held if confirming else 0), 0
        alarmed = [a for a in anomalies if a.alarmed]
        vitals = {a.vital for a in alarmed}
        if not alarmed or vitals & set(explained) or not vitals <= kin(alarmed[0].vital):
            return anomalies
        untried = (self._untried(state, a, limits, calls, a.vital in confirming) for a in alarmed)
        if held >= YOUNG_HOLD or not all(untried):
            return anomalies
        state.deferred, state.held = {a.vital: a for a in alarmed}, held + 1
        return ()

    def _untried(self, state: AgentState, anomaly: Anomaly, limits: _Limits, calls: float,
                 waiting: bool):  # fmt: skip
        """Whether the anomaly, in an interval of ``calls``, may be a burst its baseline
        could not know yet (``waiting``: the vital's excursion was deferred the interval
        before). Not one whose lasting sum reached its limit: that is many intervals'
        evidence, not one call's."""
        s, base = self.settings, state.vitals.get(anomaly.vital)
        if base is None or not base.learned(s) or not base.untried(s, calls, waiting):
            return False
        of_base = limits.of(base, s)
        return anomaly.sigma < GUARD_FACTOR * of_base.sudden and base.excess < of_base.lasting

    def _z(self, base: Baseline, seen: Observation) -> float:
        """How far above ``base`` the observation lies, as a normal z."""
        s = self._judged_by(seen)
        return base.z(seen.value, seen.exposure, s.level_floor, s)

    def _judged_by(self, seen: Observation) -> BaselineSettings:
        """The settings an observation is judged by: a mean of calls has a heavier tail."""
        return self._of_calls if seen.mean_of_calls else self.settings

    def _guard(self, state: AgentState, test: VitalTest, seen: Observation, limits: Thresholds):
        """While a deploy is re-learned, the old baseline still catches the overwhelming:
        an interval ``GUARD_FACTOR`` times the sudden threshold out, or a run of calls
        without an answer as many times as long as would alarm at once (a new version that
        loops from its first call; a run's z grows slowly with its evidence)."""
        old = state.previous.get(test.vital)
        if old is None:
            return None
        level = self._z(old, seen)
        run = old.run_z(seen.value, seen.exposure, self.settings, 1.0 / GUARD_FACTOR)
        if level < GUARD_FACTOR * limits.sudden and (run is None or run < limits.sudden):
            return None
        z = max(level, -math.inf if run is None else run)
        return Anomaly(test.anomaly, test.vital, _shown(seen, test), old.typical(), round(z, 2))

    def _model_anomaly(
        self, state: AgentState, sample: VitalSample, limits: _Limits
    ) -> Anomaly | None:
        """A model the agent never used, dearer by ``price_jump`` than the dearest it uses
        (by its square while a deploy is re-learned, as the other vitals' watch)."""
        s = self.settings
        if PRICE in s.ignore or PRICE in s.lasting_only:
            return None
        jump = s.price_jump ** (GUARD_FACTOR if state.previous else 1.0)
        found = state.models.dearer(sample.prices, jump * JUMP_INCLUDED, s)
        if found is None:
            return None
        state.shifted.add(PRICE)
        (model, price), (usual, ceiling) = found, state.models.ceiling()
        # z as a level's would be, the jump itself at the sudden threshold (for severity).
        z = math.log(price / ceiling) / math.log(s.price_jump) * limits.level.sudden
        return Anomaly("cost_spike", PRICE, price, ceiling, round(z, 2), model, usual)

    def _prompt_anomaly(self, state: AgentState, sample: VitalSample) -> Anomaly | None:
        s = self.settings
        if not state.prompt.is_new(sample.prompt_hash, s, sample.prompt_parts):
            return None
        if state.prompt.owns(sample.prompt_hash, sample.version, s, sample.prompt_parts):
            return None
        usual = state.prompt.usual()
        sigma = s.prompt_change_sigma
        return Anomaly("prompt_change", PROMPT, 1.0, 0.0, sigma, sample.prompt_hash, usual)

    def _alarmed(self, state: AgentState, anomalies: tuple[Anomaly, ...]) -> None:
        _restart_sums(state)  # the alarm is raised
        state.flagged = tuple(a.vital for a in anomalies)

    def _outlived(
        self, state: AgentState, anomalies: tuple[Anomaly, ...], at: float, explained
    ) -> tuple[str, ...]:
        """The vitals adopted when the same lone anomaly alarmed ``relearn_after_ejections``
        times in a row, each within ``relearn_window_seconds`` of the last: a shift that
        outlived its ejections is the agent's new normal. Alarms of explained vitals (the
        agent is held; the fleet shares the shift) neither count nor break the streak. A
        new prompt hash counts as well: one that comes back after every ejection with
        nothing else wrong is a prompt changed without a new version, and held it would
        alarm on every sample for as long as the agent lives."""
        state.streak_before = state.streak
        if any(a.vital in explained for a in anomalies):
            return ()
        s, kind = self.settings, anomalies[0].type
        lone = all(a.type == kind for a in anomalies)
        if s.relearn_after_ejections <= 0 or not lone:
            state.streak = None
            return ()
        last = state.streak
        same = last is not None and last.kind == kind and at - last.at <= s.relearn_window_seconds
        count = last.count + 1 if same else 1
        state.streak = Streak(kind, count, at) if count < s.relearn_after_ejections else None
        return (
            () if state.streak is not None else self._adopt(state, watch_until=at + WATCH_SECONDS)
        )

    def shared(self, agent_id: str) -> None:
        """The agent's latest alarm was a shared shift's (found so when it was judged, or
        after it was held, as the vote carried later in the interval): it is no ejection of
        a lasting shift of the agent's own, and the streak is put back as it was before it
        (neither counted nor broken, as an explained vital's). (Counted, a latency storm
        that began as a few agents' latency rose by chance was freed twice as shared, and
        its third alarm adopted the storm as the agent's level.)"""
        with self._lock:
            state = self._agents.get(agent_id)
            if state is not None:
                state.streak = state.streak_before

    def _returned(self, state: AgentState, seen, sample: VitalSample) -> None:
        """Restore the level a lasting shift replaced, for each vital whose samples read
        back at it (``BACK_SAMPLES`` in a row): the shift ended, and the adopted level, which
        far lower values do not move, would blunt the vital's test for hours."""
        for test, observation in seen:
            kept, now = state.replaced.get(test.vital), state.vitals.get(test.vital)
            if kept is None or now is None or sample.time > kept.until:
                state.replaced.pop(test.vital, None)
                continue
            back = _back(self._z(kept.before, observation), self._z(now, observation))
            kept = kept._replace(back=kept.back + 1 if back else 0)
            state.replaced[test.vital] = kept
            if kept.back >= BACK_SAMPLES:
                state.vitals[test.vital] = kept.before
                del state.replaced[test.vital]
                kept.before.restart()
                log.info("%s: %s is back at its level before the shift adopted; restored",
                         sample.agent_id, test.vital)  # fmt: skip

    def _at_hour(self, state: AgentState, seen, time: float):
        """The observations as the agent's day says to judge them at ``time``: against
        the baseline moved by the hour's offset, where the hour is learned."""
        if not state.days:
            return seen
        return [(test, _moved(state, test, observation, time)) for test, observation in seen]

    def _learn_day(self, state: AgentState, seen, sample: VitalSample, explained) -> None:
        """Every interval not explained teaches the agent's day, alarmed or not: a rise
        that comes back at the same hour would otherwise never be learned. (Every one: an
        hour's offset learned from a fifth of them was noisy enough on its second day to
        add false alarms.) While a lasting shift's level is adopted, the day is learned
        against the level it replaced: a daily rise adopted each day is learned as the
        day's, not taken as its level."""
        s, vitals, days, replaced = self.settings, state.vitals, state.days, state.replaced
        for test, observation in seen:
            kept = replaced.get(test.vital)
            base = kept.before if kept is not None else vitals.get(test.vital)
            if base is None or not base.learned(s) or test.vital in explained:
                continue
            distance = base.distance(observation.value, observation.exposure)
            if distance is None:
                continue
            day = days.get(test.vital)
            if day is None:
                day = days[test.vital] = HourlyProfile()
            day.learn(sample.time, distance, sample.interval_seconds, base.position())

    def _relearned(self, agent_id: str, reason: str) -> None:
        if self._on_relearn is not None:
            self._on_relearn(agent_id, reason)

    def _note(self, state: AgentState, seen, learn: bool, explained, anomalies) -> None:
        """Every judged interval, alarmed or not, shows the vitals' bursts: one that alarmed
        and was gone the next interval is a burst (never learned, it would alarm forever).
        Only an interval whose alarm is the vital's alone (or its kin's) may begin one: a
        shift of several vitals at once is no burst of any of them. One that alarmed
        nothing is healthy, though its lasting sum may be building (a level wanders)."""
        alarmed = {a.vital for a in anomalies if a.alarmed}
        for test, observation in seen:
            base = state.vitals.get(test.vital)
            if base is not None and base.learned(self.settings):
                lone = alarmed <= kin(test.vital)
                new = learn and lone and test.vital not in explained
                s = self._judged_by(observation)
                base.note(observation.value, observation.exposure, s, new)
                if learn and not alarmed and test.vital not in explained:
                    base.healthy()

    def _learn(self, state: AgentState, sample: VitalSample, seen, limits: _Limits) -> None:
        s = self.settings
        for test, observation in seen:
            base = state.vitals.get(test.vital)
            if base is None:
                base = state.vitals[test.vital] = _fresh(state, test)
            if not base.drifting(limits.of(base, s).lasting):
                base.learn(observation.value, observation.exposure, s)
            self._watch(state, sample.agent_id, test, observation)
        self._learn_prompt(state, sample)
        if state.previous and all(b.learned(s) for b in state.vitals.values()):
            state.previous = {}

    def _watch(self, state: AgentState, agent_id: str, test: VitalTest, seen: Observation):
        """While a deploy's baseline of the vital is young, tally a healthy interval against
        the old one (see ``Tally``); the young one, if the old is back, learns it too."""
        tally = state.watch.get(test.vital)
        if tally is None:
            return
        if tally.young is not None:
            tally.young.learn(seen.value, seen.exposure, self.settings)
        s, old = self._judged_by(seen), tally.before
        g = old.sensitivity(seen.value, seen.exposure, s.level_floor, s)
        state.watch[test.vital] = tally.add(self._z(old, seen), g)
        self._settle(state, agent_id, test.vital)

    def _settle(self, state: AgentState, agent_id: str, vital: str) -> None:
        """The old baseline comes back once the deploy is shown to have left the vital as
        it was, and goes for good if far more telling intervals show it did not. After
        ``LONGEST`` intervals the vital keeps what it has."""
        tally, least = state.watch[vital], self.settings.min_samples
        if tally.young is None and tally.unchanged(least):
            state.watch[vital] = tally._replace(young=state.vitals[vital], kept_at=tally.most)
            state.vitals[vital] = tally.before
            log.info("%s: its deploy left %s as it was; the baseline from before is back",
                     agent_id, vital)  # fmt: skip
        elif tally.young is not None and tally.outgrown(least):
            state.vitals[vital] = tally.young
            del state.watch[vital]
            log.info("%s: its deploy moved %s after all; the new baseline goes on",
                     agent_id, vital)  # fmt: skip
        elif tally.count >= LONGEST:
            del state.watch[vital]

    def _learn_prompt(self, state: AgentState, sample: VitalSample) -> None:
        steady = not state.prompt.varies(self.settings)
        state.prompt.learn(sample.prompt_hash, self.settings, sample.version, sample.prompt_parts)
        if not steady or not state.prompt.varies(self.settings):
            return
        if sample.prompt_parts:
            log.info(
                "%s: its captured prompt changes from call to call; it is judged by the "
                "sentences nearly every call's prompt holds", sample.agent_id,
            )  # fmt: skip
        else:
            log.warning(
                "%s: its prompt hash changes from sample to sample (new in %.0f%% of them): "
                "a prompt change cannot be told from it; give the agent a steady "
                "gen_ai.prompt.hash or a prompt key",
                sample.agent_id, 100 * state.prompt.novelty,
            )  # fmt: skip

    def _relearn(self, state: AgentState, sample: VitalSample, limits: _Limits) -> None:
        """Re-learn the agent's baselines for its new version, but for the vitals a deploy
        never re-learns (``VitalTest.relearned``) and those whose lasting sum was half way
        to its limit already: a shift that began before the deploy is not the deploy's
        doing, and learning it would hide a fault under way."""
        s = self.settings
        kept = {v: b for v, b in state.vitals.items() if not TEST_OF[v].relearned}
        building = {
            v: b for v, b in state.vitals.items()
            if v not in kept and b.settled(s) and b.drifting(limits.of(b, s).lasting)
        }  # fmt: skip
        staying = kept | building
        learned = {v: b for v, b in state.vitals.items() if b.learned(s) and v not in staying}
        state.previous = learned or state.previous
        state.vitals, state.watch = staying, {v: Tally(b) for v, b in learned.items()}
        state.prompt.deploy(sample.prompt_hash, sample.version, s, sample.prompt_parts)
        log.info(
            "%s: deploy (version %s, prompt %s): re-learning its baselines%s",
            sample.agent_id, sample.version, sample.prompt_hash,
            f" but {', '.join(building)}, shifting since before it" if building else "",
        )  # fmt: skip

    def adopt(self, agent_id: str) -> tuple[str, ...]:
        """Take the level of the agent's latest sample as normal for the vitals that alarmed
        (an operator called the infection a false positive); returns the vitals adopted."""
        with self._lock:
            state = self._agents.get(agent_id)
            return self._adopt(state) if state is not None else ()

    def _adopt(self, state: AgentState, watch_until: float | None = None) -> tuple[str, ...]:
        """Adopt the latest sample's level for the flagged vitals; with ``watch_until``, the
        levels replaced are kept until then, to come back to if the shift ends."""
        if not state.evidence:
            return ()
        latest = state.evidence[-1]
        adopted = []
        for test in TESTS:
            seen = test.read(latest)
            base = state.vitals.get(test.vital)
            if test.vital in state.flagged and seen is not None and base is not None:
                if watch_until is not None:
                    state.replaced[test.vital] = Replaced(copy.deepcopy(base), watch_until)
                moved = _moved(state, test, seen, latest.time)
                base.adopt(moved.value, moved.exposure)
                adopted.append(test.vital)
        _restart_sums(state)
        if PRICE in state.flagged:
            state.models.learn(latest.prices, latest.operations, self.settings.price_jump)
            adopted.append(PRICE)
        if PROMPT in state.flagged and latest.prompt_hash:
            state.prompt.accept(latest.prompt_hash, latest.prompt_parts)
            adopted.append(PROMPT)
        state.flagged = ()
        return tuple(adopted)

    def accept_prompt(self, agent_id: str, prompt_hash: str) -> None:
        """Count ``prompt_hash`` as normal for the agent (an operator said so)."""
        with self._lock:
            state = self._agents.get(agent_id)
            if state is not None and prompt_hash:
                shown = (e.prompt_parts for e in state.evidence if e.prompt_hash == prompt_hash)
                state.prompt.accept(prompt_hash, next(shown, frozenset()))

    def forget(self, agent_id: str) -> None:
        """Drop an agent's baselines (evicted agent)."""
        with self._lock:
            self._agents.pop(agent_id, None)

    def baselines(self, agent_id: str) -> dict[str, dict[str, Any]]:
        """Typical value, spread, samples and learned flag per vital, for display."""
        with self._lock:
            state = self._agents.get(agent_id)
            if state is None:
                return {}
            shown = {v: self._shown_baseline(b) for v, b in state.vitals.items()}
            if state.models.known:  # the price of the dearest model in use: a step, no spread
                learned = state.models.learned(self.settings)
                shown[PRICE] = {"mean": state.models.ceiling()[1], "stddev": 0.0,
                                "samples": state.models.n, "learned": learned}  # fmt: skip
            return shown

    def _shown_baseline(self, base: Baseline) -> dict[str, Any]:
        s = self.settings
        if isinstance(base, LevelBaseline):
            spread = math.sqrt(base.variance(1.0, s.level_floor))  # of one call, log scale
            stddev = base.typical() * (math.exp(spread) - 1.0)
        else:  # of one interval of typical exposure (the remembered exposure spans 1/α)
            exposure = max(base.exposure * s.alpha, 1e-9)
            stddev = math.sqrt(base.count_variance(base.rate() * exposure, s)) / exposure
        return {
            "mean": base.typical(),
            "stddev": stddev,
            "samples": base.n,
            "learned": base.learned(s),
        }

    def snapshot(self) -> dict[str, Any]:
        """Every agent's baselines as plain data, for the state dir."""
        with self._lock:
            return {agent: st.to_json() for agent, st in self._agents.items()}

    def restore(self, data: dict[str, Any]) -> None:
        """Load baselines written by ``snapshot`` (or by the versions before it): all of
        them, or, if one cannot be used, none (the error says why)."""
        restored = {agent: AgentState.from_json(entry, self.settings)
                    for agent, entry in data.items()}  # fmt: skip
        with self._lock:
            self._agents.update(restored)

    def restore_agent(self, agent_id: str, entry: dict[str, Any]) -> None:
        """Load one agent's baselines, as ``snapshot`` wrote them."""
        state = AgentState.from_json(entry, self.settings)
        with self._lock:
            self._agents[agent_id] = state


_NONE = Anomaly("", "", 0.0, 0.0, -math.inf)


def _back(before: float, adopted: float) -> bool:
    """Whether a sample reads back at the level a lasting shift replaced: within BACK_Z of
    it, nearer it than the adopted level, and BELOW_Z or more below that. (Not BACK_Z
    below: the adopted level's young spread is wide, and a count's fault of an hour,
    adopted, read 1.9 below it once it was over; a fourfold rate, adopted, read as far
    below it by chance no more often.)"""
    return before < BACK_Z and before < -adopted and adopted <= -BELOW_Z


def _restart_sums(state: AgentState, vitals: Collection[str] | None = None) -> None:
    """The agent's lasting sums (of ``vitals``, else all) start afresh."""
    for vital, base in state.vitals.items():
        if vitals is None or vital in vitals:
            base.restart()


def _fresh(state: AgentState, test: VitalTest) -> Baseline:
    """A new baseline for the vital, starting from what its baseline before a deploy saw
    of the agent's work (``carry``: bursts, a count's tail)."""
    base, before = test.baseline(), state.previous.get(test.vital)
    if before is not None:
        base.carry(before)
    return base


def _moved(state: AgentState, test: VitalTest, seen: Observation, time: float) -> Observation:
    """An observation as judged against the baseline moved by its hour's offset."""
    day, base = state.days.get(test.vital), state.vitals.get(test.vital)
    offset = day.at(time) if day is not None and base is not None else 0.0
    if not offset:
        return seen
    value, exposure = base.moved(seen.value, seen.exposure, offset)
    return seen._replace(value=value, exposure=exposure)


def _as_shown(anomalies: tuple[Anomaly, ...], raw, judged) -> tuple[Anomaly, ...]:
    """The anomalies as operators read them: the value the agent showed, against the
    baseline moved as it was judged (by its hour)."""
    if raw is judged:  # (no hour of the agent's day learned yet: nothing was moved)
        return anomalies
    moved = {t.vital: (t, r, j) for (t, r), (_, j) in zip(raw, judged, strict=True) if r != j}
    return tuple(_shown_as(a, *moved[a.vital]) if a.vital in moved else a for a in anomalies)


def _shown_as(anomaly: Anomaly, test: VitalTest, raw: Observation, judged: Observation):
    shown, as_judged = _shown(raw, test), _shown(judged, test)
    if not as_judged:
        return anomaly
    moved = anomaly.baseline * shown / as_judged
    return dataclasses.replace(anomaly, observed=shown, baseline=moved)


def _shown(seen: Observation, test: VitalTest) -> float:
    """The observed value as operators read the vital (per call, or a share)."""
    if issubclass(test.baseline, RateBaseline):
        return seen.value / seen.exposure
    return seen.value


def _whole_seconds(interval_seconds: float) -> int | float:
    """The interval length thresholds are computed for (the default when unknown)."""
    return round(interval_seconds) if interval_seconds >= 1 else DEFAULT_INTERVAL
