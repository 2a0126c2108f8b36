"""Who may call what through the gate now: the quarantine book says who is held, and the
healing actions the gate applied say what the others may do, each until its time is up."""

import dataclasses
import threading
from collections.abc import Callable

from immune_common.ratelimit import TokenBucket

from ..quarantine import QUARANTINED, QuarantineBook
from .errors import GateError, Refusal
from .settings import GateSettings
from .tools import NONE, Rules

REVOKE_TOOLS, REDUCE_AUTONOMY = "revoke_tools", "reduce_autonomy"
ACTIONS = frozenset({REVOKE_TOOLS, REDUCE_AUTONOMY})
BURST_SECONDS = 10.0  # a rate cap lets this many seconds' worth of calls through at once


@dataclasses.dataclass(frozen=True)
class Restriction:
    """A healing action the gate enforces on one agent from ``since`` until ``until``."""

    action: str
    since: float
    until: float

    def active(self, now: float) -> bool:
        """Whether it is in force at ``now``."""
        return self.since <= now < self.until


class Policy:
    """Decides each call: refused (quarantine, rate cap) or allowed under some rules."""

    def __init__(self, book: QuarantineBook, settings: GateSettings, clock: Callable[[], float]):
        self._book, self._settings, self._clock = book, settings, clock
        self._restrictions: dict[str, dict[str, Restriction]] = {}
        self._buckets: dict[str, TokenBucket] = {}
        self._incidents: dict[str, str] = {}  # agent → the incident its quarantine named
        self._lock = threading.Lock()

    def rules(self, agent_id: str) -> Rules:
        """What applies to the agent's next call; GateError when it is quarantined."""
        now = self._clock()
        if self._book.state(agent_id, now) == QUARANTINED:
            raise GateError(Refusal.QUARANTINED, self._held_message(agent_id))
        held = self._restrictions.get(agent_id)
        if not held:
            return NONE
        active = {a for a, r in held.items() if r.active(now)}
        return Rules(
            self._settings.revoke_tools if REVOKE_TOOLS in active else None,
            self._settings.reduce_autonomy if REDUCE_AUTONOMY in active else None,
        )

    def admit(self, agent_id: str, rules: Rules) -> None:
        """Spend one LLM call of the agent's rate cap; GateError (with the wait) beyond it."""
        limits = rules.autonomy
        if limits is None or limits.requests_per_minute <= 0:
            return
        bucket = self._buckets.get(agent_id)
        if bucket is None:
            rate = limits.requests_per_minute / 60.0
            bucket = self._buckets[agent_id] = TokenBucket(rate, max(1.0, rate * BURST_SECONDS))
        wait = bucket.take()
        if wait:
            raise GateError(
                Refusal.RATE_LIMITED,
                f"agent {agent_id} is limited to {limits.requests_per_minute:g} LLM calls a "
                "minute while its autonomy is reduced",
                wait,
            )

    def restrict(self, agent_id: str, action: str) -> Restriction:
        """Put ``action`` in force on the agent for ``restriction_seconds`` from now."""
        now = self._clock()
        restriction = Restriction(action, now, now + self._settings.restriction_seconds)
        with self._lock:
            held = dict(self._restrictions.get(agent_id, {}))
            held[action] = restriction
            self._restrictions[agent_id] = held  # replaced whole: readers take no lock
            if action == REDUCE_AUTONOMY:
                self._buckets.pop(agent_id, None)
        return restriction

    def note_incident(self, agent_id: str, incident_id: str) -> None:
        """Remember the incident a quarantine command named (refusals name it)."""
        if incident_id:
            self._incidents[agent_id] = incident_id

    def _held_message(self, agent_id: str) -> str:
        ejection = self._book.get(agent_id)
        reason = ejection.reason if ejection else "quarantined"
        incident = self._incidents.get(agent_id) or (ejection.infection_id if ejection else "")
        return (
            f"agent {agent_id} is quarantined by Immune (incident {incident or 'unknown'}: "
            f"{reason}); its LLM and tool calls are refused until it is released"
        )
