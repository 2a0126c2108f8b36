"""The operator's decisions, sent to control with the operator's identity and reason."""

import dataclasses

from immune_sdk import AsyncClient, ImmuneError, names

from .feed import Feed
from .fleet import ACTIONS, AGENTS, AUDIT, PENDING, POLICIES, REJECTED, STATS

APPROVE, REJECT, HEAL = "approve", "reject", "heal"
VERBS = (APPROVE, REJECT, HEAL)
# What a decision changes on the page; reloaded at once rather than on the next event.
_CHANGED = (STATS, AGENTS, PENDING, REJECTED, ACTIONS, AUDIT)


@dataclasses.dataclass(frozen=True)
class Outcome:
    """What a decision came to, in words for a notification."""

    ok: bool
    message: str


class Decisions:
    """Approve, reject and heal, one incident or all of them."""

    def __init__(self, client: AsyncClient, feed: Feed) -> None:
        self.client, self.feed = client, feed
        self._one = {APPROVE: client.approve, REJECT: client.reject, HEAL: client.heal_now}
        self._all = {APPROVE: client.approve_all, REJECT: client.reject_all, HEAL: client.heal_all}

    async def one(self, verb: str, incident_id: str, reason: str) -> Outcome:
        """Decide one incident."""
        try:
            incident = await self._one[verb](incident_id, reason=reason)
        except ImmuneError as exc:
            return Outcome(False, f"{verb} refused ({exc.code.name}): {exc.message}")
        finally:
            self.feed.mark(*_CHANGED)
        state = names.name(names.STATE, incident.state)
        return Outcome(True, f"{incident.agent_id}: {state.replace('_', ' ')}")

    async def all(self, verb: str, reason: str) -> Outcome:
        """Decide every incident waiting for this verb."""
        try:
            results = await self._all[verb](reason=reason)
        except ImmuneError as exc:
            return Outcome(False, f"{verb} all refused ({exc.code.name}): {exc.message}")
        finally:
            self.feed.mark(*_CHANGED)
        failed = [r for r in results if not r.ok]
        done = f"{verb}: {len(results) - len(failed)} of {len(results)} done"
        if failed:
            return Outcome(False, f"{done}; first refusal: {failed[0].message}")
        return Outcome(True, done)

    async def set_policy(self, diagnosis: str, actions: list[str], reason: str) -> Outcome:
        """Replace the healing ladder of one diagnosis."""
        try:
            policy = await self.client.upsert_policy(diagnosis, actions, reason=reason)
        except (ImmuneError, ValueError) as exc:
            return Outcome(False, f"policy refused: {getattr(exc, 'message', exc)}")
        finally:
            self.feed.mark(POLICIES, AUDIT)
        ladder = " → ".join(names.name(names.ACTION, a) for a in policy.actions)
        return Outcome(True, f"{diagnosis}: {ladder}")
