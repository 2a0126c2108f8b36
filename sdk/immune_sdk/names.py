"""Short lower-case names for the API's enums ("pending_approval" for
INCIDENT_STATE_PENDING_APPROVAL), for command lines, tables and JSON."""

from google.protobuf.internal.enum_type_wrapper import EnumTypeWrapper
from immune.v1 import common_pb2 as pb

from immune_common import vocab
from immune_common.vocab import name, number

STATE = pb.IncidentState
STATUS = pb.AgentStatus
DIAGNOSIS = pb.Diagnosis
ACTION = pb.Action
OUTCOME = pb.ActionOutcome
TRIGGER = pb.Trigger
ANOMALY = pb.AnomalyType
ROLE = pb.Role


def names(enum: EnumTypeWrapper) -> list[str]:
    """Every short name of an enum, in order."""
    return list(vocab.names(enum))


__all__ = [
    "ACTION",
    "ANOMALY",
    "DIAGNOSIS",
    "OUTCOME",
    "ROLE",
    "STATE",
    "STATUS",
    "TRIGGER",
    "name",
    "names",
    "number",
]
