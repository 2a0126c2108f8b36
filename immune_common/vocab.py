"""The product's vocabularies — actions, diagnoses, anomaly types, incident states, agent
statuses — come from the proto's enums, once: short lower-case names ("revoke_tools") ⇄
enum numbers (ACTION_REVOKE_TOOLS). Adding a value to the proto adds it everywhere."""

from google.protobuf.internal.enum_type_wrapper import EnumTypeWrapper
from immune.v1 import common_pb2 as pb


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


def names(enum: EnumTypeWrapper) -> tuple[str, ...]:
    """Every short name of an enum, in order (unspecified left out)."""
    return tuple(name(enum, n) for n in enum.values() if n)


ACTIONS = names(pb.Action)
DIAGNOSES = names(pb.Diagnosis)
ANOMALY_TYPES = names(pb.AnomalyType)
