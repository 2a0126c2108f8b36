"""Sidecar values to immune.v1 messages for the link."""

from immune.v1 import common_pb2 as pb

from immune_common.wire import timestamp

from ..detect import Anomaly, Infection
from ..vitals import VitalSample

STATUS = {
    "learning": pb.AGENT_STATUS_LEARNING,
    "healthy": pb.AGENT_STATUS_HEALTHY,
    "quarantined": pb.AGENT_STATUS_QUARANTINED,
    "probation": pb.AGENT_STATUS_PROBATION,
}


def anomaly(a: Anomaly) -> pb.Anomaly:
    """A detector anomaly as its message."""
    return pb.Anomaly(
        type=pb.AnomalyType.Value("ANOMALY_TYPE_" + a.type.upper()),
        vital=a.vital,
        observed=a.observed,
        baseline=a.baseline,
        sigma=a.sigma,
        observed_label=a.observed_label,
        baseline_label=a.baseline_label,
    )


def sample(s: VitalSample) -> pb.VitalSample:
    """A vital sample as its message."""
    return pb.VitalSample(
        agent_id=s.agent_id,
        time=timestamp(s.time),
        interval_seconds=s.interval_seconds,
        operations=s.operations,
        values=dict(s.values),
        prompt_hash=s.prompt_hash,
    )


def infection(i: Infection, sidecar_id: str, quarantined: bool) -> pb.Infection:
    """An infection with its evidence as its message."""
    return pb.Infection(
        id=i.id,
        agent_id=i.agent_id,
        sidecar_id=sidecar_id,
        detect_time=timestamp(i.time),
        severity=i.severity,
        anomalies=[anomaly(a) for a in i.anomalies],
        evidence=[sample(s) for s in i.evidence],
        quarantined=quarantined,
    )


def action_name(number: int) -> str:
    """An Action enum number to the actuators' action name."""
    return pb.Action.Name(number)[len("ACTION_") :].lower()
