"""Healing-policy scores: how many actions, and how long, until a fault is cured.

Every fault has a hidden true cure (some have none). An incident is diagnosed
by control's own ``Diagnoser`` from the fault's anomalies, and the next action
is picked by control's own ``choose`` over the default ladders, with one of
four rankers: the ladder as written, the ladder without the actions that
already failed this agent (per-agent immune memory), and control's
``ImmuneMemory`` (that, then ranked by the fleet's successes). A random policy,
picking any untried action, is the floor. An action that does not cure shows
at the first probation sample; one that cures passes probation. More than
``max_auto_attempts_per_hour`` attempts, or none left, hand over to a human.
"""

import dataclasses
import random
import statistics
from collections.abc import Callable, Iterable

from immune_common.vocab import ACTIONS
from immune_control.config import HealingSettings
from immune_control.diagnosis import Diagnoser
from immune_control.healing import choose
from immune_control.memory import ImmuneMemory
from immune_control.model import (
    A_REINFECTED,
    A_SUCCEEDED,
    AUTO,
    HEALING,
    Anomaly,
    HealingAction,
    Incident,
)
from immune_control.policies import defaults
from immune_demo.faults import FAULTS

APPLY_SECONDS = 5.0
INTERVAL_SECONDS = 60.0
WARM = 3  # a fault kind seen this many times fleet-wide counts as known
# Faults no healing action cures: only a human (or the world) can.
UNCURABLE = {
    "provider_outage": ("latency_spike", "error_rate_spike"),
    "poisoned_tool": ("tool_explosion", "high_retry_rate"),
}
CURABLE = {f.name: (tuple(sorted(f.expected)), f.cures) for f in FAULTS}
POLICIES = ("random", "fixed ladder", "agent memory", "fleet memory")


@dataclasses.dataclass(frozen=True)
class Case:
    """One incident to heal: which agent, which fault, what it looks like."""

    agent: str
    fault: str
    anomalies: tuple[Anomaly, ...]
    cures: frozenset[str]


@dataclasses.dataclass(frozen=True)
class Outcome:
    """How one case ended under one policy."""

    case: Case
    actions: int
    healed: bool
    seconds_held: float
    warm: bool  # the fleet had seen this fault kind at least WARM times before


def cases(seed: int, count: int, agents: int = 50, uncurable_share: float = 0.1) -> list[Case]:
    """``count`` seeded incidents spread over ``agents`` agents."""
    rng = random.Random(f"healing:{seed}")
    found = []
    for _ in range(count):
        table = UNCURABLE if rng.random() < uncurable_share else CURABLE
        fault = rng.choice(sorted(table))
        types, cures = (table[fault], frozenset()) if table is UNCURABLE else table[fault]
        anomalies = tuple(_anomaly(kind, rng) for kind in types)
        found.append(Case(f"agent-{rng.randrange(agents):03d}", fault, anomalies, cures))
    return found


def _anomaly(kind: str, rng: random.Random) -> Anomaly:
    if kind == "prompt_change":
        return Anomaly(kind, "prompt_hash", 1.0, 0.0, 9.0, "p-new", "p-old")
    return Anomaly(kind, kind, 1.0, 1.0, round(rng.uniform(5.0, 15.0), 1))


class _Ladder:
    """The ladder as written."""

    def rank(self, ladder: Iterable[str], agent_id: str, diagnosis: str) -> list[str]:
        return list(ladder)


class _AgentMemory:
    """The ladder without the actions that failed this agent for the diagnosis."""

    def __init__(self, memory: ImmuneMemory) -> None:
        self.memory = memory

    def rank(self, ladder: Iterable[str], agent_id: str, diagnosis: str) -> list[str]:
        failed = self.memory.failed(agent_id, diagnosis)
        return [a for a in ladder if a not in failed]


def run(policy: str, found: list[Case], seed: int = 0) -> list[Outcome]:
    """Heal every case in order under ``policy``, learning as control would."""
    memory, diagnoser = ImmuneMemory(), Diagnoser()
    pick = _picker(policy, memory, random.Random(f"policy:{seed}"))
    seen: dict[str, int] = {}
    outcomes = []
    for n, case in enumerate(found):
        outcomes.append(_heal(case, n, diagnoser, memory, pick, seen.get(case.fault, 0) >= WARM))
        seen[case.fault] = seen.get(case.fault, 0) + 1
    return outcomes


Picker = Callable[[Incident, set[tuple[str, str]]], tuple[str, int] | None]


def _picker(policy: str, memory: ImmuneMemory, rng: random.Random) -> Picker:
    if policy == "random":
        return lambda incident, tried: _random_pick(incident, tried, rng)
    ranker = {"fixed ladder": _Ladder(), "agent memory": _AgentMemory(memory)}.get(policy, memory)
    policies = defaults({})
    return lambda incident, tried: choose(incident, tried, policies, ranker)


def _random_pick(incident: Incident, tried: set[tuple[str, str]], rng: random.Random):
    left = [a for a in ACTIONS if a not in {action for _, action in tried}]
    return (rng.choice(left), incident.hypothesis_index) if left else None


def _heal(case: Case, n: int, diagnoser: Diagnoser, memory, pick: Picker, warm: bool):
    settings = HealingSettings()
    hypotheses = diagnoser.diagnose(case.anomalies)
    incident = Incident(f"i{n}", case.agent, HEALING, 5.0, case.anomalies, hypotheses, 0.0, 0.0)
    tried: set[tuple[str, str]] = set()
    held = 0.0
    while len(tried) < settings.max_auto_attempts_per_hour:
        choice = pick(incident, tried)
        if choice is None:
            break
        action, index = choice
        incident = dataclasses.replace(incident, hypothesis_index=index)
        tried.add((incident.diagnosis, action))
        cured = action in case.cures
        memory.record(_finished(incident, action, len(tried), cured))
        held += APPLY_SECONDS + INTERVAL_SECONDS * (settings.probation_samples if cured else 1)
        if cured:
            return Outcome(case, len(tried), True, held, warm)
    return Outcome(case, len(tried), False, held, warm)


def _finished(incident: Incident, action: str, attempt: int, cured: bool) -> HealingAction:
    return HealingAction(
        f"{incident.id}-{attempt}",
        incident.id,
        incident.agent_id,
        action,
        incident.diagnosis,
        AUTO,
        attempt,
        float(attempt),
        outcome=A_SUCCEEDED if cured else A_REINFECTED,
        finish_time=float(attempt),
    )


@dataclasses.dataclass(frozen=True)
class PolicyScore:
    """The healing table's row for one policy."""

    policy: str
    mean_actions: float  # until healed, over healed cases
    warm_mean_actions: float  # the same, once the fleet knows the fault
    mean_minutes_held: float
    healed_share: float
    escalated_share: float


def score(policy: str, outcomes: list[Outcome]) -> PolicyScore:
    """Summarise one policy's outcomes."""
    healed = [o for o in outcomes if o.healed]
    warm = [o for o in healed if o.warm]
    return PolicyScore(
        policy,
        _mean(o.actions for o in healed),
        _mean(o.actions for o in warm),
        _mean(o.seconds_held / 60 for o in outcomes),
        len(healed) / len(outcomes),
        1 - len(healed) / len(outcomes),
    )


def _mean(values: Iterable[float]) -> float:
    values = list(values)
    return statistics.fmean(values) if values else float("nan")
