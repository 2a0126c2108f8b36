"""The gate as an actuator: quarantine ends the agent's calls in flight (new ones are refused
by the quarantine book itself); revoke_tools and reduce_autonomy are enforced on its calls."""

import time

from ..actuate.base import APPLY_ACTION, QUARANTINE, Command, Outcome
from .errors import GateError, Refusal
from .policy import ACTIONS, REDUCE_AUTONOMY, Policy
from .server import Gate
from .settings import GateSettings


class GateActuator:
    """Carries out commands at the egress gate."""

    name = "gate"
    actions = ACTIONS

    def __init__(self, gate: Gate, policy: Policy, settings: GateSettings) -> None:
        self._gate, self._policy, self._settings = gate, policy, settings

    def apply(self, command: Command) -> Outcome:
        """Cut, restrict, or (release) nothing to do: the book lets calls through again."""
        if command.kind == QUARANTINE:
            return self._quarantine(command)
        if command.kind == APPLY_ACTION:
            return self._restrict(command)
        return Outcome(self.name, True, f"{command.agent_id}'s calls pass the gate again")

    def _quarantine(self, command: Command) -> Outcome:
        self._policy.note_incident(command.agent_id, command.incident_id)
        error = GateError(
            Refusal.QUARANTINED,
            f"agent {command.agent_id} was quarantined by Immune mid-call "
            f"(incident {command.incident_id or 'local'}: {command.reason})",
        )
        ended = self._gate.cut(command.agent_id, error)
        return Outcome(self.name, True, f"refusing its LLM and MCP calls; {ended} in flight ended")

    def _restrict(self, command: Command) -> Outcome:
        restriction = self._policy.restrict(command.agent_id, command.action)
        until = time.strftime("%H:%M:%S", time.gmtime(restriction.until))
        return Outcome(self.name, True, f"{self._describe(command.action)} until {until} UTC")

    def _describe(self, action: str) -> str:
        if action == REDUCE_AUTONOMY:
            a = self._settings.reduce_autonomy
            return (
                f"autonomy reduced: ≤ {a.max_output_tokens} output tokens a call, "
                f"≤ {a.requests_per_minute:g} LLM calls a minute, "
                f"tools stripped after {a.max_tool_rounds} tool rounds (0: no limit)"
            )
        tools = self._settings.revoke_tools.tools
        return "tools revoked: " + (", ".join(tools) if tools else "every tool")
