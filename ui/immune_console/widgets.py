"""Small pieces every page uses: status colours, text helpers, the decision dialog."""

import datetime

from immune_sdk import names
from nicegui import ui

from .decide import APPROVE, HEAL, REJECT, Decisions

STATUS_COLOURS = {
    "learning": "grey-6",
    "healthy": "positive",
    "quarantined": "negative",
    "healing": "orange-8",
    "probation": "info",
    "unreachable": "grey-9",
}
STATE_COLOURS = {
    "pending_approval": "warning",
    "rejected": "negative",
    "expired": "negative",
    "exhausted": "negative",
    "healing": "orange-8",
    "probation": "info",
    "healed": "positive",
}
BUTTONS = {
    APPROVE: ("Approve", "positive"),
    REJECT: ("Reject", "negative"),
    HEAL: ("Heal now", "primary"),
}
MAX_REASON = 500


def status_of(agent) -> str:
    """An agent's status as a short name."""
    return names.name(names.STATUS, agent.status) or "unknown"


def state_of(incident) -> str:
    """An incident's state as a short name."""
    return names.name(names.STATE, incident.state) or "unknown"


def diagnosis_of(incident) -> str:
    """The diagnosis healing works on, as a short name."""
    return names.name(names.DIAGNOSIS, incident.diagnosis) or "undiagnosed"


def words(short: str) -> str:
    """'pending_approval' → 'pending approval'."""
    return short.replace("_", " ")


def clock(ts) -> str:
    """A timestamp as local wall-clock time ('' when unset)."""
    if not ts.seconds:
        return ""
    return datetime.datetime.fromtimestamp(ts.seconds).strftime("%H:%M:%S")


def since(duration) -> str:
    """A protobuf Duration as '3h 12m' or '45s'."""
    seconds = int(duration.seconds)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}h {rest // 60}m" if hours else f"{rest // 60}m {rest % 60}s"


def status_badge(short: str) -> ui.badge:
    """A badge in the status's colour."""
    colour = STATUS_COLOURS.get(short) or STATE_COLOURS.get(short, "grey-7")
    return ui.badge(words(short), color=colour)


def anomalies_text(incident) -> str:
    """'tool_explosion 12.0σ, latency_spike 4.1σ'."""
    return ", ".join(
        f"{names.name(names.ANOMALY, a.type) or a.vital} {a.sigma:.1f}σ" for a in incident.anomalies
    )


class DecisionDialog:
    """One dialog per page: asks for confirmation and a reason, then sends the decision."""

    def __init__(self, decisions: Decisions, refusal: str = "") -> None:
        self.decisions = decisions
        # Why this operator may not decide ('' when they may): said instead of asking.
        self.refusal = refusal
        # Persistent: a stray click beside it must not drop a decision half made.
        with ui.dialog().props("persistent") as self.dialog, ui.card().classes("w-96 max-w-full"):
            self.question = ui.label().classes("text-base font-medium")
            self.reason = ui.input("Reason (recorded in the audit log)").props(
                f"maxlength={MAX_REASON} counter autofocus"
            )
            self.reason.classes("w-full").on("keydown.enter", self._confirm)
            with ui.row().classes("w-full justify-end"):
                ui.button("Cancel", on_click=lambda: self.dialog.submit(None)).props("flat")
                self.confirm = ui.button("Confirm", on_click=self._confirm)
                self.confirm.props["aria-label"] = "Confirm"

    def _confirm(self) -> None:
        self.dialog.submit(self.reason.value or "")

    async def _ask(self, question: str, verb: str) -> str | None:
        if self.refusal:
            ui.notify(self.refusal, type="warning")
            return None
        self.question.set_text(question)
        self.reason.set_value("")
        self.confirm.set_text(BUTTONS[verb][0])
        return await self.dialog

    async def one(self, verb: str, incident_id: str, agent_name: str) -> None:
        """Ask, then decide one incident."""
        reason = await self._ask(f"{BUTTONS[verb][0]}: {agent_name}?", verb)
        if reason is not None:
            self._notify(await self.decisions.one(verb, incident_id, reason))

    async def all(self, verb: str, count: int, what: str) -> None:
        """Ask, naming how many incidents, then decide all of them."""
        if not count:
            ui.notify(f"No {what}.")
            return
        plural = "s" if count != 1 else ""
        question = f"{BUTTONS[verb][0]} all {count} {what}{plural}?"
        reason = await self._ask(question, verb)
        if reason is not None:
            self._notify(await self.decisions.all(verb, reason))

    def _notify(self, outcome) -> None:
        # The button that asked may have been redrawn away meanwhile; the dialog lives on.
        with self.dialog:
            ui.notify(
                outcome.message, type="positive" if outcome.ok else "negative", multi_line=True
            )


def decision_button(dialog: DecisionDialog, verb: str, incident_id: str, agent_name: str):
    """A small button that opens the dialog for one decision."""
    label, colour = BUTTONS[verb]
    button = ui.button(
        label, color=colour, on_click=lambda: dialog.one(verb, incident_id, agent_name)
    )
    button.props["aria-label"] = f"{label} {agent_name}"
    return button.props("dense no-caps size=sm")
