"""What actuators receive and answer, and the one-method interface they share."""

import dataclasses
import uuid
from typing import Protocol

QUARANTINE, RELEASE, APPLY_ACTION = "quarantine", "release", "apply_action"


@dataclasses.dataclass(frozen=True)
class Command:
    """Something to do to an agent: contain it, free it, or apply a healing action."""

    kind: str
    agent_id: str
    action: str = ""
    reason: str = ""
    incident_id: str = ""
    id: str = dataclasses.field(default_factory=lambda: uuid.uuid4().hex)

    def to_json(self) -> dict:
        """The documented JSON form sent to webhooks and commands."""
        return {
            "command_id": self.id,
            "command": self.kind,
            "agent_id": self.agent_id,
            "action": self.action,
            "reason": self.reason,
            "incident_id": self.incident_id,
        }


@dataclasses.dataclass(frozen=True)
class Outcome:
    """How one actuator fared with one command."""

    actuator: str
    ok: bool
    message: str = ""
    dry_run: bool = False


class Actuator(Protocol):
    """Carries out commands on agents."""

    name: str
    actions: frozenset[str]  # the healing actions it carries out (all take quarantine and release)

    def apply(self, command: Command) -> Outcome:
        """Carry out ``command``; never raises, the outcome says what happened."""
        ...


class DryRun:
    """Wraps an actuator so it only says what it would do."""

    def __init__(self, inner: Actuator) -> None:
        self._inner = inner
        self.name = inner.name
        self.actions = inner.actions

    def apply(self, command: Command) -> Outcome:
        """Report success without acting."""
        what = command.action or command.kind
        return Outcome(self.name, True, f"dry run: would {what} {command.agent_id}", dry_run=True)
