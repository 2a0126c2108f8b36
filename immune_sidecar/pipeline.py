"""The detection path of one export: map to vitals, judge each sample, contain at once."""

import dataclasses
import logging
import time
from collections.abc import Callable

from .actuate import QUARANTINE, RELEASE, ActuatorRunner, Command
from .agents import AgentRegistry
from .detect import VITAL_ANOMALY, Detector, Infection, UnreadableSample
from .detect.shared import SharedShifts
from .quarantine import HEALTHY, QUARANTINED, Ejection, QuarantineBook
from .receiver import Export, Partial
from .receiver.signals import LOGS, TRACES
from .telemetry import SidecarMetrics
from .vitals import Mapper, MapResult, VitalSample

log = logging.getLogger(__name__)
# Samples of one agent in a row that fail to be judged before its baselines are dropped.
FRESH_AFTER_FAILURES = 3
InfectionListener = Callable[[Infection, Ejection], None]


class Pipeline:
    """The receiver's consumer: vitals, detection and local quarantine, in the request."""

    def __init__(
        self,
        mapper: Mapper,
        detector: Detector,
        agents: AgentRegistry,
        book: QuarantineBook,
        runner: ActuatorRunner,
        metrics: SidecarMetrics,
        clock: Callable[[], float] = time.time,
        shifts: SharedShifts | None = None,
    ) -> None:
        self._mapper, self._detector, self._agents = mapper, detector, agents
        self._book, self._runner, self._metrics = book, runner, metrics
        self._clock = clock
        self._shifts = shifts or SharedShifts()
        # When the latest local hold began: a shared shift frees only holds of its interval,
        # so without a recent one there is nothing to scan the quarantine book for.
        self._last_hold = float("-inf")
        self._failures: dict[str, int] = {}  # agent → samples in a row not judged
        self._listeners: list[InfectionListener] = []
        self._clean_listeners: list[Callable[[VitalSample], None]] = []
        self.drift: set[str] = set()

    def add_listener(self, listener: InfectionListener) -> None:
        """Call ``listener`` with every infection that led to a quarantine (or a waived one)."""
        self._listeners.append(listener)

    def add_clean_listener(self, listener: Callable[[VitalSample], None]) -> None:
        """Call ``listener`` with every sample that showed no anomaly."""
        self._clean_listeners.append(listener)

    def consume(self, export: Export) -> Partial:
        """Map, judge and contain; report the points that could not be used."""
        if export.signal is LOGS:
            return Partial()  # taken, and teed upstream with --forward
        now = self._clock()
        if export.signal is TRACES:
            result = self._mapper.map_spans(export.request, now)
        else:
            result = self._mapper.map(export.request, now)
        self._take(result, export.received, now)
        return Partial(result.rejected, "; ".join(result.reasons))

    def tick(self) -> None:
        """Judge the agents whose spans or gate calls waited long enough with no metrics."""
        now = self._clock()
        self._take(self._mapper.map_due(now), now, now)

    def _take(self, result: MapResult, received: float, now: float) -> None:
        samples = {s.agent_id: s for s in result.samples}
        for agent_id, labels in result.labels.items():
            # Seen first, judged next: an agent the cap evicts takes its fresh state along.
            self._agents.seen(agent_id, labels, now)
            if agent_id in samples:
                self._judge_apart(samples[agent_id], received, now)
        self._note(result)

    def _judge_apart(self, sample: VitalSample, received: float, now: float) -> None:
        """Judge one agent's sample; a defect in judging it is logged and counted, and the
        export's other agents are judged all the same: their points were accepted, and a
        refused export would be sent again only to fail the same way."""
        try:
            self._judge(sample, received, now)
        except UnreadableSample as exc:  # figures past any agent's: the data, not a defect
            self._metrics.unjudged.inc()
            log.warning("%s: its sample was not judged: %s", sample.agent_id, exc)
        except Exception:
            self._metrics.unjudged.inc()
            log.exception("could not judge the sample of %s; left unjudged", sample.agent_id)
            self._failed(sample.agent_id)
        else:
            self._failures.pop(sample.agent_id, None)

    def _failed(self, agent_id: str) -> None:
        """After ``FRESH_AFTER_FAILURES`` samples in a row not judged, drop the agent's
        baselines: damaged (a state file of another version), they would fail every sample
        for as long as the agent lives; learned afresh, it is judged again."""
        count = self._failures.get(agent_id, 0) + 1
        if count < FRESH_AFTER_FAILURES:
            self._failures[agent_id] = count
            return
        self._failures.pop(agent_id, None)
        self._detector.forget(agent_id)
        log.error("%s: %d samples in a row could not be judged; its baselines are dropped and "
                  "learned afresh", agent_id, count)  # fmt: skip

    def _judge(self, sample: VitalSample, received: float, now: float) -> None:
        state = self._book.state(sample.agent_id, now)
        window = sample.interval_seconds or DEFAULT_WINDOW
        infection = self._detector.observe(
            sample, state == HEALTHY, self._explained(state == QUARANTINED, now, window)
        )
        shifted, blind = self._detector.shifts(sample.agent_id)
        self._shifts.note(sample.agent_id, now, shifted, blind)
        self._agents.sampled(sample, infection.anomalies if infection else ())
        if shifted and self._book.standalone and self._last_hold >= now - window:
            self._release_shared(now, window)
        if infection is not None:
            if self._shifts.shared(_shifted_vitals(infection), now, window):
                infection = dataclasses.replace(infection, shared=True)
            self._infected(infection, received, now)
            return
        for listener in self._clean_listeners:
            listener(sample)

    def _explained(self, held: bool, now: float, window: float) -> frozenset[str]:
        """The vitals whose shift has a known cause: all of a held agent's (the fault it is
        held for: its sums start afresh on release), those the fleet shares a shift of."""
        return ALL_VITALS if held else self._shifts.explaining(now, window)

    def _note(self, result: MapResult) -> None:
        self._metrics.samples.inc(len(result.samples))
        if result.unmapped:
            self._metrics.unmapped_points.inc(result.unmapped)
        if result.coarse:
            self._metrics.coarse_histograms.inc(result.coarse)
        if result.drift - self.drift:
            self.drift |= result.drift
            self._metrics.drift_metrics.set(len(self.drift))
            log.info("metrics that feed no vital (schema drift?): %s", sorted(result.drift))

    def _infected(self, infection: Infection, received: float, now: float) -> None:
        for kind in infection.types:
            self._metrics.infections.labels(kind).inc()
        if self._book.state(infection.agent_id, now) == QUARANTINED:
            return
        if infection.shared:
            self._shared(infection, now)
            return
        if self._book.waived(infection.agent_id):  # control's fleet cap: report, do not hold
            for listener in self._listeners:
                listener(infection, self._book.get(infection.agent_id))
            return
        reason = ", ".join(_describe(a) for a in infection.anomalies)
        ejection = self._book.eject(
            infection.agent_id, reason, infection.alarmed_types, infection.severity,
            infection.id, now,
        )  # fmt: skip
        self._last_hold = now
        self._metrics.detection_seconds.observe(max(0.0, self._clock() - received))
        log.warning(
            "quarantined %s (severity %.1f): %s", infection.agent_id, ejection.severity, reason
        )
        self._contain(ejection)
        for listener in self._listeners:
            listener(infection, ejection)

    def _shared(self, infection: Infection, now: float) -> None:
        """Report a shared shift without holding (its sample already freed the interval's
        holds of the same shift, in ``_judge``)."""
        self._metrics.shared_shifts.inc()
        self._shifts.report(_shifted_vitals(infection), now)
        self._detector.shared(infection.agent_id)
        reason = "shared shift: " + ", ".join(_describe(a) for a in infection.anomalies)
        reported = Ejection(infection.agent_id, reason, infection.types, infection.severity,
                            infection.id, now, now, 0, waived=True)  # fmt: skip
        for listener in self._listeners:
            listener(infection, reported)

    def _release_shared(self, now: float, window: float) -> None:
        """Let go of agents held in the last interval for what turned out a shared shift."""
        for held in self._book.held(now):
            if held.since < now - window or not self._shared_types(held, now, window):
                continue
            self._book.release(held.agent_id, now)
            self._detector.shared(held.agent_id)
            self._runner.submit(Command(RELEASE, held.agent_id, reason="shared shift"))
            log.info("released %s: its %s was a shared shift", held.agent_id, held.reason)

    def _shared_types(self, held: Ejection, now: float, window: float) -> bool:
        """Whether each anomaly type a hold names shifted fleet-wide in one of its vitals
        (latency_spike is named by the latency and by the time to first token)."""
        return bool(held.anomaly_types) and all(
            any(self._shifts.shared({v}, now, window) for v in ANOMALY_VITALS.get(t, ()))
            for t in held.anomaly_types
        )

    def forget(self, agent_id: str) -> None:
        """Drop the per-agent state of an evicted agent."""
        self._shifts.forget(agent_id)

    def _contain(self, ejection: Ejection) -> None:
        agent = ejection.agent_id
        self._runner.submit(Command(QUARANTINE, agent, reason=ejection.reason))
        if ejection.until is not None:
            release = Command(RELEASE, agent, reason="quarantine time served (standalone)")
            self._runner.submit_at(ejection.until, release, lambda: self._still(ejection))

    def _still(self, ejection: Ejection) -> bool:
        current = self._book.get(ejection.agent_id)
        return current is not None and current.since == ejection.since


DEFAULT_WINDOW = 60.0
ALL_VITALS = frozenset(VITAL_ANOMALY)
ANOMALY_VITALS = {
    kind: tuple(v for v, k in VITAL_ANOMALY.items() if k == kind) for kind in VITAL_ANOMALY.values()
}


def _shifted_vitals(infection: Infection) -> set[str]:
    """The vitals a shared shift must cover; none when the prompt changed (never shared)."""
    if "prompt_change" in infection.types:
        return set()
    return {a.vital for a in infection.anomalies if a.alarmed}


def _describe(anomaly) -> str:
    if anomaly.type == "prompt_change":
        return f"prompt_change ({anomaly.baseline_label or 'none'} → {anomaly.observed_label})"
    moved = anomaly.observed_label and f", {anomaly.baseline_label} → {anomaly.observed_label}"
    return (
        f"{anomaly.type} ({anomaly.vital} {anomaly.observed:.4g} vs {anomaly.baseline:.4g}, "
        f"{anomaly.sigma:.1f}σ{moved})"
    )
