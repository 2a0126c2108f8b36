"""Value types of control: anomalies, hypotheses, healing actions, events, incidents."""

import dataclasses
from collections.abc import Mapping

DETECTED, QUARANTINED, PENDING = "detected", "quarantined", "pending_approval"
HEALING, PROBATION, HEALED = "healing", "probation", "healed"
REJECTED, EXPIRED, EXHAUSTED = "rejected", "expired", "exhausted"
DISMISSED, MERGED = "dismissed", "merged"
CLOSED_STATES = frozenset({HEALED, DISMISSED, MERGED})
WAITING_FOR_HUMAN = frozenset({PENDING, REJECTED, EXPIRED, EXHAUSTED})
# The incident lifecycle (DESIGN §5): the states each state may move to. Any open incident
# can be dismissed (a false positive) or merged into a fleet incident; a fleet incident is
# released (healed) by approval. Healing → healing is the next action of the ladder.
_ENDINGS = frozenset({DISMISSED, MERGED})
TRANSITIONS: Mapping[str, frozenset[str]] = {
    DETECTED: frozenset({QUARANTINED}) | _ENDINGS,
    QUARANTINED: frozenset({PENDING, HEALING, EXHAUSTED}) | _ENDINGS,
    PENDING: frozenset({HEALING, REJECTED, EXPIRED, HEALED}) | _ENDINGS,
    REJECTED: frozenset({HEALING}) | _ENDINGS,
    EXPIRED: frozenset({HEALING, REJECTED, HEALED}) | _ENDINGS,
    EXHAUSTED: frozenset({HEALING}) | _ENDINGS,
    HEALING: frozenset({HEALING, PROBATION, PENDING, EXHAUSTED}) | _ENDINGS,
    PROBATION: frozenset({HEALED, HEALING}) | _ENDINGS,
    HEALED: frozenset(),
    DISMISSED: frozenset(),
    MERGED: frozenset(),
}

AUTO, APPROVAL, HEAL_NOW, EXPIRY = "auto", "approval", "heal_now", "expiry"
A_PENDING, A_APPLIED, A_SUCCEEDED = "pending", "applied", "succeeded"
A_FAILED, A_REINFECTED, A_TIMED_OUT = "failed", "reinfected", "timed_out"
A_CANCELLED = "cancelled"
COUNTED_OUTCOMES = frozenset({A_SUCCEEDED, A_FAILED, A_REINFECTED, A_TIMED_OUT})
FINISHED_OUTCOMES = COUNTED_OUTCOMES | {A_CANCELLED}


@dataclasses.dataclass(frozen=True)
class Anomaly:
    """One vital outside its agent's normal range, as the sidecar reported it."""

    type: str
    vital: str
    observed: float
    baseline: float
    sigma: float
    observed_label: str = ""
    baseline_label: str = ""

    def describe(self) -> str:
        """A one-line account for evidence lists and event messages."""
        if self.observed_label or self.baseline_label:
            return f"{self.type}: {self.baseline_label or 'none'} → {self.observed_label}"
        return (
            f"{self.type}: {self.vital} {self.observed:.4g} vs {self.baseline:.4g} "
            f"({self.sigma:.1f}σ)"
        )


@dataclasses.dataclass(frozen=True)
class Sample:
    """One agent's vitals for one interval (evidence and charts)."""

    agent_id: str
    time: float
    interval_seconds: float
    operations: float
    values: Mapping[str, float]
    prompt_hash: str = ""


@dataclasses.dataclass(frozen=True)
class Infection:
    """An infection report from a sidecar."""

    id: str
    agent_id: str
    sidecar_id: str
    time: float
    severity: float
    anomalies: tuple[Anomaly, ...]
    evidence: tuple[Sample, ...] = ()
    quarantined: bool = True
    # The sidecar saw most of its agents shift the same vitals at once: an outside cause.
    shared_shift: bool = False

    @property
    def types(self) -> tuple[str, ...]:
        """Anomaly types, most deviant first."""
        return tuple(a.type for a in self.anomalies)


