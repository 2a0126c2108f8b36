"""Event-driven anomaly detection: each sample is judged as it arrives."""

import collections
import threading
from typing import Any

from ..vitals import VitalSample
from .baseline import Baseline, BaselineSettings, PromptBaseline
from .infection import Anomaly, Infection
from .severity import severity

VITAL_ANOMALY = {
    "total_tokens": "token_spike",
    "input_tokens": "input_token_spike",
    "output_tokens": "output_token_spike",
    "latency": "latency_spike",
    "latency_p95": "latency_spike",
    "tool_calls": "tool_explosion",
    "retries": "high_retry_rate",
    "error_rate": "error_rate_spike",
    "cost": "cost_spike",
}
EVIDENCE_SAMPLES = 5


class _AgentState:
    __slots__ = ("evidence", "prompt", "vitals")

    def __init__(self) -> None:
        self.vitals: dict[str, Baseline] = {}
        self.prompt = PromptBaseline()
        self.evidence: collections.deque[VitalSample] = collections.deque(maxlen=EVIDENCE_SAMPLES)


class Detector:
    """Keeps every agent's baselines and turns abnormal samples into infections."""

    def __init__(self, settings: BaselineSettings) -> None:
        self.settings = settings
        self._agents: dict[str, _AgentState] = {}
        self._lock = threading.Lock()

    def observe(self, sample: VitalSample, learn: bool = True) -> Infection | None:
        """Judge a sample; learn from it only if it is normal and ``learn`` is set."""
        with self._lock:
            state = self._agents.get(sample.agent_id)
            if state is None:
                state = self._agents[sample.agent_id] = _AgentState()
            state.evidence.append(sample)
            anomalies = self._anomalies(state, sample)
            if not anomalies:
                if learn:
                    self._learn(state, sample)
                return None
            for base in state.vitals.values():  # the alarm is raised; sums start afresh
                base.excess = 0.0
            evidence = tuple(state.evidence)
        sigmas = [a.sigma for a in anomalies]
        return Infection(
            sample.agent_id,
            sample.time,
            severity(sigmas, self.settings.sigma_threshold),
            anomalies,
            evidence,
        )

    def _anomalies(self, state: _AgentState, sample: VitalSample) -> tuple[Anomaly, ...]:
        s, found = self.settings, {}
        for vital, value in sample.values.items():
            base = state.vitals.get(vital)
            kind = VITAL_ANOMALY.get(vital)
            if kind is None or base is None or not base.learned(s):
                continue
            sigma = base.sigma(value, vital, s)
            lasting = base.accumulate(sigma, s)
            once = sigma >= s.sigma_threshold and vital not in s.lasting_only
            if (once or lasting) and sigma > found.get(kind, (0.0,))[0]:
                found[kind] = (sigma, Anomaly(kind, vital, value, base.mean, round(sigma, 2)))
        if state.prompt.is_new(sample.prompt_hash, s):
            usual = state.prompt.usual()
            found["prompt_change"] = (
                s.prompt_change_sigma,
                Anomaly(
                    "prompt_change",
                    "prompt_hash",
                    1.0,
                    0.0,
                    s.prompt_change_sigma,
                    sample.prompt_hash,
                    usual,
                ),
            )
        return tuple(a for _, a in sorted(found.values(), key=lambda pair: -pair[0]))

    def _learn(self, state: _AgentState, sample: VitalSample) -> None:
        for vital, value in sample.values.items():
            base = state.vitals.get(vital)
            if base is None:
                base = state.vitals[vital] = Baseline()
            if not base.drifting(self.settings):
                base.learn(value, vital, self.settings)
        state.prompt.learn(sample.prompt_hash)

    def accept_prompt(self, agent_id: str, prompt_hash: str) -> None:
        """Count ``prompt_hash`` as normal for the agent (an operator said so)."""
        with self._lock:
            state = self._agents.get(agent_id)
            if state is not None and prompt_hash:
                state.prompt.known.setdefault(prompt_hash, 1)

    def forget(self, agent_id: str) -> None:
        """Drop an agent's baselines (evicted agent)."""
        with self._lock:
            self._agents.pop(agent_id, None)

    def baselines(self, agent_id: str) -> dict[str, dict[str, Any]]:
        """Mean, stddev, samples and learned flag per vital, for display."""
        with self._lock:
            state = self._agents.get(agent_id)
            if state is None:
                return {}
            s = self.settings
            return {
                v: {
                    "mean": b.mean,
                    "stddev": b.stddev(v, s),
                    "samples": b.n,
                    "learned": b.learned(s),
                }
                for v, b in state.vitals.items()
            }

    def snapshot(self) -> dict[str, Any]:
        """Every agent's baselines as plain data, for the state dir."""
        with self._lock:
            return {
                agent: {
                    "vitals": {v: b.to_json() for v, b in st.vitals.items()},
                    "prompt": st.prompt.to_json(),
                }
                for agent, st in self._agents.items()
            }

    def restore(self, data: dict[str, Any]) -> None:
        """Load baselines written by ``snapshot``."""
        with self._lock:
            for agent, entry in data.items():
                state = _AgentState()
                state.vitals = {v: Baseline.from_json(b) for v, b in entry["vitals"].items()}
                state.prompt = PromptBaseline.from_json(entry["prompt"])
                self._agents[agent] = state
