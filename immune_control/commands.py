"""Commands control sends to sidecars, and the seam that carries them."""

import dataclasses
import uuid
from collections.abc import Iterable
from typing import Protocol

QUARANTINE, RELEASE, APPLY_ACTION = "quarantine", "release", "apply_action"


@dataclasses.dataclass(frozen=True)
class Command:
    """Quarantine, release (optionally on probation) or apply one healing action."""

    kind: str
    sidecar_id: str
    agent_id: str
    incident_id: str
    reason: str = ""
    enforce: bool = True
    probation_samples: int = 0
    probation_timeout_seconds: float = 0.0
    action: str = ""
    action_id: str = ""
    dry_run: bool = False
    timeout_seconds: float = 0.0
    # Release after a false positive: the agent's baselines take its level as normal.
    adopt_baseline: bool = False
    id: str = dataclasses.field(default_factory=lambda: uuid.uuid4().hex)


class Courier(Protocol):
    """Carries stored commands to connected sidecars."""

    def deliver(self, command: Command) -> None:
        """Send ``command`` now if its sidecar is connected (it is resent on reconnect)."""
        ...


class Unacked:
    """Stored commands no sidecar has acked yet, by sidecar, oldest first: what a
    reconnecting sidecar is sent again, and which of its acks count. Kept in memory beside
    the commands table so a hello or an ack never reads the database inside a change."""

    def __init__(self, commands: Iterable[Command] = ()) -> None:
        self._by_sidecar: dict[str, dict[str, Command]] = {}
        for command in commands:
            self.add(command)

    def add(self, command: Command) -> None:
        """Wait for ``command``'s ack."""
        self._by_sidecar.setdefault(command.sidecar_id, {})[command.id] = command

    def drop(self, command: Command) -> None:
        """Stop waiting for ``command`` (acked, or its change rolled back)."""
        waiting = self._by_sidecar.get(command.sidecar_id, {})
        waiting.pop(command.id, None)
        if not waiting:
            self._by_sidecar.pop(command.sidecar_id, None)

    def waiting(self, sidecar_id: str, ids: Iterable[str]) -> list[Command]:
        """Those of ``ids`` that name this sidecar's unacked commands."""
        mine = self._by_sidecar.get(sidecar_id, {})
        return [mine[i] for i in dict.fromkeys(ids) if i in mine]

    def of(self, sidecar_id: str) -> list[Command]:
        """A sidecar's unacked commands, oldest first."""
        return list(self._by_sidecar.get(sidecar_id, {}).values())
