"""JSON views of the served agents, for ``/v1/agents``."""

from typing import TYPE_CHECKING

from .agents import AgentRecord
from .quarantine import HEALTHY

if TYPE_CHECKING:
    from .app import Sidecar


def agents(sidecar: "Sidecar") -> dict:
    """Every served agent, most recently seen first, and the metrics that fed nothing."""
    now = sidecar.clock()
    records = reversed(sidecar.agents.records())
    return {
        "agents": [_agent(sidecar, r, now) for r in records],
        "schema_drift": sorted(sidecar.pipeline.drift),
        "evicted_agents": sidecar.agents.evicted,
    }


def agent(sidecar: "Sidecar", agent_id: str) -> dict | None:
    """One agent's view, or None when it is not served here."""
    record = sidecar.agents.get(agent_id)
    return None if record is None else _agent(sidecar, record, sidecar.clock())


def _agent(sidecar: "Sidecar", record: AgentRecord, now: float) -> dict:
    baselines = sidecar.detector.baselines(record.agent_id)
    ejection = sidecar.book.get(record.agent_id)
    return {
        "agent_id": record.agent_id,
        **record.labels.to_json(),
        "status": _status(ejection.state(now) if ejection else HEALTHY, baselines),
        "first_seen": record.first_seen,
        "last_seen": record.last_seen,
        "samples": record.samples,
        "latest": _sample(record.latest),
        "baselines": baselines,
        "recent_anomalies": [
            {"time": seen.time, **vars(seen.anomaly)} for seen in reversed(record.anomalies)
        ],
        "quarantine": ejection.to_json() if ejection else None,
    }


def status(sidecar: "Sidecar", agent_id: str) -> str:
    """learning, healthy, quarantined or probation."""
    ejection = sidecar.book.get(agent_id)
    state = ejection.state(sidecar.clock()) if ejection else HEALTHY
    return _status(state, sidecar.detector.baselines(agent_id))


def _status(state: str, baselines: dict) -> str:
    if state != HEALTHY:
        return state
    learned = any(b["learned"] for b in baselines.values())
    return HEALTHY if learned else "learning"


def _sample(sample) -> dict | None:
    if sample is None:
        return None
    return {
        "time": sample.time,
        "interval_seconds": sample.interval_seconds,
        "operations": sample.operations,
        "vitals": dict(sample.values),
        "prompt_hash": sample.prompt_hash,
        # A latency with no p95: the histogram's buckets were too coarse to locate it.
        "latency_buckets": _buckets(sample.values),
    }


def _buckets(values) -> str:
    if "latency" not in values:
        return ""
    return "fine" if "latency_median" in values else "too coarse for a p95 or median"
