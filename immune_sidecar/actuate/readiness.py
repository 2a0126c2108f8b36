"""Readiness gate: the pod's readiness follows the quarantine book.

Kubernetes stops sending traffic to a pod whose readiness probe fails, so a
quarantined agent is contained without touching it. The gate holds no state
of its own; ``verdict`` reads the book, so it can never disagree with it.
"""

import time
from collections.abc import Callable

from ..quarantine import QuarantineBook
from .base import Command, Outcome


class ReadinessGate:
    """Answers ``/readyz`` from the quarantine book; dry-run only reports."""

    name = "readiness"
    actions = frozenset()

    def __init__(
        self,
        book: QuarantineBook,
        dry_run: bool = False,
        clock: Callable[[], float] = time.time,
    ):
        self._book, self._dry_run, self._clock = book, dry_run, clock

    def apply(self, command: Command) -> Outcome:
        """Quarantine and release take effect through the book."""
        return Outcome(self.name, True, "readiness follows quarantine", self._dry_run)

    def verdict(self) -> tuple[bool, dict]:
        """Whether the pod is ready, and a body naming the quarantined agents and why."""
        held = self._book.held(self._clock())
        quarantined = [
            {
                "agent_id": e.agent_id,
                "reason": e.reason,
                "anomaly_types": list(e.anomaly_types),
                "severity": e.severity,
                "since": e.since,
                "until": e.until,
            }
            for e in held
        ]
        ready = not quarantined or self._dry_run
        body = {"status": "ready" if ready else "quarantined", "quarantined": quarantined}
        if self._dry_run and quarantined:
            body["dry_run"] = True
        return ready, body
