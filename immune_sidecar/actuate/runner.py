"""Runs commands through every actuator off the ingestion path, in order, one at a time."""

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable, Sequence

from .base import APPLY_ACTION, Actuator, Command, Outcome

log = logging.getLogger(__name__)
Listener = Callable[[Command, list[Outcome]], None]


class ActuatorRunner:
    """A worker thread applying queued (or scheduled) commands to the actuators."""

    def __init__(self, actuators: Sequence[Actuator], on_done: Listener | None = None):
        self._actuators = list(actuators)
        self._on_done = on_done
        self._heap: list[tuple[float, int, Command, Callable[[], bool]]] = []
        self._seq = itertools.count()
        self._cv = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="actuators", daemon=True)
        self._thread.start()

    def submit(self, command: Command) -> None:
        """Apply ``command`` as soon as the worker is free."""
        self.submit_at(0.0, command, lambda: True)

    def submit_at(self, when: float, command: Command, still_due: Callable[[], bool]) -> None:
        """Apply ``command`` at wall time ``when`` if ``still_due()`` then holds."""
        with self._cv:
            heapq.heappush(self._heap, (when, next(self._seq), command, still_due))
            self._cv.notify()

    def close(self, timeout: float = 5.0) -> None:
        """Finish the commands already due, then stop."""
        with self._cv:
            self._closed = True
            self._cv.notify()
        self._thread.join(timeout)

    def _run(self) -> None:
        while (item := self._next()) is not None:
            command, still_due = item
            if still_due():
                self._apply(command)

    def _next(self) -> tuple[Command, Callable[[], bool]] | None:
        with self._cv:
            while True:
                now = time.time()
                if self._heap and self._heap[0][0] <= now:
                    _, _, command, still_due = heapq.heappop(self._heap)
                    return command, still_due
                if self._closed:
                    return None
                wait = self._heap[0][0] - now if self._heap else None
                self._cv.wait(wait)

    def _apply(self, command: Command) -> None:
        outcomes = [a.apply(command) for a in self._for(command)]
        for o in outcomes:
            level = logging.INFO if o.ok else logging.WARNING
            log.log(level, "%s %s %s: %s", o.actuator, command.kind, command.agent_id, o.message)
        if self._on_done is not None:
            self._on_done(command, outcomes)

    def _for(self, command: Command) -> list[Actuator]:
        if command.kind != APPLY_ACTION:
            return self._actuators
        return [a for a in self._actuators if command.action in a.actions]
