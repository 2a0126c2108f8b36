"""The console's pages, wired to one control through one client and one feed."""

import asyncio

from fastapi.responses import RedirectResponse
from immune_sdk import AsyncClient
from nicegui import app, background_tasks, ui
from nicegui.server import Server

from .agent_page import VITALS_SECONDS, AgentPage
from .audit import AuditLog
from .certs import CertificateWatch
from .config import ConsoleConfig
from .decide import Decisions
from .decisions_panel import DecisionsPanel, StatsBar
from .feed import Feed
from .fleet import STATS, FleetView
from .grid import AgentGrid
from .guard import BrowserGuard, allowed_hosts
from .insights import Insights
from .login import login_form
from .sessions import Session, Sessions, new_browser_secret
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
        self.sessions = Sessions(config.control, config.session_seconds) if config.login else None
        self._tasks: list[asyncio.Task] = []

    async def start(self) -> None:
        """Open the channel to control and start following it."""
        self.client = AsyncClient(self.config.control)
        self.feed = Feed(self.client, self.view, self.config.feed)
        self.decisions = Decisions(self.client, self.feed)
        self._tasks.append(background_tasks.create(self.feed.run(), name="immune-feed"))
        if self.config.tls_cert_file:
            watch = CertificateWatch(self.config.tls_cert_file, self.config.tls_key_file)
            served = lambda: Server.instance.config.ssl  # noqa: E731 - read when checked
            self._tasks.append(background_tasks.create(watch.run(served), name="immune-certs"))

    async def stop(self) -> None:
        """Stop following control and close the channel."""
        for task in self._tasks:
            task.cancel()
        if self.client:
            await self.client.close()

    def main_page(self):
        """The fleet at a glance, and every decision waiting for an operator."""
        session = self._session()
        if self.sessions and session is None:
            return RedirectResponse("/login")
        ui.page_title("Immune")
        head = self._header(session)
        dialog = self._dialog(session)
        stats = StatsBar(self.view)
        panel = DecisionsPanel(self.view, dialog)
        grid = AgentGrid(self.view, dialog)
        insights = Insights(self.view, dialog.decisions)
        audit = AuditLog(self.view)
        redraws = (panel.redraws(), grid.redraws(), insights.redraws(), audit.redraws())
        follow(self.view, {STATS: head.redraw}, {STATS: stats.redraw}, *redraws)

    async def agent_page(self, agent_id: str):
        """One agent in depth."""
        session = self._session()
        if self.sessions and session is None:
            return RedirectResponse("/login")
        ui.page_title(f"Immune · {agent_id}")
        head = self._header(session, title=agent_id)
        follow(self.view, {STATS: head.redraw})
        page = AgentPage(self.client, self.view, self._dialog(session), agent_id)
        await page.reload_if_named()
        ui.timer(0.5, page.reload_if_named)
        ui.timer(VITALS_SECONDS, page.refresh_vitals)

    async def login_page(self):
        """Sign in with an API token; back to the fleet once control accepts it."""
        if self.sessions is None:
            return RedirectResponse("/")
        ui.page_title("Immune · sign in")
        login_form(lambda token: self.sessions.sign_in(_browser_id(), token))

    async def logout(self):
        """End this browser's session."""
        if self.sessions is not None:
            await self.sessions.sign_out(_browser_id())
        return RedirectResponse("/login" if self.sessions else "/")

    def _session(self) -> Session | None:
        return self.sessions.get(_browser_id()) if self.sessions else None

    def _header(self, session: Session | None, title: str = "") -> Header:
        if session is None:
            return Header(self.view, f"operator: {self.operator}", title=title)
        return Header(self.view, f"{session.actor} ({session.role})", title=title, sign_out=True)

    def _dialog(self, session: Session | None) -> DecisionDialog:
        if session is None:
            return DecisionDialog(self.decisions)
        decisions = Decisions(session.client, self.feed)
        refusal = "" if session.may_decide else f"{session.actor} is a {session.role}: "
        return DecisionDialog(decisions, refusal and refusal + "decisions need the operator role")

    def serve(self) -> None:
        """Run the web server until interrupted."""
        app.on_startup(self.start)
        app.on_shutdown(self.stop)
        ui.page("/")(self.main_page)
        ui.page("/agent/{agent_id}")(self.agent_page)
        ui.page("/login")(self.login_page)
        ui.page("/logout")(self.logout)
        tls = bool(self.config.tls_cert_file)
        app.add_middleware(
            BrowserGuard, hosts=allowed_hosts(self.config.host, self.config.allowed_hosts)
        )
        ui.run(
            host=self.config.host,
            port=self.config.port,
            title="Immune",
            favicon="🛡️",
            reload=False,
            show=False,
            show_welcome_message=False,
            reconnect_timeout=self.config.reconnect_seconds,
            storage_secret=new_browser_secret(),
            session_middleware_kwargs={"https_only": tls, "same_site": "strict"},
            **(
                {"ssl_certfile": self.config.tls_cert_file, "ssl_keyfile": self.config.tls_key_file}
                if tls
                else {}
            ),
        )


def _browser_id() -> str:
    """This browser's id, which NiceGUI keeps in its signed session cookie."""
    return app.storage.browser["id"]
