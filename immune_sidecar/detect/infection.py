"""Value types of detection: an anomaly, and an infection made of anomalies."""

import dataclasses
import uuid

from ..vitals import VitalSample

ANOMALY_TYPES = (
    "token_spike",
    "input_token_spike",
    "output_token_spike",
    "latency_spike",
    "tool_explosion",
    "high_retry_rate",
    "error_rate_spike",
    "cost_spike",
    "prompt_change",
    "call_rate_spike",
)


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
