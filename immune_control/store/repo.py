"""Reads and writes of control's records; every write joins the caller's transaction."""

import json
from collections.abc import Iterable, Sequence

from ..commands import Command
from ..model import (
    A_SUCCEEDED,
    COUNTED_OUTCOMES,
    AgentInfo,
    AuditEntry,
    Event,
    Feedback,
    HealingAction,
    Incident,
    Sample,
)
from . import codec
from .db import Database

INCIDENT_COLUMNS = (
    "id, agent_id, state, severity, anomalies, hypotheses, evidence, hypothesis_index, "
    "trigger, detect_time, update_time, approval_expire_time, fleet, affected_agent_ids, "
    "quarantine_waived, waived_agent_ids"
)
ACTION_COLUMNS = (
    "id, incident_id, agent_id, action, diagnosis, trigger, attempt, start_time, actor, "
    "outcome, applied_time, finish_time, detail, dry_run, command_id"
)
AGENT_COLUMNS = (
    "id, sidecar_id, name, model, provider, mcp_servers, tools, labels, reported_status, "
    "first_seen, last_seen, samples"
)
EVENT_COLUMNS = (
    "sequence, time, kind, incident_id, agent_id, actor, reason, from_state, to_state, message"
)
# A sidecar's commands it has not acked yet.


