"""The chaos schedule: which fault strikes which agent, and when (in intervals)."""

import dataclasses
import json
from collections.abc import Sequence

from .faults import FAULTS, Fault


@dataclasses.dataclass(frozen=True)
class Strike:
    """One fault injected into one agent at one interval."""

    interval: int
    agent: str
    fault: Fault

    def as_json(self) -> dict:
        """What the chaos log records of it."""
        f = self.fault
        return {
            "interval": self.interval,
            "agent": self.agent,
            "fault": f.name,
            "expected_anomalies": sorted(f.expected),
            "cures": sorted(f.cures),
            "what": f.what,
        }


def schedule(
    agents: Sequence[str], warmup: int, spacing: int, faults: Sequence[Fault] = FAULTS
) -> list[Strike]:
    """Every fault once, each on the next agent, ``spacing`` intervals apart after ``warmup``."""
    if not agents:
        return []
    return [
        Strike(warmup + n * spacing, agents[n % len(agents)], fault)
        for n, fault in enumerate(faults)
    ]


def write_log(strikes: Sequence[Strike], path: str) -> None:
    """The schedule as JSON, for operators and tests to compare with what Immune saw."""
    with open(path, "w") as out:
        json.dump([s.as_json() for s in strikes], out, indent=2)
