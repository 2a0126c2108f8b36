"""Commands control sends to sidecars, and the seam that carries them."""

import dataclasses
import uuid
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