class Store:
    """Control's records in one DuckDB file."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def transaction(self):
        """A write transaction (see Database.transaction)."""
        return self.db.transaction()

    # incidents and actions

    def save_incident(self, incident: Incident, new: bool = False) -> None:
        """Insert or replace an incident and its actions (``new``: none of them is stored
        yet, so nothing is replaced — cheaper for DuckDB)."""
        i = incident
        row = (
            i.id,
            i.agent_id,
            i.state,
            i.severity,
            codec.dumps(i.anomalies),
            codec.dumps(i.hypotheses),
            codec.dumps(i.evidence),
            i.hypothesis_index,
            i.trigger,
            i.detect_time,
            i.update_time,
            i.approval_expire_time,
            i.fleet,
            codec.dumps(i.affected_agent_ids),
            i.quarantine_waived,
            codec.dumps(i.waived_agent_ids),
        )
        with self.db.transaction():
            self.db.stage("incidents", row, key=i.id, replace=not new)
            for action in i.actions:
                self.save_action(action, new)

    def save_action(self, a: HealingAction, new: bool = False) -> None:
        """Insert or replace one healing action (``new``: not stored yet)."""
        row = (
            a.id,
            a.incident_id,
            a.agent_id,
            a.action,
            a.diagnosis,
            a.trigger,
            a.attempt,
            a.start_time,
            a.actor,
            a.outcome,
            a.applied_time,
            a.finish_time,
            a.detail,
            a.dry_run,
            a.command_id,
        )
        self.db.stage("actions", row, key=a.id, replace=not new)

    def incident(self, incident_id: str) -> Incident | None:
        """One incident with its actions and feedback, or None."""
        rows = self.db.query(
            f"SELECT {INCIDENT_COLUMNS} FROM incidents WHERE id = ?", [incident_id]
        )
        return self._incidents(rows)[0] if rows else None

    def incidents(
        self, states: Sequence[str] = (), agent_id: str = "", limit: int = 100, offset: int = 0
    ) -> tuple[list[Incident], int]:
        """Incidents newest first, filtered, one page; and the total that matched."""
        where, params = _filters(states, agent_id)
        total = self.db.query(f"SELECT count(*) FROM incidents {where}", params)[0][0]
        rows = self.db.query(
            f"SELECT {INCIDENT_COLUMNS} FROM incidents {where} "
            "ORDER BY detect_time DESC, id LIMIT ? OFFSET ?",
            [*params, limit, offset],
        )
        return self._incidents(rows), total

    def open_incidents(self, closed: Iterable[str]) -> list[Incident]:
        """Every incident not in a closed state (for a restart)."""
        closed = list(closed)
        rows = self.db.query(
            f"SELECT {INCIDENT_COLUMNS} FROM incidents WHERE state NOT IN ({_marks(closed)})",
            closed,
        )
        return self._incidents(rows)

    def actions(
        self, agent_id: str = "", incident_id: str = "", limit: int = 100, offset: int = 0
    ) -> list[HealingAction]:
        """Healing actions newest first."""
        where, params = _where({"agent_id": agent_id, "incident_id": incident_id})
        rows = self.db.query(
            f"SELECT {ACTION_COLUMNS} FROM actions {where} "
            "ORDER BY start_time DESC, attempt DESC LIMIT ? OFFSET ?",
            [*params, limit, offset],
        )
        return [HealingAction(*r) for r in rows]

    def actions_since(self, time: float, triggers: Sequence[str]) -> list[HealingAction]:
        """Actions started at or after ``time`` by one of ``triggers``, oldest first."""
        rows = self.db.query(
            f"SELECT {ACTION_COLUMNS} FROM actions WHERE start_time >= ? "
            f"AND trigger IN ({_marks(triggers)}) ORDER BY start_time",
            [time, *triggers],
        )
        return [HealingAction(*r) for r in rows]

    def finished_actions(self) -> list[HealingAction]:
        """Every finished action, oldest first (to rebuild immune memory)."""
        rows = self.db.query(
            f"SELECT {ACTION_COLUMNS} FROM actions WHERE outcome IN "
            "('succeeded', 'failed', 'reinfected', 'timed_out') ORDER BY finish_time"
        )
        return [HealingAction(*r) for r in rows]

    def save_infection(
        self, infection_id, agent_id, sidecar_id, incident_id, time, severity, anomalies
    ) -> None:
        """Record an infection report (the caller checked ``infection_known`` first)."""
        row = (infection_id, agent_id, sidecar_id, incident_id, time, severity)
        self.db.stage("infections", (*row, codec.dumps(anomalies)), key=infection_id)

    def recent_infections(self, limit: int) -> list[tuple[str, float]]:
        """The newest ``limit`` recorded infections as (id, time), oldest first."""
        rows = self.db.query(
            "SELECT id, time FROM (SELECT id, time FROM infections ORDER BY time DESC LIMIT ?) "
            "ORDER BY time",
            [limit],
        )
        return [(r[0], r[1]) for r in rows]

    def infection_known(self, infection_id: str) -> bool:
        """Whether an infection id was already recorded."""
        return bool(self.db.read("SELECT 1 FROM infections WHERE id = ?", [infection_id]))

    # events and audit

    def add_event(self, e: Event) -> None:
        """Append one event."""
        row = (
            e.sequence,
            e.time,
            e.kind,
            e.incident_id,
            e.agent_id,
            e.actor,
            e.reason,
            e.from_state,
            e.to_state,
            e.message,
        )
        self.db.stage("events", row)

    def events(
        self, after: int = 0, incident_id: str = "", agent_id: str = "", limit: int = 10_000
    ) -> list[Event]:
        """Events after a sequence, oldest first."""
        where, params = _where({"incident_id": incident_id, "agent_id": agent_id})
        where = f"{where} AND sequence > ?" if where else "WHERE sequence > ?"
        rows = self.db.query(
            f"SELECT {EVENT_COLUMNS} FROM events {where} ORDER BY sequence LIMIT ?",
            [*params, after, limit],
        )
        return [Event(*r) for r in rows]

    def last_sequence(self, table: str) -> int:
        """The highest sequence in ``events`` or ``audit``."""
        return self.db.query(f"SELECT coalesce(max(sequence), 0) FROM {table}")[0][0]

    def add_audit(self, entry: AuditEntry) -> None:
        """Append one audit entry."""
        self.db.stage("audit", tuple(entry.__dict__.values()))

    def audit(self, actor: str = "", limit: int = 100, offset: int = 0) -> list[AuditEntry]:
        """Audit entries newest first."""
        where, params = _where({"actor": actor})
        rows = self.db.query(
            f"SELECT * FROM audit {where} ORDER BY sequence DESC LIMIT ? OFFSET ?",
            [*params, limit, offset],
        )
        return [AuditEntry(*r) for r in rows]

    # agents, sidecars, samples

    def save_agent(self, a: AgentInfo) -> None:
        """Insert or replace an agent (columns in the table's order)."""
        row = (
            a.id,
            a.name,
            a.model,
            a.provider,
            codec.dumps(a.mcp_servers),
            codec.dumps(a.tools),
            codec.dumps(a.labels),
            a.sidecar_id,
            a.reported_status,
            a.first_seen,
            a.last_seen,
            a.samples,
        )
        self.db.stage("agents", row, key=a.id, replace=True)

    def agents(self) -> list[AgentInfo]:
        """Every known agent."""
        rows = self.db.query(f"SELECT {AGENT_COLUMNS} FROM agents")
        return [
            AgentInfo(
                *r[:5], codec.strings(r[5]), codec.strings(r[6]), json.loads(r[7] or "{}"), *r[8:]
            )
            for r in rows
        ]

    def save_sidecar(
        self, sidecar_id, version, connect_time, last_message_time, disconnect_time
    ) -> None:
        """Insert or replace a sidecar's connection record."""
        row = (sidecar_id, version, connect_time, last_message_time, disconnect_time)
        self.db.stage("sidecars", row, key=sidecar_id, replace=True)

    def sidecars(self) -> list[tuple]:
        """(id, version, connect, last message, disconnect) of every sidecar."""
        return self.db.query("SELECT * FROM sidecars")

    def add_samples(self, samples: Sequence[Sample]) -> None:
        """Append vital samples (one statement for the batch)."""
        if not samples:
            return
        rows = [
            (
                s.agent_id,
                s.time,
                s.interval_seconds,
                s.operations,
                codec.dumps(s.values),
                s.prompt_hash,
            )
            for s in samples
        ]
        with self.db.transaction():
            for row in rows:
                self.db.stage("samples", row)

    def samples(self, agent_id: str, limit: int) -> list[Sample]:
        """An agent's latest samples, oldest first."""
        rows = self.db.query(
            "SELECT * FROM (SELECT * FROM samples WHERE agent_id = ? ORDER BY time DESC LIMIT ?) "
            "ORDER BY time",
            [agent_id, limit],
        )
        return [Sample(r[0], r[1], r[2], r[3], json.loads(r[4]), r[5]) for r in rows]

    # policies, feedback, commands

    def save_policy(self, diagnosis: str, actions: Sequence[str], actor: str, time: float) -> None:
        """Insert or replace one ladder."""
        row = (diagnosis, codec.dumps(actions), actor, time)
        self.db.stage("policies", row, key=diagnosis, replace=True)

    def policies(self) -> list[tuple[str, tuple[str, ...], str, float]]:
        """Stored ladders: (diagnosis, actions, actor, time)."""
        rows = self.db.query("SELECT * FROM policies")
        return [(r[0], codec.strings(r[1]), r[2], r[3]) for r in rows]

    def save_feedback(self, f: Feedback) -> None:
        """Append one verdict on an incident (the latest is the incident's feedback)."""
        self.db.stage("feedback", tuple(f.__dict__.values()))

    def feedback(self) -> list[Feedback]:
        """Every stored verdict, oldest first."""
        return [Feedback(*r) for r in self.db.query("SELECT * FROM feedback ORDER BY time")]

    def add_command(self, command: Command, time: float) -> None:
        """Keep a command until its sidecar acks it."""
        row = (command.id, command.sidecar_id, command.agent_id, codec.dumps(command), time, None)
        self.db.stage("commands", row, key=command.id)  # a new id every time: no replace

    def ack_commands(self, command_ids: Sequence[str], time: float) -> None:
        """Mark commands delivered (the caller has checked they were the acking sidecar's)."""
        for command_id in command_ids:
            self.db.stage("command_acks", (command_id, time))

    def unacked_commands(self) -> list[Command]:
        """Every undelivered command, oldest first (read at start)."""
        rows = self.db.query(
            "SELECT body FROM commands c WHERE NOT EXISTS "
            "(SELECT 1 FROM command_acks a WHERE a.id = c.id) ORDER BY create_time"
        )
        return [Command(**json.loads(r[0])) for r in rows]

    def incident_counts(self) -> list[tuple[str, str, int]]:
        """Stored incidents by state and current diagnosis: (state, diagnosis, count)."""
        return self.db.query(
            "SELECT state, coalesce(json_extract_string(hypotheses, "
            "'$[' || hypothesis_index || '].diagnosis'), 'unknown'), count(*) "
            "FROM incidents GROUP BY ALL"
        )

    def action_counts(self) -> list[tuple[str, str, int]]:
        """Stored healing actions by action and outcome: (action, outcome, count)."""
        return self.db.query("SELECT action, outcome, count(*) FROM actions GROUP BY ALL")

    def totals(self) -> tuple[int, int, int, int]:
        """Infections recorded, agent incidents healed, actions finished (counted in immune
        memory), and of those the ones that cured."""
        counted = sorted(COUNTED_OUTCOMES)
        row = self.db.query(
            "SELECT (SELECT count(*) FROM infections), "
            "(SELECT count(*) FROM incidents WHERE state = 'healed' AND NOT fleet), "
            f"(SELECT count(*) FROM actions WHERE outcome IN ({_marks(counted)})), "
            "(SELECT count(*) FROM actions WHERE outcome = ?)",
            [*counted, A_SUCCEEDED],
        )[0]
        return tuple(int(n or 0) for n in row)

    def count(self, sql: str, params: Sequence = ()) -> int:
        """A single integer from a counting query."""
        return int(self.db.query(sql, list(params))[0][0] or 0)

    def _incidents(self, rows: list[tuple]) -> list[Incident]:
        if not rows:
            return []
        ids = [r[0] for r in rows]
        actions: dict[str, list[HealingAction]] = {i: [] for i in ids}
        for r in self.db.query(
            f"SELECT {ACTION_COLUMNS} FROM actions WHERE incident_id IN ({_marks(ids)}) "
            "ORDER BY attempt",
            ids,
        ):
            actions[r[1]].append(HealingAction(*r))
        feedback = {
            r[0]: Feedback(*r)
            for r in self.db.query(
                f"SELECT * FROM feedback WHERE incident_id IN ({_marks(ids)}) ORDER BY time", ids
            )
        }
        return [_incident(r, tuple(actions[r[0]]), feedback.get(r[0])) for r in rows]


def _incident(r: tuple, actions: tuple[HealingAction, ...], feedback) -> Incident:
    return Incident(
        id=r[0],
        agent_id=r[1],
        state=r[2],
        severity=r[3],
        anomalies=codec.anomalies(r[4]),
        hypotheses=codec.hypotheses(r[5]),
        evidence=codec.samples(r[6]),
        hypothesis_index=r[7],
        trigger=r[8],
        detect_time=r[9],
        update_time=r[10],
        approval_expire_time=r[11],
        fleet=r[12],
        affected_agent_ids=codec.strings(r[13]),
        quarantine_waived=r[14],
        waived_agent_ids=codec.strings(r[15]),
        actions=actions,
        feedback=feedback,
    )


def _marks(values: Sequence) -> str:
    return ", ".join("?" * len(values))


def _where(equal: dict[str, str]) -> tuple[str, list]:
    used = {k: v for k, v in equal.items() if v}
    if not used:
        return "", []
    return "WHERE " + " AND ".join(f"{k} = ?" for k in used), list(used.values())


def _filters(states: Sequence[str], agent_id: str) -> tuple[str, list]:
    where, params = _where({"agent_id": agent_id})
    if states:
        clause = f"state IN ({_marks(states)})"
        where = f"{where} AND {clause}" if where else f"WHERE {clause}"
        params += list(states)
    return where, params
