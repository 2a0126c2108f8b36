"""Keeps a FleetView current: follows WatchEvents and reloads only what each event made stale."""

import asyncio
import dataclasses

from immune_sdk import AsyncClient, ImmuneError, NotFound

from .fleet import (
    ACTIONS,
    AGENTS,
    AUDIT,
    EVENTS,
    MEMORY,
    PENDING,
    POLICIES,
    REJECTED,
    SECTIONS,
    STATS,
    FleetView,
    stale_sections,
)

PENDING_STATES = ("pending_approval",)
# Incidents that wait for a human to heal them.
REJECTED_STATES = ("rejected", "expired", "exhausted")
# Events shown when the console first connects.
BACKFILL_EVENTS = 50
# Above this many agents named by a burst of events, one full list is cheaper.
TARGETED_AGENTS = 20


@dataclasses.dataclass(frozen=True)
class FeedSettings:
    """How the feed paces itself."""

    # Gathers a burst of events into one reload.
    coalesce_seconds: float = 0.2
    # Counters that change without events (samples, uptime, learning → healthy).
    tick_seconds: float = 5.0
    min_backoff_seconds: float = 0.5
    max_backoff_seconds: float = 5.0
    actions_shown: int = 50
    audit_shown: int = 50


class Feed:
    """Two loops on the console's event loop: one watches events, one reloads stale sections."""

    def __init__(self, client: AsyncClient, view: FleetView, settings: FeedSettings) -> None:
        self.client, self.view, self.settings = client, view, settings
        self._stale: set[str] = set()
        self._stale_agents: set[str] = set()
        self._wake = asyncio.Event()
        self._last_sequence = 0
        self._loaders = {
            STATS: self._load_stats,
            AGENTS: self._load_agents,
            PENDING: self._load_pending,
            REJECTED: self._load_rejected,
            ACTIONS: self._load_actions,
            MEMORY: self._load_memory,
            POLICIES: self._load_policies,
            AUDIT: self._load_audit,
            EVENTS: _nothing,
        }

    async def run(self) -> None:
        """Run until cancelled."""
        await asyncio.gather(self._watch_forever(), self._reload_forever(), self._tick_forever())

    def mark(self, *sections: str, agent_id: str = "") -> None:
        """Ask for a reload of sections (and of one agent) soon."""
        self._stale.update(sections)
        if agent_id:
            self._stale_agents.add(agent_id)
        self._wake.set()

    async def _watch_forever(self) -> None:
        delay = self.settings.min_backoff_seconds
        while True:
            try:
                await self._watch()
            except ImmuneError as exc:
                self.view.set_connected(False, f"control unreachable: {exc.message}")
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.settings.max_backoff_seconds)
            if self.view.connected:
                delay = self.settings.min_backoff_seconds

    async def _watch(self) -> None:
        stats = await self.client.stats()
        self.view.set_connected(True)
        self.mark(*SECTIONS)
        start = self._last_sequence or max(0, stats.last_event_sequence - BACKFILL_EVENTS)
        async for event in self.client.watch(after_sequence=start):
            self._last_sequence = event.sequence
            self.view.record(event)
            self.mark(*stale_sections(event.kind), agent_id=event.agent_id)

    async def _reload_forever(self) -> None:
        while True:
            await self._wake.wait()
            await asyncio.sleep(self.settings.coalesce_seconds)
            self._wake.clear()
            stale, self._stale = self._stale, set()
            agents, self._stale_agents = self._stale_agents, set()
            try:
                await self._reload(stale, agents)
            except ImmuneError as exc:
                self.view.set_connected(False, f"control unreachable: {exc.message}")

    async def _reload(self, stale: set[str], agents: set[str]) -> None:
        if AGENTS in stale and agents and len(agents) <= TARGETED_AGENTS:
            stale.discard(AGENTS)
            await self._load_some_agents(agents)
        for section in sorted(stale):
            await self._loaders[section]()
            self.view.changed(section)

    async def _tick_forever(self) -> None:
        while True:
            await asyncio.sleep(self.settings.tick_seconds)
            if self.view.connected:
                self._stale.update((STATS, AGENTS))
                self._wake.set()

    async def _load_stats(self) -> None:
        self.view.stats = await self.client.stats()

    async def _load_agents(self) -> None:
        found, token = [], ""
        while True:
            page = await self.client.agents_page(page_token=token)
            found.extend(page.agents)
            token = page.next_page_token
            if not token:
                break
        self.view.put_agents(found, replace=True)

    async def _load_some_agents(self, agent_ids: set[str]) -> None:
        found = []
        for agent_id in agent_ids:
            try:
                found.append((await self.client.agent(agent_id, sample_limit=1)).agent)
            except NotFound:
                continue
        self.view.put_agents(found)

    async def _load_pending(self) -> None:
        self.view.pending = await self.client.incidents(states=PENDING_STATES, page_size=1000)

    async def _load_rejected(self) -> None:
        self.view.rejected = await self.client.incidents(states=REJECTED_STATES, page_size=1000)

    async def _load_actions(self) -> None:
        self.view.actions = await self.client.healing_log(page_size=self.settings.actions_shown)

    async def _load_memory(self) -> None:
        self.view.memory = list((await self.client.memory()).fleet)

    async def _load_policies(self) -> None:
        self.view.policies = await self.client.policies()

    async def _load_audit(self) -> None:
        self.view.audit = await self.client.audit(page_size=self.settings.audit_shown)


async def _nothing() -> None:
    """Events arrive on the stream; nothing to load."""
