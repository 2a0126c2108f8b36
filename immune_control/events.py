"""The event log: every transition stored with a sequence, then fanned out to watchers."""

import itertools
import logging
import threading
from collections.abc import Callable

from .model import Event
from .store import Store

log = logging.getLogger(__name__)
Watcher = Callable[[Event], None]


class EventLog:
    """Appends events inside the caller's transaction; ``publish`` tells watchers after commit."""

    def __init__(self, store: Store, clock: Callable[[], float]) -> None:
        self._store = store
        self._clock = clock
        self._sequence = itertools.count(store.last_sequence("events") + 1)
        self._unpublished: list[Event] = []
        self._watchers: dict[int, Watcher] = {}
        self._ids = itertools.count()
        self._lock = threading.Lock()

    def append(self, kind: str, **fields) -> Event:
        """Store one event (inside the open transaction) and queue it for watchers."""
        with self._lock:
            event = Event(
                next(self._sequence), fields.pop("time", None) or self._clock(), kind, **fields
            )
            self._store.add_event(event)
            self._unpublished.append(event)
        return event

    def mark(self) -> int:
        """How many events await publishing (a point to ``rewind`` to)."""
        with self._lock:
            return len(self._unpublished)

    def rewind(self, mark: int) -> None:
        """Forget the queued events after ``mark``, whose transaction or savepoint rolled back."""
        with self._lock:
            del self._unpublished[mark:]

    def publish(self) -> None:
        """Hand the committed events to every watcher, in order."""
        with self._lock:
            events, self._unpublished = self._unpublished, []
            watchers = list(self._watchers.values())
        for event in events:
            for watcher in watchers:
                watcher(event)

    def watch(self, watcher: Watcher) -> Callable[[], None]:
        """Call ``watcher`` with every published event; returns the function that stops it."""
        with self._lock:
            key = next(self._ids)
            self._watchers[key] = watcher

        def stop() -> None:
            with self._lock:
                self._watchers.pop(key, None)

        return stop

    @property
    def last_sequence(self) -> int:
        """The sequence of the newest stored event (0 when none)."""
        return self._store.last_sequence("events")
