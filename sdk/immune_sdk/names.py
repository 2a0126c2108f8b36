"""Short lower-case names for the API's enums ("pending_approval" for
INCIDENT_STATE_PENDING_APPROVAL), for command lines, tables and JSON."""

from google.protobuf.internal.enum_type_wrapper import EnumTypeWrapper
from immune.v1 import common_pb2 as pb

STATE = pb.IncidentState
STATUS = pb.AgentStatus
DIAGNOSIS = pb.Diagnosis
ACTION = pb.Action
OUTCOME = pb.ActionOutcome
TRIGGER = pb.Trigger
ANOMALY = pb.AnomalyType
ROLE = pb.Role


def _prefix(enum: EnumTypeWrapper) -> str:
    return enum.Name(0).removesuffix("UNSPECIFIED")


def name(enum: EnumTypeWrapper, number: int) -> str:
    """The short name of an enum value ('' for unspecified or unknown numbers)."""
    if not number or number not in enum.values():
        return ""
    return enum.Name(number).removeprefix(_prefix(enum)).lower()


def number(enum: EnumTypeWrapper, short: str) -> int:
    """The enum value of a short name; ValueError naming the choices when unknown."""
    try:
        return enum.Value(_prefix(enum) + short.strip().upper().replace("-", "_"))
    except ValueError:
        raise ValueError(f"unknown {short!r}; one of: {', '.join(names(enum))}") from None


def names(enum: EnumTypeWrapper) -> list[str]:
    """Every short name of an enum, in order."""
    return [name(enum, n) for n in enum.values() if n]
