"""Diagnosis: from an infection's anomalies to ranked hypotheses about its cause.

Each anomaly type votes for causes with fixed weights (the README's table);
a vote counts more the further the vital is from normal. A few combinations
point to one cause much more than their parts (a new prompt together with a
burst of tool calls reads as an injection, not drift). Operator feedback then
scales each cause per leading anomaly type: every time a diagnosis was wrong
for that type its confidence falls, every time it was named as the true cause
it rises.
"""

import dataclasses
import threading
from collections.abc import Iterable, Mapping

from .model import Anomaly, Feedback, Hypothesis

VOTES: Mapping[str, Mapping[str, float]] = {
    "prompt_change": {"prompt_drift": 0.7, "prompt_injection": 0.3},
    "tool_explosion": {"infinite_loop": 0.6, "tool_instability": 0.25, "prompt_injection": 0.15},
    "high_retry_rate": {"tool_instability": 0.5, "external_cause": 0.3, "infinite_loop": 0.2},
    "error_rate_spike": {"tool_instability": 0.55, "external_cause": 0.45},
    "latency_spike": {"external_cause": 0.45, "tool_instability": 0.3, "memory_corruption": 0.25},
    "input_token_spike": {"memory_corruption": 0.7, "prompt_injection": 0.3},
    "output_token_spike": {"infinite_loop": 0.5, "cost_overrun": 0.3, "prompt_drift": 0.2},
    "token_spike": {"memory_corruption": 0.5, "cost_overrun": 0.3, "infinite_loop": 0.2},
    "cost_spike": {"cost_overrun": 0.8, "memory_corruption": 0.2},
    "call_rate_spike": {"infinite_loop": 0.6, "cost_overrun": 0.2, "prompt_injection": 0.2},
}
# (anomaly types that must all be present, cause, bonus weight, why)
COMBINATIONS: tuple[tuple[frozenset[str], str, float, str], ...] = (
    (
        frozenset({"prompt_change", "tool_explosion"}),
        "prompt_injection",
        1.5,
        "a new prompt together with a burst of tool calls",
    ),
    (
        frozenset({"prompt_change", "input_token_spike"}),
        "prompt_injection",
        1.0,
        "a new prompt together with much larger inputs",
    ),
    (
        frozenset({"tool_explosion", "output_token_spike"}),
        "infinite_loop",
        1.0,
        "tool calls and output growing together",
    ),
    (
        frozenset({"high_retry_rate", "error_rate_spike"}),
        "tool_instability",
        0.8,
        "retries and errors rising together",
    ),
)
UNKNOWN_FLOOR = 0.05
FEEDBACK_STEP = 0.5


def strength(anomaly: Anomaly) -> float:
    """How strongly one anomaly votes: 1 at 3σ, up to 2 far out; 1.5 for a prompt change."""
    if anomaly.type == "prompt_change":
        return 1.5
    return 1.0 + min(1.0, max(0.0, anomaly.sigma - 3.0) / 12.0)


@dataclasses.dataclass
class _Tally:
    wrong: int = 0
    right: int = 0

    def factor(self) -> float:
        return (1.0 + FEEDBACK_STEP * self.right) / (1.0 + FEEDBACK_STEP * self.wrong)


class Diagnoser:
    """Ranks causes for a set of anomalies, adjusted by what operators said before."""

    def __init__(self) -> None:
        self._feedback: dict[tuple[str, str], _Tally] = {}
        self._lock = threading.Lock()

    def learn(self, feedback: Feedback) -> None:
        """Count one operator verdict against the wrong cause (and for the true one)."""
        with self._lock:
            if feedback.wrong_diagnosis:
                self._tally(feedback.anomaly_type, feedback.wrong_diagnosis).wrong += 1
            if feedback.true_cause:
                self._tally(feedback.anomaly_type, feedback.true_cause).right += 1

    def diagnose(self, anomalies: Iterable[Anomaly]) -> tuple[Hypothesis, ...]:
        """Hypotheses, most likely first, with confidences summing to 1."""
        anomalies = tuple(anomalies)
        scores, evidence = _votes(anomalies)
        lead = anomalies[0].type if anomalies else ""
        with self._lock:
            for cause in list(scores):
                tally = self._feedback.get((lead, cause))
                if tally is not None:
                    scores[cause] *= tally.factor()
                    evidence[cause].append(_feedback_note(tally))
            for (kind, cause), tally in self._feedback.items():
                if kind == lead and cause not in scores and tally.right:
                    scores[cause] = 0.5 * tally.factor()
                    evidence[cause] = [_feedback_note(tally)]
        scores.setdefault("unknown", 0.0)
        scores["unknown"] = max(scores["unknown"], UNKNOWN_FLOOR * sum(scores.values()) or 1.0)
        evidence.setdefault("unknown", ["no pattern explains these anomalies with certainty"])
        total = sum(scores.values())
        ranked = sorted(scores, key=lambda c: (-scores[c], c == "unknown", c))
        return tuple(Hypothesis(c, scores[c] / total, tuple(evidence[c])) for c in ranked)

    def _tally(self, kind: str, cause: str) -> _Tally:
        return self._feedback.setdefault((kind, cause), _Tally())


def _votes(anomalies: tuple[Anomaly, ...]) -> tuple[dict[str, float], dict[str, list[str]]]:
    scores: dict[str, float] = {}
    evidence: dict[str, list[str]] = {}
    for anomaly in anomalies:
        for cause, weight in VOTES.get(anomaly.type, {}).items():
            scores[cause] = scores.get(cause, 0.0) + weight * strength(anomaly)
            evidence.setdefault(cause, []).append(anomaly.describe())
    kinds = {a.type for a in anomalies}
    for needed, cause, bonus, why in COMBINATIONS:
        if needed <= kinds:
            scores[cause] = scores.get(cause, 0.0) + bonus
            evidence.setdefault(cause, []).append(why)
    return scores, evidence


def _feedback_note(tally: _Tally) -> str:
    return f"operator feedback: {tally.wrong} times wrong, {tally.right} times the true cause"
