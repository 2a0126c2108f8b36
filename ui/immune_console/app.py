"""The console's pages, wired to one control through one client and one feed."""

import asyncio

from immune_sdk import AsyncClient
from nicegui import app, background_tasks, ui

from .agent_page import VITALS_SECONDS, AgentPage
from .config import ConsoleConfig
from .decide import Decisions
from .decisions_panel import DecisionsPanel, StatsBar
from .feed import Feed
from .fleet import STATS, FleetView
from .grid import AgentGrid
from .insights import Insights
from .shell import Header, follow
from .widgets import DecisionDialog


class Console:
    """Registers the pages; the client and feed start with the web server."""

    def __init__(self, config: ConsoleConfig) -> None:
        self.config = config
        self.operator = config.control.actor or "anonymous"
        self.view = FleetView()
        self.client: AsyncClient | None = None
        self.feed: Feed | None = None
        self.decisions: Decisions | None = None
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        """Open the channel to control and start following it."""
        self.client = AsyncClient(self.config.control)
        self.feed = Feed(self.client, self.view, self.config.feed)
        self.decisions = Decisions(self.client, self.feed)
        self._task = background_tasks.create(self.feed.run(), name="immune-feed")

    async def stop(self) -> None:
        """Stop following control and close the channel."""
        if self._task:
            self._task.cancel()
        if self.client:
            await self.client.close()

    def main_page(self) -> None:
        """The fleet at a glance, and every decision waiting for an operator."""
        ui.page_title("Immune")
        head = Header(self.view, self.operator)
        dialog = DecisionDialog(self.decisions)
        stats = StatsBar(self.view)
        panel = DecisionsPanel(self.view, dialog)
        grid = AgentGrid(self.view, dialog)
        insights = Insights(self.view, self.decisions)
        redraws = (panel.redraws(), grid.redraws(), insights.redraws())
        follow(self.view, {STATS: head.redraw}, {STATS: stats.redraw}, *redraws)

    async def agent_page(self, agent_id: str) -> None:
        """One agent in depth."""
        ui.page_title(f"Immune · {agent_id}")
        head = Header(self.view, self.operator, title=agent_id)
        follow(self.view, {STATS: head.redraw})
        page = AgentPage(self.client, self.view, DecisionDialog(self.decisions), agent_id)
        await page.reload_if_named()
        ui.timer(0.5, page.reload_if_named)
        ui.timer(VITALS_SECONDS, page.refresh_vitals)

    def serve(self) -> None:
        """Run the web server until interrupted."""
        app.on_startup(self.start)
        app.on_shutdown(self.stop)
        ui.page("/")(self.main_page)
        ui.page("/agent/{agent_id}")(self.agent_page)
        ui.run(
            host=self.config.host,
            port=self.config.port,
            title="Immune",
            favicon="🛡️",
            reload=False,
            show=False,
            show_welcome_message=False,
            reconnect_timeout=self.config.reconnect_seconds,
        )
