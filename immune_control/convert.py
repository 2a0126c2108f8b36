"""Domain values ⇄ immune.v1 messages, for both the public API and the sidecar link."""

from immune.v1 import common_pb2 as pb

from immune_common import severity, vocab
from immune_common.wire import anomaly, sample, seconds, timestamp

from .errors import InvalidArgument
from .memory import MemoryEntry
from .model import Anomaly, Event, HealingAction, Incident, Infection, Sample
from .policies import Policy


def to_enum(enum, name: str) -> int:
    """A lower-case domain name to its enum number (0 for empty)."""
    return vocab.number(enum, name) if name else 0


def from_enum(enum, number: int, what: str) -> str:
    """An enum number to its lower-case domain name; unknown or unspecified is an error."""
    name = vocab.name(enum, number)
    if not name:
        raise InvalidArgument(f"{what}: {number} is not a known value")
    return name


def action(a: HealingAction) -> pb.HealingAction:
    """Domain healing action to its message."""
    return pb.HealingAction(
        id=a.id,
        incident_id=a.incident_id,
        agent_id=a.agent_id,
        action=to_enum(pb.Action, a.action),
        diagnosis=to_enum(pb.Diagnosis, a.diagnosis),
        trigger=to_enum(pb.Trigger, a.trigger),
        outcome=to_enum(pb.ActionOutcome, a.outcome),
        start_time=timestamp(a.start_time),
        finish_time=timestamp(a.finish_time),
        detail=a.detail,
        actor=a.actor,
        dry_run=a.dry_run,
        attempt=a.attempt,
    )


def event(e: Event) -> pb.Event:
    """Domain event to its message."""
    return pb.Event(
        sequence=e.sequence,
        time=timestamp(e.time),
        kind=e.kind,
        incident_id=e.incident_id,
        agent_id=e.agent_id,
        actor=e.actor,
        reason=e.reason,
        from_state=to_enum(pb.IncidentState, e.from_state),
        to_state=to_enum(pb.IncidentState, e.to_state),
        message=e.message,
    )


def incident(i: Incident, timeline: list[Event] | None = None) -> pb.Incident:
    """Domain incident (and optionally its timeline) to its message."""
    msg = pb.Incident(
        id=i.id,
        agent_id=i.agent_id,
        state=to_enum(pb.IncidentState, i.state),
        severity=i.severity,
        anomalies=[anomaly(a) for a in i.anomalies],
        hypotheses=[
            pb.Hypothesis(
                diagnosis=to_enum(pb.Diagnosis, h.diagnosis),
                confidence=h.confidence,
                evidence=h.evidence,
            )
            for h in i.hypotheses
        ],
        diagnosis=to_enum(pb.Diagnosis, i.diagnosis),
        actions=[action(a) for a in i.actions],
        timeline=[event(e) for e in timeline or ()],
        evidence=[sample(s) for s in i.evidence],
        detect_time=timestamp(i.detect_time),
        update_time=timestamp(i.update_time),
        approval_expire_time=timestamp(i.approval_expire_time),
        fleet=i.fleet,
        affected_agent_ids=i.affected_agent_ids,
        quarantine_waived=i.quarantine_waived,
        waived_agent_ids=i.waived_agent_ids,
    )
    if i.feedback is not None:
        f = i.feedback
        msg.feedback.CopyFrom(
            pb.Feedback(
                incident_id=f.incident_id,
                false_positive=f.false_positive,
                true_cause=to_enum(pb.Diagnosis, f.true_cause),
                actor=f.actor,
                reason=f.reason,
                time=timestamp(f.time),
            )
        )
    return msg


def policy(p: Policy) -> pb.Policy:
    """Domain policy to its message."""
    return pb.Policy(
        diagnosis=to_enum(pb.Diagnosis, p.diagnosis),
        actions=[to_enum(pb.Action, a) for a in p.actions],
        update_actor=p.update_actor,
        update_time=timestamp(p.update_time or None),
    )


def memory_entry(e: MemoryEntry) -> pb.MemoryEntry:
    """Domain memory entry to its message."""
    return pb.MemoryEntry(
        agent_id=e.agent_id,
        diagnosis=to_enum(pb.Diagnosis, e.diagnosis),
        action=to_enum(pb.Action, e.action),
        attempts=e.attempts,
        successes=e.successes,
        success_rate=e.success_rate,
        last_attempt_time=timestamp(e.last_attempt_time or None),
    )


def from_anomaly(a: pb.Anomaly) -> Anomaly:
    """An anomaly message to the domain value."""
    return Anomaly(
        from_enum(pb.AnomalyType, a.type, "anomaly.type"),
        a.vital,
        a.observed,
        a.baseline,
        a.sigma,
        a.observed_label,
        a.baseline_label,
    )


def from_sample(s: pb.VitalSample) -> Sample:
    """A sample message to the domain value."""
    return Sample(
        s.agent_id, seconds(s.time), s.interval_seconds, s.operations, dict(s.values), s.prompt_hash
    )


def from_infection(i: pb.Infection, sidecar_id: str) -> Infection:
    """An infection message to the domain value; raises InvalidArgument when unusable."""
    if not i.id or not i.agent_id:
        raise InvalidArgument("an infection needs an id and an agent_id")
    return Infection(
        i.id,
        i.agent_id,
        sidecar_id,
        seconds(i.detect_time),
        severity.at_least_shown(i.severity, (a.sigma for a in i.anomalies)),
        tuple(from_anomaly(a) for a in i.anomalies),
        tuple(from_sample(s) for s in i.evidence),
        i.quarantined,
        i.shared_shift,
    )
