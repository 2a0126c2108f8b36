"""What a sidecar may send: every string and list on the link bounded, every number finite.

A message past a bound is unusable (InvalidArgument): it is dropped and acked,
since resending it cannot help. The bounds sit well above what a sidecar of
this version sends (its evidence is a few samples, its lists its own agents).
"""

import math
from collections.abc import Iterable

from immune.v1 import common_pb2 as pb

from ..errors import InvalidArgument

MAX_ID_CHARS = 256  # agent, incident, action, message and sidecar ids
MAX_TEXT_CHARS = 4096  # details, reasons, labels, names
MAX_AGENTS = 10_000  # one Hello or Health (a sidecar's own agents)
MAX_IDS = 1_000  # one Ack, or a Hello's applied command ids
MAX_ANOMALIES = 64
MAX_EVIDENCE = 120
MAX_LABELS = 256  # an agent's tools, MCP servers or labels


def check(kind: str | None, body) -> None:
    """Raise InvalidArgument when a message of ``kind`` is past a bound."""
    checker = _CHECKS.get(kind or "")
    if checker is not None:
        checker(body)


def hello(body) -> None:
    """A Hello's id and lists."""
    ids("sidecar_id", [body.sidecar_id])
    text("version", body.version)
    ids("agent_ids", body.agent_ids, MAX_AGENTS)
    ids("quarantined_agent_ids", body.quarantined_agent_ids, MAX_AGENTS)
    ids("applied_command_ids", body.applied_command_ids, MAX_IDS)


def infection(i: pb.Infection) -> None:
    """An infection's ids, numbers, anomalies and evidence."""
    ids("infection ids", [i.id, i.agent_id])
    if not (math.isfinite(i.severity) and 0.0 <= i.severity <= 10.0):
        raise InvalidArgument(f"infection {i.id[:64]}: severity {i.severity} is not within 0–10")
    many("anomalies", i.anomalies, MAX_ANOMALIES)
    for a in i.anomalies:
        numbers("anomaly", (a.observed, a.baseline, a.sigma))
        text("anomaly", a.vital + a.observed_label + a.baseline_label)
    many("evidence", i.evidence, MAX_EVIDENCE)
    for s in i.evidence:
        sample(s)


def sample(s: pb.VitalSample) -> None:
    """A vital sample's numbers and names."""
    numbers("sample", (s.interval_seconds, s.operations, *s.values.values()))
    many("sample values", s.values, MAX_LABELS)
    ids("sample agent_id", [s.agent_id])
    text("sample", s.prompt_hash + "".join(s.values))


def agent(a: pb.Agent) -> None:
    """An announced agent's names and label lists."""
    ids("agent id", [a.id])
    text("agent", a.name + a.model + a.provider)
    for field in ("tools", "mcp_servers", "labels"):
        many(field, getattr(a, field), MAX_LABELS)
    text("tools", "".join(a.tools))
    text("mcp_servers", "".join(a.mcp_servers))
    text("labels", "".join(k + v for k, v in a.labels.items()))


def ids(field: str, values: Iterable[str], limit: int | None = None) -> None:
    """At most ``limit`` ids (when given), each at most MAX_ID_CHARS."""
    values = list(values)
    if limit is not None:
        many(field, values, limit)
    for value in values:
        if len(value) > MAX_ID_CHARS:
            raise InvalidArgument(
                f"{field}: an id of {len(value)} characters (at most {MAX_ID_CHARS})"
            )


def many(field: str, values, limit: int) -> None:
    """At most ``limit`` entries."""
    if len(values) > limit:
        raise InvalidArgument(f"{field}: {len(values)} entries (at most {limit})")


def text(field: str, value: str) -> None:
    """At most MAX_TEXT_CHARS characters."""
    if len(value) > MAX_TEXT_CHARS:
        raise InvalidArgument(f"{field}: {len(value)} characters (at most {MAX_TEXT_CHARS})")


def numbers(field: str, values: Iterable[float]) -> None:
    """Finite numbers only."""
    if not all(math.isfinite(v) for v in values):
        raise InvalidArgument(f"{field}: numbers must be finite (NaN and infinity are refused)")


def _action_result(body) -> None:
    ids("action result ids", [body.command_id, body.incident_id, body.agent_id, body.action_id])
    text("detail", body.detail)


def _probation_result(body) -> None:
    ids("probation result ids", [body.command_id, body.incident_id, body.agent_id])
    if body.HasField("infection"):
        infection(body.infection)


_CHECKS = {
    "hello": hello,
    "ack": lambda body: ids("message_ids", body.message_ids, MAX_IDS),
    "agent_seen": lambda body: agent(body.agent),
    "infection": lambda body: infection(body.infection),
    "action_result": _action_result,
    "probation_result": _probation_result,
    "health": lambda body: (
        many("agents", body.agents, MAX_AGENTS),
        [sample(v.latest) for v in body.agents if v.HasField("latest")],
        ids("agent ids", [v.agent_id for v in body.agents], MAX_AGENTS),
    ),
}