@dataclasses.dataclass(frozen=True)
class Hypothesis:
    """One candidate cause with its confidence (0..1) and the evidence for it."""

    diagnosis: str
    confidence: float
    evidence: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class HealingAction:
    """One attempt to cure an incident; its outcome moves pending → applied → finished."""

    id: str
    incident_id: str
    agent_id: str
    action: str
    diagnosis: str
    trigger: str
    attempt: int
    start_time: float
    actor: str = "system"
    outcome: str = A_PENDING
    applied_time: float | None = None
    finish_time: float | None = None
    detail: str = ""
    dry_run: bool = False
    command_id: str = ""

    @property
    def finished(self) -> bool:
        """Whether the outcome is final."""
        return self.outcome in FINISHED_OUTCOMES


@dataclasses.dataclass(frozen=True)
class Event:
    """One stored transition: who did what, to what, when."""

    sequence: int
    time: float
    kind: str
    incident_id: str = ""
    agent_id: str = ""
    actor: str = "system"
    reason: str = ""
    from_state: str = ""
    to_state: str = ""
    message: str = ""


@dataclasses.dataclass(frozen=True)
class Feedback:
    """An operator's verdict on an incident."""

    incident_id: str
    false_positive: bool
    true_cause: str
    wrong_diagnosis: str
    anomaly_type: str
    actor: str
    reason: str
    time: float


@dataclasses.dataclass(frozen=True)
class Incident:
    """Control's record of an infection, from detection to outcome."""

    id: str
    agent_id: str
    state: str
    severity: float
    anomalies: tuple[Anomaly, ...]
    hypotheses: tuple[Hypothesis, ...]
    detect_time: float
    update_time: float
    evidence: tuple[Sample, ...] = ()
    hypothesis_index: int = 0
    trigger: str = ""
    approval_expire_time: float | None = None
    fleet: bool = False
    affected_agent_ids: tuple[str, ...] = ()
    quarantine_waived: bool = False
    # Fleet incidents: affected agents whose quarantine the fleet cap waived.
    waived_agent_ids: tuple[str, ...] = ()
    actions: tuple[HealingAction, ...] = ()
    feedback: Feedback | None = None

    @property
    def open(self) -> bool:
        """Whether the incident still needs something done."""
        return self.state not in CLOSED_STATES

    @property
    def members(self) -> tuple[str, ...]:
        """The agents this incident is about: its own, or a fleet incident's affected ones."""
        return self.affected_agent_ids if self.fleet else (self.agent_id,)

    def waived(self, agent_id: str) -> bool:
        """Whether the fleet cap waived this member's quarantine (recorded, not enforced)."""
        if self.fleet:
            return agent_id in self.waived_agent_ids
        return self.quarantine_waived

    @property
    def held(self) -> tuple[str, ...]:
        """The members control holds in quarantine: not waived, and neither still being
        decided (detected) nor released to be watched (probation)."""
        if not self.open or self.state in (DETECTED, PROBATION):
            return ()
        return tuple(a for a in self.members if not self.waived(a))

    @property
    def diagnosis(self) -> str:
        """The hypothesis healing works on now."""
        if not self.hypotheses:
            return "unknown"
        return self.hypotheses[min(self.hypothesis_index, len(self.hypotheses) - 1)].diagnosis

    @property
    def current_action(self) -> HealingAction | None:
        """The latest action when it is not finished yet."""
        if self.actions and not self.actions[-1].finished:
            return self.actions[-1]
        return None

    def with_action(self, action: HealingAction) -> "Incident":
        """A copy with ``action`` added, or replacing the action of the same id."""
        kept = tuple(a for a in self.actions if a.id != action.id)
        ordered = sorted((*kept, action), key=lambda a: a.attempt)
        return dataclasses.replace(self, actions=tuple(ordered))


@dataclasses.dataclass(frozen=True)
class AgentInfo:
    """An agent as its sidecar described it."""

    id: str
    sidecar_id: str = ""
    name: str = ""
    model: str = ""
    provider: str = ""
    mcp_servers: tuple[str, ...] = ()
    tools: tuple[str, ...] = ()
    labels: Mapping[str, str] = dataclasses.field(default_factory=dict)
    reported_status: str = "learning"
    first_seen: float = 0.0
    last_seen: float = 0.0
    samples: int = 0


@dataclasses.dataclass(frozen=True)
class AuditEntry:
    """One mutating call or automatic step."""

    sequence: int
    time: float
    actor: str
    role: str
    method: str
    target: str
    reason: str
    result: str
