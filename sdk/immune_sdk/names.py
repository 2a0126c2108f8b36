"""Short lower-case names for the API's enums ("pending_approval" for
INCIDENT_STATE_PENDING_APPROVAL), for command lines, tables and JSON."""

from immune.v1 import common_pb2 as pb

from immune_common.vocab import name, names, number

STATE = pb.IncidentState
STATUS = pb.AgentStatus
DIAGNOSIS = pb.Diagnosis
ACTION = pb.Action
OUTCOME = pb.ActionOutcome
TRIGGER = pb.Trigger
ANOMALY = pb.AnomalyType
ROLE = pb.Role


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
