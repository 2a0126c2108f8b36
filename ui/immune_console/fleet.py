"""What the console knows about the fleet, shared by every open page.

The feed fills it from control; pages read it and redraw a section when that
section's version moves. Events name which sections they make stale.
"""

import collections
import dataclasses
from collections.abc import Iterable
from typing import Any

STATS, AGENTS, PENDING, REJECTED, ACTIONS, MEMORY, POLICIES, EVENTS, AUDIT = (
    "stats",
    "agents",
    "pending",
    "rejected",
    "actions",
    "memory",
    "policies",
    "events",
    "audit",
)
SECTIONS = (STATS, AGENTS, PENDING, REJECTED, ACTIONS, MEMORY, POLICIES, EVENTS, AUDIT)
# Incident transitions change the decision lists and the agent's status (and people's
# decisions and automatic steps are audited).
_INCIDENT = (STATS, AGENTS, PENDING, REJECTED, AUDIT)
# By the first part of an event kind ("action.applied" → "action").
_STALE = {
    "incident": _INCIDENT,
    "approval": _INCIDENT,
    "healing": (*_INCIDENT, ACTIONS),
    "diagnosis": _INCIDENT,
    "fleet": _INCIDENT,
    "quarantine": _INCIDENT,
    "infection": (STATS,),
    "action": (STATS, AGENTS, ACTIONS, MEMORY, REJECTED),
    "feedback": (STATS, MEMORY, PENDING, REJECTED, AUDIT),
    "policy": (POLICIES, AUDIT),
}
RECENT_EVENTS = 200


def stale_sections(kind: str) -> tuple[str, ...]:
    """The sections an event of this kind makes stale; all of them for unknown kinds."""
    return _STALE.get(kind.split(".", 1)[0], SECTIONS)


@dataclasses.dataclass
class FleetView:
    """The console's copy of control's state, with a version per section."""

    stats: Any = None
    agents: dict[str, Any] = dataclasses.field(default_factory=dict)
    pending: list = dataclasses.field(default_factory=list)
    rejected: list = dataclasses.field(default_factory=list)
    actions: list = dataclasses.field(default_factory=list)
    memory: list = dataclasses.field(default_factory=list)
    policies: list = dataclasses.field(default_factory=list)
    audit: list = dataclasses.field(default_factory=list)
    events: collections.deque = dataclasses.field(
        default_factory=lambda: collections.deque(maxlen=RECENT_EVENTS)
    )
    connected: bool = False
    problem: str = "connecting to control…"
    versions: collections.Counter = dataclasses.field(default_factory=collections.Counter)
    # Bumped for an agent whenever an event names it: its page reloads.
    agent_versions: collections.Counter = dataclasses.field(default_factory=collections.Counter)

    def changed(self, *sections: str) -> None:
        """Mark sections as redrawn-worthy."""
        for section in sections:
            self.versions[section] += 1

    def record(self, event) -> None:
        """Keep a streamed event and note which agent it concerns."""
        self.events.appendleft(event)
        if event.agent_id:
            self.agent_versions[event.agent_id] += 1
        self.changed(EVENTS)

    def put_agents(self, agents: Iterable[Any], replace: bool = False) -> None:
        """Store agents by id; ``replace`` drops the ones not given."""
        fresh = {a.id: a for a in agents}
        self.agents = fresh if replace else {**self.agents, **fresh}
        self.changed(AGENTS)

    def set_connected(self, connected: bool, problem: str = "") -> None:
        """Record whether control answers, and why not."""
        if (connected, problem) != (self.connected, self.problem):
            self.connected, self.problem = connected, problem
            self.changed(STATS)
