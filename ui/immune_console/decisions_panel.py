"""Header figures, and the incidents that wait for an operator: pending and rejected."""

from nicegui import ui

from .decide import APPROVE, HEAL, REJECT
from .fleet import PENDING, REJECTED, STATS, FleetView
from .shell import section
from .widgets import (
    DecisionDialog,
    anomalies_text,
    clock,
    decision_button,
    diagnosis_of,
    since,
    state_of,
    status_badge,
    words,
)

FIGURES = (
    ("agents", lambda s: f"{s.agents_total:,}"),
    ("samples", lambda s: f"{s.samples_total:,}"),
    ("infections", lambda s: f"{s.infections_total:,}"),
    ("healed", lambda s: f"{s.healed_total:,}"),
    ("success rate", lambda s: f"{s.success_rate:.0%}"),
    ("pending", lambda s: f"{s.pending_approvals:,}"),
    ("rejected", lambda s: f"{s.rejected:,}"),
    ("sidecars", lambda s: f"{s.sidecars_connected:,}"),
    ("uptime", lambda s: since(s.uptime)),
)
ROWS_SHOWN = 100


class StatsBar:
    """The fleet's figures, updated in place."""

    def __init__(self, view: FleetView) -> None:
        self.view = view
        self.values: dict[str, ui.label] = {}
        with ui.element("div").classes(
            "w-full grid grid-cols-3 sm:grid-cols-5 lg:grid-cols-9 gap-2"
        ):
            for name, _ in FIGURES:
                with ui.card().tight().classes("p-2 items-center"):
                    self.values[name] = ui.label("–").classes("text-xl font-bold")
                    self.values[name].props["aria-label"] = name
                    ui.label(name).classes("text-xs text-grey-7")

    def redraw(self) -> None:
        """Show the latest figures."""
        if self.view.stats is None:
            return
        for name, show in FIGURES:
            self.values[name].set_text(show(self.view.stats))


class DecisionsPanel:
    """Pending approvals (approve / reject, one or all) and rejected healings (heal now / all)."""

    def __init__(self, view: FleetView, dialog: DecisionDialog) -> None:
        self.view, self.dialog = view, dialog
        with section("Pending approvals") as self.pending_box:
            with ui.row().classes("gap-2"):
                self._bulk(APPROVE, "pending healing", lambda: len(view.pending))
                self._bulk(REJECT, "pending healing", lambda: len(view.pending))
            self.pending_rows = ui.column().classes("w-full gap-1")
        with section("Rejected healings") as self.rejected_box:
            self._bulk(HEAL, "rejected healing", lambda: len(view.rejected))
            self.rejected_rows = ui.column().classes("w-full gap-1")

    def redraws(self) -> dict:
        """The redraw of each section this panel shows."""
        return {PENDING: self.redraw_pending, REJECTED: self.redraw_rejected, STATS: self._titles}

    def _bulk(self, verb: str, what: str, count) -> None:
        label = {APPROVE: "Approve all", REJECT: "Reject all", HEAL: "Heal all"}[verb]
        colour = {APPROVE: "positive", REJECT: "negative", HEAL: "primary"}[verb]
        button = ui.button(
            label, color=colour, on_click=lambda: self.dialog.all(verb, count(), what)
        )
        button.props("outline no-caps dense")
        button.props["aria-label"] = label

    def redraw_pending(self) -> None:
        """Rows for the pending incidents."""
        self._rows(self.pending_rows, self.view.pending, (APPROVE, REJECT), "No approvals waiting.")
        self._titles()

    def redraw_rejected(self) -> None:
        """Rows for the rejected, expired and exhausted incidents."""
        self._rows(self.rejected_rows, self.view.rejected, (HEAL,), "Nothing rejected.")
        self._titles()

    def _titles(self) -> None:
        self.pending_box.set_text(f"Pending approvals ({len(self.view.pending)})")
        self.rejected_box.set_text(f"Rejected healings ({len(self.view.rejected)})")

    def _rows(self, column: ui.column, incidents: list, verbs: tuple, empty: str) -> None:
        column.clear()
        with column:
            if not incidents:
                ui.label(empty).classes("text-grey-7")
            for incident in incidents[:ROWS_SHOWN]:
                self._row(incident, verbs)
            if len(incidents) > ROWS_SHOWN:
                ui.label(f"… and {len(incidents) - ROWS_SHOWN} more (use the bulk buttons)")

    def _row(self, incident, verbs: tuple) -> None:
        agent = self.view.agents.get(incident.agent_id)
        name = agent.name if agent else incident.agent_id
        with ui.row().classes("w-full items-center gap-2 border-b py-1 flex-wrap"):
            ui.link(name, f"/agent/{incident.agent_id}").classes("font-medium min-w-32")
            status_badge(state_of(incident))
            ui.label(words(diagnosis_of(incident))).classes("text-sm")
            ui.label(f"severity {incident.severity:.2f}").classes("text-sm text-grey-8")
            ui.label(anomalies_text(incident)).classes("text-sm text-grey-8 grow")
            if incident.approval_expire_time.seconds:
                ui.label(f"expires {clock(incident.approval_expire_time)}").classes("text-xs")
            for verb in verbs:
                decision_button(self.dialog, verb, incident.id, name)
