"""Server-sent events, cut at event boundaries as they arrive (never held for more)."""

import json
import re
from typing import Any

_BOUNDARY = re.compile(rb"\r\n\r\n|\n\n|\r\r")
MAX_EVENT_BYTES = 16 * 1024 * 1024


class EventTooLarge(ValueError):
    """An upstream event grew past the limit without ending."""


class EventSplitter:
    """Splits a byte stream into whole events (each with its blank-line terminator)."""

    def __init__(self, max_event_bytes: int = MAX_EVENT_BYTES) -> None:
        self._rest = b""
        self._max = max_event_bytes

    def feed(self, chunk: bytes) -> list[bytes]:
        """The events ``chunk`` completes; a partial one waits for its end."""
        data = self._rest + chunk if self._rest else chunk
        events, start = [], 0
        for match in _BOUNDARY.finditer(data):
            events.append(data[start : match.end()])
            start = match.end()
        self._rest = data[start:]
        if len(self._rest) > self._max:
            raise EventTooLarge(f"an event of over {self._max} bytes")
        return events

    @property
    def rest(self) -> bytes:
        """Bytes of an event not yet ended (what an upstream sent last without a terminator)."""
        return self._rest


def event_name(event: bytes) -> str:
    """The event's ``event:`` field ('' when it has none)."""
    for line in event.splitlines():
        if line.startswith(b"event:"):
            return line[6:].strip().decode("utf-8", "replace")
    return ""


def event_data(event: bytes) -> Any:
    """The event's ``data:`` lines as JSON; None when there are none or they are not JSON."""
    lines = [
        line[5:].removeprefix(b" ") for line in event.splitlines() if line.startswith(b"data:")
    ]
    if not lines:
        return None
    try:
        return json.loads(b"\n".join(lines))
    except ValueError:
        return None


def encode(data: Any, event: str = "") -> bytes:
    """One event of JSON ``data``, named ``event`` when given."""
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {json.dumps(data, separators=(',', ':'))}\n\n".encode()
