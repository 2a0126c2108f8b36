"""Reports waiting for control's ack, and command ids already carried out, kept on disk."""

import base64
import collections
import logging
import threading
from collections.abc import Iterable

from google.protobuf.message import DecodeError
from immune.v1 import link_pb2

from ..state import StateDir

log = logging.getLogger(__name__)
NAME = "link"
APPLIED_KEPT = 1000


class Outbox:
    """Unacked messages in send order, bounded; applied command ids, bounded."""

    def __init__(self, state: StateDir, limit: int) -> None:
        self._state, self._limit = state, limit
        self._pending: collections.OrderedDict[str, bytes] = collections.OrderedDict()
        self._applied: collections.OrderedDict[str, None] = collections.OrderedDict()
        self._lock = threading.Lock()
        self.dropped = 0
        state.restore(NAME, {}, self._restore)

    def _restore(self, saved: dict) -> None:
        """Take the kept reports and command ids back; a report that is no link message
        is logged and left out, the others are kept (one damaged report costs itself)."""
        pending: collections.OrderedDict[str, bytes] = collections.OrderedDict()
        for position, text in enumerate(saved.get("pending", [])):
            try:
                raw = base64.b64decode(text, validate=True)
                pending[link_pb2.ConnectRequest.FromString(raw).message_id] = raw
            except (TypeError, ValueError, DecodeError) as exc:
                log.error("kept report %d is not a link message (%s); left out", position, exc)
        self._pending = pending
        self._applied = collections.OrderedDict(dict.fromkeys(map(str, saved.get("applied", []))))

    def add(self, message: link_pb2.ConnectRequest) -> None:
        """Keep a message until it is acked (the oldest goes when the buffer is full)."""
        with self._lock:
            self._pending[message.message_id] = message.SerializeToString()
            while len(self._pending) > self._limit:
                self._pending.popitem(last=False)
                self.dropped += 1
            self._save()
        if self.dropped and self.dropped % 100 == 1:
            log.warning("link buffer full: %d reports dropped so far", self.dropped)

    def acked(self, message_ids) -> None:
        """Forget acknowledged messages."""
        with self._lock:
            removed = [self._pending.pop(i, None) for i in message_ids]
            if any(r is not None for r in removed):
                self._save()

    def pending(self, ids: Iterable[str] | None = None) -> list[link_pb2.ConnectRequest]:
        """Every unacked message (or those of ``ids`` still unacked), oldest first."""
        with self._lock:
            if ids is None:
                found = list(self._pending.values())
            else:
                found = [self._pending[i] for i in ids if i in self._pending]
            return [link_pb2.ConnectRequest.FromString(b) for b in found]

    def applied(self, command_id: str) -> bool:
        """Whether a command was already carried out."""
        with self._lock:
            return command_id in self._applied

    def mark_applied(self, command_id: str) -> None:
        """Remember a carried-out command (the newest few hundred)."""
        with self._lock:
            self._applied[command_id] = None
            while len(self._applied) > APPLIED_KEPT:
                self._applied.popitem(last=False)
            self._save()

    def applied_ids(self) -> list[str]:
        """The remembered command ids, for Hello."""
        with self._lock:
            return list(self._applied)

    def __len__(self) -> int:
        return len(self._pending)

    def _save(self) -> None:
        self._state.write(
            NAME,
            {
                "pending": [base64.b64encode(b).decode() for b in self._pending.values()],
                "applied": list(self._applied),
            },
        )
