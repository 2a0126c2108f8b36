"""The agent grid: a card per agent, filtered and paged so a thousand agents stay quick."""

import math

from immune_sdk import names
from nicegui import ui

from .decide import APPROVE, HEAL, REJECT
from .fleet import AGENTS, PENDING, REJECTED, FleetView
from .shell import section
from .widgets import DecisionDialog, decision_button, status_badge, status_of

PAGE_SIZE = 48
NEEDS_DECISION = "needs a decision"
CHIPS_SHOWN = 4
# Tailwind border colours matching STATUS_COLOURS.
_BORDERS = {
    "learning": "border-l-gray-400",
    "healthy": "border-l-green-600",
    "quarantined": "border-l-red-700",
    "healing": "border-l-orange-600",
    "probation": "border-l-sky-600",
    "unreachable": "border-l-gray-800",
}


def matches(agent, query: str) -> bool:
    """Whether a search text occurs in the agent's id, name, model, provider, tools or servers."""
    if not query:
        return True
    fields = [agent.id, agent.name, agent.model, agent.provider, *agent.tools, *agent.mcp_servers]
    needle = query.lower()
    return any(needle in f.lower() for f in fields)


class AgentGrid:
    """Search box, status filter, pages of agent cards."""

    def __init__(self, view: FleetView, dialog: DecisionDialog) -> None:
        self.view, self.dialog = view, dialog
        statuses = ["all", NEEDS_DECISION, *names.names(names.STATUS)]
        with section("Agents") as self.box:
            with ui.row().classes("w-full items-center gap-2 flex-wrap"):
                self.search = ui.input(placeholder="search name, model, tool, server…")
                self.search.props("dense clearable debounce=250 maxlength=200").classes("grow")
                self.search.props["aria-label"] = "search agents"
                self.search.on_value_change(self._first_page)
                self.status = ui.select(statuses, value="all", on_change=self._first_page)
                self.status.props("dense options-dense").classes("min-w-40")
                self.status.props["aria-label"] = "filter by status"
            self.summary = ui.label().classes("text-sm text-grey-7")
            self.cards = ui.element("div").classes(
                "w-full grid grid-cols-1 sm:grid-cols-2 lg:grid-cols-3 xl:grid-cols-4 gap-2"
            )
            self.pages = ui.pagination(1, 1, direction_links=True, on_change=self.redraw)
            self.pages.props("max-pages=7 boundary-numbers")

    def redraws(self) -> dict:
        """Agents and decisions both change what the cards show."""
        return {AGENTS: self.redraw, PENDING: self.redraw, REJECTED: self.redraw}

    def _first_page(self) -> None:
        self.pages.set_value(1)
        self.redraw()

    def _shown(self) -> list:
        query, status = (self.search.value or "").strip(), self.status.value
        waiting = self._waiting()
        found = []
        for agent in self.view.agents.values():
            if status == NEEDS_DECISION and agent.open_incident_id not in waiting:
                continue
            if status not in ("all", NEEDS_DECISION) and status_of(agent) != status:
                continue
            if matches(agent, query):
                found.append(agent)
        return sorted(found, key=lambda a: (a.name, a.id))

    def _waiting(self) -> dict[str, str]:
        """Open incident id → the verbs its card offers."""
        waiting = {i.id: (APPROVE, REJECT) for i in self.view.pending}
        waiting.update({i.id: (HEAL,) for i in self.view.rejected})
        return waiting

    def redraw(self) -> None:
        """Draw the current page of the filtered agents."""
        shown = self._shown()
        last = max(1, math.ceil(len(shown) / PAGE_SIZE))
        self.pages.max = last
        self.pages.set_value(min(self.pages.value or 1, last))
        self.pages.set_visibility(last > 1)
        start = (self.pages.value - 1) * PAGE_SIZE
        total = len(self.view.agents)
        self.box.set_text(f"Agents ({total:,})")
        self.summary.set_text(f"{len(shown):,} of {total:,} agents match")
        waiting = self._waiting()
        self.cards.clear()
        with self.cards:
            for agent in shown[start : start + PAGE_SIZE]:
                self._card(agent, waiting.get(agent.open_incident_id, ()))

    def _card(self, agent, verbs: tuple) -> None:
        status = status_of(agent)
        card = ui.card().tight().classes(f"p-2 gap-1 border-l-4 {_BORDERS.get(status, '')}")
        card.props["aria-label"] = f"agent {agent.name}"
        with card:
            with ui.row().classes("w-full items-center no-wrap gap-1"):
                ui.link(agent.name or agent.id, f"/agent/{agent.id}").classes(
                    "font-medium truncate"
                )
                ui.space()
                status_badge(status)
            ui.label(" · ".join(p for p in (agent.model, agent.provider) if p) or "model unknown")
            _chips(agent.mcp_servers, "dns", "MCP servers")
            _chips(agent.tools, "build", "tools")
            if verbs:
                with ui.row().classes("gap-1"):
                    for verb in verbs:
                        decision_button(self.dialog, verb, agent.open_incident_id, agent.name)


def _chips(values, icon: str, what: str) -> None:
    if not values:
        return
    with ui.row().classes("gap-1 items-center text-xs text-grey-8"):
        ui.icon(icon).props(f'aria-label="{what}"')
        shown = list(values)[:CHIPS_SHOWN]
        more = len(values) - len(shown)
        ui.label(", ".join(shown) + (f" +{more}" if more > 0 else "")).classes("truncate")
