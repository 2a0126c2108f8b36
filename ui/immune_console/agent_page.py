"""One agent: its vitals against the baseline, its incidents with their timelines, its memory."""

from immune_sdk import AsyncClient, ImmuneError, names
from nicegui import ui

from .charts import anomaly_marks, latency_note, vital_chart, vitals_shown
from .decide import APPROVE, HEAL, REJECT
from .fleet import FleetView
from .insights import MEMORY_COLUMNS, action_line, memory_rows
from .shell import section
from .widgets import (
    DecisionDialog,
    anomalies_text,
    clock,
    decision_button,
    diagnosis_of,
    state_of,
    status_badge,
    status_of,
    words,
)

SAMPLES_SHOWN = 240
INCIDENTS_SHOWN = 10
VITALS_SECONDS = 5.0
VERBS_BY_STATE = {
    "pending_approval": (APPROVE, REJECT),
    "rejected": (HEAL,),
    "expired": (HEAL,),
    "exhausted": (HEAL,),
}


class AgentPage:
    """Built per visit; reloads when an event names the agent, and its vitals every few seconds."""

    def __init__(self, client: AsyncClient, view: FleetView, dialog: DecisionDialog, agent_id: str):
        self.client, self.view, self.dialog, self.agent_id = client, view, dialog, agent_id
        self.charts: dict[str, ui.echart] = {}
        self.summary = ui.column().classes("w-full gap-1")
        with section("Vitals"):
            self.note = ui.label("").classes("text-sm text-grey-8")
            self.vitals = ui.element("div").classes(
                "w-full grid grid-cols-1 md:grid-cols-2 xl:grid-cols-3 gap-2"
            )
        with section("Incidents"):
            self.incidents = ui.column().classes("w-full gap-1")
        with section("Immune memory"):
            self.memory = ui.table(columns=MEMORY_COLUMNS, rows=[], row_key="key").props(
                "dense flat"
            )
        self._seen = -1

    async def reload_if_named(self) -> None:
        """Reload everything when an event named this agent since the last look."""
        version = self.view.agent_versions[self.agent_id]
        if version != self._seen:
            self._seen = version
            await self.reload()

    async def reload(self) -> None:
        """Fetch the agent and redraw every part of the page."""
        try:
            found = await self.client.agent(self.agent_id, sample_limit=SAMPLES_SHOWN)
            details = [await self.client.incident(i.id) for i in found.incidents[:INCIDENTS_SHOWN]]
        except ImmuneError as exc:
            self.summary.clear()
            with self.summary:
                ui.label(f"{exc.code.name}: {exc.message}").classes("text-negative").props(
                    'role="alert"'
                )
            return
        self._summary(found.agent, details)
        self._vitals(found)
        self._incidents(details)
        self.memory.rows = memory_rows(found.memory)

    async def refresh_vitals(self) -> None:
        """Only the charts: samples arrive without events."""
        try:
            found = await self.client.agent(self.agent_id, sample_limit=SAMPLES_SHOWN)
        except ImmuneError:
            return  # the header banner already says control is away
        self._vitals(found)

    def _summary(self, agent, incidents: list) -> None:
        self.summary.clear()
        with self.summary, ui.row().classes("w-full items-center gap-3 flex-wrap"):
            ui.label(agent.name or agent.id).classes("text-xl font-bold")
            status_badge(status_of(agent))
            ui.label(" · ".join(p for p in (agent.model, agent.provider) if p)).classes(
                "text-grey-8"
            )
            ui.label(f"sidecar {agent.sidecar_id} · seen {clock(agent.last_seen_time)}").classes(
                "text-sm"
            )
            if agent.mcp_servers:
                ui.label("MCP: " + ", ".join(agent.mcp_servers)).classes("text-sm")
            if agent.tools:
                ui.label("tools: " + ", ".join(agent.tools)).classes("text-sm")
            open_incident = next((i for i in incidents if i.id == agent.open_incident_id), None)
            if open_incident is not None:
                for verb in VERBS_BY_STATE.get(state_of(open_incident), ()):
                    decision_button(self.dialog, verb, open_incident.id, agent.name or agent.id)

    def _vitals(self, found) -> None:
        baselines = {b.vital: b for b in found.baselines}
        samples = sorted(found.samples, key=lambda s: (s.time.seconds, s.time.nanos))
        self.note.text = latency_note(samples)
        for vital in vitals_shown(samples):
            options = vital_chart(
                vital, samples, baselines.get(vital), anomaly_marks(found.incidents, vital)
            )
            chart = self.charts.get(vital)
            if chart is None:
                with self.vitals:
                    self.charts[vital] = ui.echart(options).classes("w-full h-56")
                    self.charts[vital].props["aria-label"] = f"vital {vital}"
                continue
            chart.options.clear()
            chart.options.update(options)
            chart.update()
        if not samples and not self.charts:
            with self.vitals:
                ui.label("No samples yet.").classes("text-grey-7")

    def _incidents(self, incidents: list) -> None:
        self.incidents.clear()
        with self.incidents:
            if not incidents:
                ui.label("No incidents.").classes("text-grey-7")
            for incident in incidents:
                what = (diagnosis_of(incident), state_of(incident))
                title = f"{clock(incident.detect_time)} · {words(what[0])} · {words(what[1])}"
                with ui.expansion(title, value=incident is incidents[0]).classes(
                    "w-full border rounded"
                ):
                    _incident(incident)


def _incident(incident) -> None:
    ui.label(f"severity {incident.severity:.2f} · {anomalies_text(incident)}").classes("text-sm")
    for h in incident.hypotheses:
        diagnosis = words(names.name(names.DIAGNOSIS, h.diagnosis))
        ui.label(f"{diagnosis} {h.confidence:.0%}: {'; '.join(h.evidence)}").classes(
            "text-xs text-grey-8"
        )
    with ui.timeline(side="right").props("dense").classes("w-full"):
        for event in incident.timeline:
            who = f" · {event.actor}" if event.actor else ""
            reason = f" — {event.reason}" if event.reason else ""
            ui.timeline_entry(
                event.message + reason, title=event.kind, subtitle=f"{clock(event.time)}{who}"
            )
    for action in incident.actions:
        title, subtitle, _ = action_line(action)
        ui.label(f"attempt {action.attempt}: {title} ({subtitle})").classes("text-xs")
