"""Value types of detection: an anomaly, and an infection made of anomalies."""

import dataclasses
import uuid

from ..vitals import VitalSample


@dataclasses.dataclass(frozen=True)
class Anomaly:
    """One vital outside its agent's normal range."""

    type: str
    vital: str
    observed: float
    baseline: float
    sigma: float
    observed_label: str = ""
    baseline_label: str = ""
    # False: evidence building beside an alarm (its lasting sum half way), not an alarm.
    alarmed: bool = True


@dataclasses.dataclass(frozen=True)
class Infection:
    """One or more anomalies on one agent at one moment, with the evidence."""

    agent_id: str
    time: float
    severity: float
    anomalies: tuple[Anomaly, ...]
    evidence: tuple[VitalSample, ...]
    id: str = dataclasses.field(default_factory=lambda: uuid.uuid4().hex)
    # Most of the sidecar's agents shifted the same vitals at once: one outside cause.
    shared: bool = False

    @property
    def types(self) -> tuple[str, ...]:
        """The anomaly types, most deviant first."""
        return tuple(a.type for a in self.anomalies)

    @property
    def alarmed_types(self) -> tuple[str, ...]:
        """The types of the anomalies that alarmed (not those building beside them)."""
        return tuple(a.type for a in self.anomalies if a.alarmed)
