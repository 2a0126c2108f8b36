"""Sidecar values to immune.v1 messages for the link."""

from immune.v1 import common_pb2 as pb

from immune_common import vocab
from immune_common.wire import anomaly, sample, timestamp

from ..detect import Infection

STATUS = {
    "learning": pb.AGENT_STATUS_LEARNING,
    "healthy": pb.AGENT_STATUS_HEALTHY,
    "quarantined": pb.AGENT_STATUS_QUARANTINED,
    "probation": pb.AGENT_STATUS_PROBATION,
}


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
        shared_shift=i.shared,
    )


def action_name(number: int) -> str:
    """An Action enum number to the actuators' action name."""
    return vocab.name(pb.Action, number)
