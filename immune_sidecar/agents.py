"""The agents a sidecar serves: labels, latest vitals, recent anomalies, bounded in count."""

import collections
import dataclasses
import threading
from collections.abc import Callable

from .detect import Anomaly
from .vitals import Labels, VitalSample

RECENT_ANOMALIES = 10


@dataclasses.dataclass
class AgentRecord:
    """What the sidecar knows of one agent."""

    agent_id: str
    first_seen: float
    last_seen: float
    labels: Labels = dataclasses.field(default_factory=Labels)
    samples: int = 0
    latest: VitalSample | None = None
    anomalies: collections.deque = dataclasses.field(
        default_factory=lambda: collections.deque(maxlen=RECENT_ANOMALIES)
    )


@dataclasses.dataclass(frozen=True)
class SeenAnomaly:
    """An anomaly with the time it was seen."""

    time: float
    anomaly: Anomaly


class AgentRegistry:
    """Agents by id, least recently seen evicted past ``max_agents`` (held ones last)."""

    def __init__(
        self,
        max_agents: int,
        is_held: Callable[[str], bool],
        on_evict: Callable[[list[str]], None],
    ) -> None:
        self._max = max_agents
        self._is_held = is_held
        self._on_evict = on_evict
        self._agents: collections.OrderedDict[str, AgentRecord] = collections.OrderedDict()
        self._lock = threading.Lock()
        self.evicted = 0

    def __len__(self) -> int:
        return len(self._agents)

    def seen(self, agent_id: str, labels: Labels, now: float) -> bool:
        """Note an agent in a request and merge its labels; True when it is new."""
        with self._lock:
            record = self._agents.get(agent_id)
            new = record is None
            if new:
                record = self._agents[agent_id] = AgentRecord(agent_id, now, now)
            self._agents.move_to_end(agent_id)
            record.last_seen = now
            record.labels.merge(labels)
            evicted = self._evict() if new else []
        if evicted:
            self._on_evict(evicted)
        return new

    def sampled(self, sample: VitalSample, anomalies: tuple[Anomaly, ...]) -> None:
        """Keep an agent's latest sample and the anomalies found in it."""
        with self._lock:
            record = self._agents.get(sample.agent_id)
            if record is None:
                return
            record.samples += 1
            record.latest = sample
            if anomalies:
                record.anomalies.extend(SeenAnomaly(sample.time, a) for a in anomalies)

    def records(self) -> list[AgentRecord]:
        """Every served agent, least recently seen first."""
        with self._lock:
            return list(self._agents.values())

    def get(self, agent_id: str) -> AgentRecord | None:
        """One agent's record, or None."""
        with self._lock:
            return self._agents.get(agent_id)

    def _evict(self) -> list[str]:
        evicted = []
        while len(self._agents) > self._max:
            victim = next((a for a in self._agents if not self._is_held(a)), None)
            victim = victim or next(iter(self._agents))
            del self._agents[victim]
            evicted.append(victim)
            self.evicted += 1
        return evicted
