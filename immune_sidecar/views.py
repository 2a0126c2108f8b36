"""JSON views of the served agents, for ``/v1/agents``."""

from collections.abc import Callable, Collection

from .agents import AgentRecord, AgentRegistry
from .detect import Detector
from .quarantine import HEALTHY, Ejection, QuarantineBook


class AgentViews:
    """What the sidecar shows of its agents, from the registry, the detector's baselines
    and the quarantine book."""

    def __init__(
        self,
        agents: AgentRegistry,
        detector: Detector,
        book: QuarantineBook,
        drift: Callable[[], Collection[str]],
        clock: Callable[[], float],
    ) -> None:
        self._agents, self._detector, self._book = agents, detector, book
        self._drift, self._clock = drift, clock

    def agents(self) -> dict:
        """Every served agent, most recently seen first, and the metrics that fed nothing."""
        now = self._clock()
        return {
            "agents": [self._agent(r, now) for r in reversed(self._agents.records())],
            "schema_drift": sorted(self._drift()),
            "evicted_agents": self._agents.evicted,
        }

    def agent(self, agent_id: str) -> dict | None:
        """One agent's view, or None when it is not served here."""
        record = self._agents.get(agent_id)
        return None if record is None else self._agent(record, self._clock())

    def status(self, agent_id: str) -> str:
        """learning, healthy, quarantined or probation."""
        ejection = self._book.get(agent_id)
        return _status(_state(ejection, self._clock()), self._detector.baselines(agent_id))

    def _agent(self, record: AgentRecord, now: float) -> dict:
        ejection = self._book.get(record.agent_id)
        baselines = self._detector.baselines(record.agent_id)
        return {
            "agent_id": record.agent_id,
            **record.labels.to_json(),
            "status": _status(_state(ejection, now), baselines),
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


def _state(ejection: Ejection | None, now: float) -> str:
    return ejection.state(now) if ejection else HEALTHY


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
