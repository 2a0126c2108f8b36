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
# The clock may not be the wall's (a test's simulated minutes): a scheduled command is looked
# at again at least this often, whatever the clock said it had left to wait.
RECHECK_SECONDS = 0.5


class ActuatorRunner:
    """A worker thread applying queued (or scheduled) commands to the actuators. Whatever an
    actuator or the listener raises is logged and reported as a failed outcome; the worker
    goes on with the next command."""

    def __init__(
        self,
        actuators: Sequence[Actuator],
        on_done: Listener | None = None,
        clock: Callable[[], float] = time.time,
    ):
        self._actuators = list(actuators)
        self._on_done = on_done
        self._clock = clock
        self._heap: list[tuple[float, int, Command, Callable[[], bool]]] = []
        self._seq = itertools.count()
        self._cv = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="actuators", daemon=True)

    def start(self) -> None:
        """Start the worker; commands submitted before wait for it."""
        self._thread.start()

    def submit(self, command: Command) -> None:
        """Apply ``command`` as soon as the worker is free."""
        self.submit_at(float("-inf"), command, lambda: True)

    def submit_at(self, when: float, command: Command, still_due: Callable[[], bool]) -> None:
        """Apply ``command`` at ``when`` (on the runner's clock) if ``still_due()`` then holds."""
        with self._cv:
            heapq.heappush(self._heap, (when, next(self._seq), command, still_due))
            self._cv.notify()

    def close(self, timeout: float = 5.0) -> None:
        """Finish the commands already due, then stop."""
        with self._cv:
            self._closed = True
            self._cv.notify()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        while (item := self._next()) is not None:
            command, still_due = item
            try:
                due = still_due()
            except Exception:
                log.exception("%s %s: could not tell if still due", command.kind, command.agent_id)
                due = False
            if due:
                self._report(command, self._apply(command))

    def _next(self) -> tuple[Command, Callable[[], bool]] | None:
        with self._cv:
            while True:
                now = self._clock()
                if self._heap and self._heap[0][0] <= now:
                    _, _, command, still_due = heapq.heappop(self._heap)
                    return command, still_due
                if self._closed:
                    return None
                wait = min(self._heap[0][0] - now, RECHECK_SECONDS) if self._heap else None
                self._cv.wait(wait)

    def _apply(self, command: Command) -> list[Outcome]:
        outcomes = [_guarded(a, command) for a in self._for(command)]
        for o in outcomes:
            level = logging.INFO if o.ok else logging.WARNING
            log.log(level, "%s %s %s: %s", o.actuator, command.kind, command.agent_id, o.message)
        return outcomes

    def _report(self, command: Command, outcomes: list[Outcome]) -> None:
        if self._on_done is None:
            return
        try:
            self._on_done(command, outcomes)
        except Exception:
            log.exception("%s %s: reporting the outcome failed", command.kind, command.agent_id)

    def _for(self, command: Command) -> list[Actuator]:
        if command.kind != APPLY_ACTION:
            return self._actuators
        return [a for a in self._actuators if command.action in a.actions]


def _guarded(actuator: Actuator, command: Command) -> Outcome:
    """The actuator's outcome; a failed one naming the error when it raised."""
    try:
        return actuator.apply(command)
    except Exception as exc:
        log.exception("%s raised on %s %s", actuator.name, command.kind, command.agent_id)
        return Outcome(actuator.name, False, f"raised {type(exc).__name__}: {exc}")
