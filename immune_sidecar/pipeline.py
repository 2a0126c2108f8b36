"""The detection path of one export: map to vitals, judge each sample, contain at once."""

import logging
import time
from collections.abc import Callable

from .actuate import QUARANTINE, RELEASE, ActuatorRunner, Command
from .agents import AgentRegistry
from .detect import Detector, Infection
from .quarantine import HEALTHY, QUARANTINED, Ejection, QuarantineBook
from .receiver import Export, Partial
from .telemetry import SidecarMetrics
from .vitals import Mapper, MapResult, VitalSample

log = logging.getLogger(__name__)
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
    ) -> None:
        self._mapper, self._detector, self._agents = mapper, detector, agents
        self._book, self._runner, self._metrics = book, runner, metrics
        self._clock = clock
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
        now = self._clock()
        result = self._mapper.map(export.request, now)
        samples = {s.agent_id: s for s in result.samples}
        for agent_id, labels in result.labels.items():
            # Seen first, judged next: an agent the cap evicts takes its fresh state along.
            self._agents.seen(agent_id, labels, now)
            if agent_id in samples:
                self._judge(samples[agent_id], export.received, now)
        self._note(result)
        return Partial(result.rejected, "; ".join(result.reasons))

    def _judge(self, sample: VitalSample, received: float, now: float) -> None:
        learn = self._book.state(sample.agent_id, now) == HEALTHY
        infection = self._detector.observe(sample, learn=learn)
        self._agents.sampled(sample, infection.anomalies if infection else ())
        if infection is not None:
            self._infected(infection, received, now)
            return
        for listener in self._clean_listeners:
            listener(sample)

    def _note(self, result: MapResult) -> None:
        self._metrics.samples.inc(len(result.samples))
        if result.unmapped:
            self._metrics.unmapped_points.inc(result.unmapped)
        if result.drift - self.drift:
            self.drift |= result.drift
            self._metrics.drift_metrics.set(len(self.drift))
            log.info("metrics that feed no vital (schema drift?): %s", sorted(result.drift))

    def _infected(self, infection: Infection, received: float, now: float) -> None:
        for kind in infection.types:
            self._metrics.infections.labels(kind).inc()
        if self._book.state(infection.agent_id, now) == QUARANTINED:
            return
        if self._book.waived(infection.agent_id):  # control's fleet cap: report, do not hold
            for listener in self._listeners:
                listener(infection, self._book.get(infection.agent_id))
            return
        reason = ", ".join(_describe(a) for a in infection.anomalies)
        ejection = self._book.eject(
            infection.agent_id, reason, infection.types, infection.severity, infection.id, now
        )
        self._metrics.detection_seconds.observe(max(0.0, self._clock() - received))
        log.warning(
            "quarantined %s (severity %.1f): %s", infection.agent_id, ejection.severity, reason
        )
        self._contain(ejection)
        for listener in self._listeners:
            listener(infection, ejection)

    def _contain(self, ejection: Ejection) -> None:
        agent = ejection.agent_id
        self._runner.submit(Command(QUARANTINE, agent, reason=ejection.reason))
        if ejection.until is not None:
            release = Command(RELEASE, agent, reason="quarantine time served (standalone)")
            self._runner.submit_at(ejection.until, release, lambda: self._still(ejection))

    def _still(self, ejection: Ejection) -> bool:
        current = self._book.get(ejection.agent_id)
        return current is not None and current.since == ejection.since


def _describe(anomaly) -> str:
    if anomaly.type == "prompt_change":
        return f"prompt_change ({anomaly.baseline_label or 'none'} → {anomaly.observed_label})"
    return (
        f"{anomaly.type} ({anomaly.vital} {anomaly.observed:.4g} vs {anomaly.baseline:.4g}, "
        f"{anomaly.sigma:.1f}σ)"
    )
