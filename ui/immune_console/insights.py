"""What the fleet did and learned: recent healing actions, learned patterns, policies, events."""

from immune_sdk import names
from nicegui import ui

from .charts import patterns_chart
from .decide import Decisions
from .fleet import ACTIONS, EVENTS, MEMORY, POLICIES, FleetView
from .shell import section
from .widgets import clock, words

OUTCOME_ICONS = {
    "succeeded": ("check_circle", "positive"),
    "failed": ("error", "negative"),
    "reinfected": ("replay", "negative"),
    "timed_out": ("timer_off", "negative"),
    "applied": ("hourglass_top", "info"),
    "pending": ("schedule", "grey-7"),
    "cancelled": ("block", "grey-7"),
}
TRIGGER_WORDS = {
    "auto": "auto",
    "approval": "after approval",
    "heal_now": "heal now",
    "expiry": "on expiry",
}
EVENTS_SHOWN = 30
MEMORY_COLUMNS = [
    {
        "name": "diagnosis",
        "label": "Diagnosis",
        "field": "diagnosis",
        "sortable": True,
        "align": "left",
    },
    {"name": "action", "label": "Action", "field": "action", "sortable": True, "align": "left"},
    {"name": "attempts", "label": "Attempts", "field": "attempts", "sortable": True},
    {"name": "successes", "label": "Successes", "field": "successes", "sortable": True},
    {"name": "rate", "label": "Success rate", "field": "rate", "sortable": True},
]


def memory_rows(entries) -> list[dict]:
    """Immune memory entries as table rows."""
    return [
        {
            "key": f"{e.agent_id}/{e.diagnosis}/{e.action}",
            "diagnosis": words(names.name(names.DIAGNOSIS, e.diagnosis)),
            "action": words(names.name(names.ACTION, e.action)),
            "attempts": e.attempts,
            "successes": e.successes,
            "rate": f"{e.success_rate:.0%}",
        }
        for e in entries
    ]


def action_line(action) -> tuple[str, str, str]:
    """Title, subtitle and body of one healing action on a timeline."""
    outcome = names.name(names.OUTCOME, action.outcome)
    trigger = TRIGGER_WORDS.get(names.name(names.TRIGGER, action.trigger), "")
    title = f"{words(names.name(names.ACTION, action.action))} → {words(outcome)}"
    subtitle = f"{clock(action.start_time)} · {trigger} · {action.actor or 'system'}"
    body = f"{action.agent_id} · {words(names.name(names.DIAGNOSIS, action.diagnosis))}"
    return title, subtitle, body + (f" · {action.detail}" if action.detail else "")


class Insights:
    """The lower half of the main page."""

    def __init__(self, view: FleetView, decisions: Decisions) -> None:
        self.view, self.decisions = view, decisions
        with section("Recent healing actions"):
            self.actions = ui.column().classes("w-full")
        grid = "w-full grid grid-cols-1 lg:grid-cols-2 gap-2"
        with section("Learned healing patterns"), ui.element("div").classes(grid):
            self.memory = ui.table(columns=MEMORY_COLUMNS, rows=[], row_key="key")
            self.memory.props("dense flat").classes("w-full")
            self.chart = ui.echart(patterns_chart([])).classes("w-full h-72")
        with section("Policies"):
            self.policies = ui.column().classes("w-full gap-1")
        with section("Live events"):
            self.events = ui.column().classes("w-full gap-0 text-sm font-mono")

    def redraws(self) -> dict:
        """The redraw of each section shown here."""
        return {
            ACTIONS: self.redraw_actions,
            MEMORY: self.redraw_memory,
            POLICIES: self.redraw_policies,
            EVENTS: self.redraw_events,
        }

    def redraw_actions(self) -> None:
        """A timeline of the newest healing actions."""
        self.actions.clear()
        with self.actions:
            if not self.view.actions:
                ui.label("No healing actions yet.").classes("text-grey-7")
                return
            with ui.timeline(side="right").props("dense").classes("w-full"):
                for action in self.view.actions:
                    title, subtitle, body = action_line(action)
                    icon, colour = OUTCOME_ICONS.get(
                        names.name(names.OUTCOME, action.outcome), ("help", "grey-7")
                    )
                    ui.timeline_entry(body, title=title, subtitle=subtitle, icon=icon, color=colour)

    def redraw_memory(self) -> None:
        """The fleet's success rate per diagnosis and action."""
        self.memory.rows = memory_rows(self.view.memory)
        self.chart.options.clear()
        self.chart.options.update(patterns_chart(self.view.memory))
        self.chart.update()

    def redraw_policies(self) -> None:
        """Each diagnosis's ladder, with an editor."""
        self.policies.clear()
        with self.policies:
            for policy in self.view.policies:
                diagnosis = names.name(names.DIAGNOSIS, policy.diagnosis)
                ladder = [names.name(names.ACTION, a) for a in policy.actions]
                with ui.row().classes("w-full items-center gap-2 border-b py-1 flex-wrap"):
                    ui.label(words(diagnosis)).classes("font-medium min-w-40")
                    ui.label(" → ".join(words(a) for a in ladder)).classes("grow text-sm")
                    by = f"{policy.update_actor} {clock(policy.update_time)}".strip()
                    ui.label(by).classes("text-xs text-grey-7")
                    edit = ui.button(
                        "Edit", on_click=lambda d=diagnosis, lad=ladder: self._edit(d, lad)
                    )
                    edit.props("dense flat no-caps size=sm")
                    edit.props["aria-label"] = f"Edit policy {diagnosis}"

    async def _edit(self, diagnosis: str, ladder: list[str]) -> None:
        with ui.dialog() as dialog, ui.card().classes("w-[32rem] max-w-full"):
            ui.label(f"Healing ladder for {words(diagnosis)}").classes("text-base font-medium")
            ui.label("Actions are tried in the order chosen.").classes("text-sm text-grey-7")
            chosen = ui.select(names.names(names.ACTION), multiple=True, value=ladder)
            chosen.props("use-chips").classes("w-full")
            reason = ui.input("Reason").props("maxlength=500").classes("w-full")
            with ui.row().classes("w-full justify-end"):
                ui.button("Cancel", on_click=lambda: dialog.submit(None)).props("flat")
                ui.button("Save", on_click=lambda: dialog.submit((chosen.value, reason.value)))
        result = await dialog
        dialog.delete()
        if result is not None:
            outcome = await self.decisions.set_policy(diagnosis, list(result[0]), result[1] or "")
            ui.notify(outcome.message, type="positive" if outcome.ok else "negative")

    def redraw_events(self) -> None:
        """The newest events, as they stream in."""
        self.events.clear()
        with self.events:
            for event in list(self.view.events)[:EVENTS_SHOWN]:
                who = f" by {event.actor}" if event.actor and event.actor != "system" else ""
                ui.label(
                    f"{clock(event.time)} {event.kind} {event.agent_id}{who} — {event.message}"
                )
