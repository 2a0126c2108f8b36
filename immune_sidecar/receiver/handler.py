"""The one export handler both transports share, and its error classification.

A transport turns its framing into ``(body, encoding)``, calls ``handle``, and
maps a ``ReceiveError``'s kind to its own status code. Nothing else about an
error is decided in the transports.
"""

import dataclasses
import threading
import time
from collections.abc import Callable
from typing import NamedTuple, Protocol

from immune_common.ratelimit import TokenBucket

from . import codec
from .codec import PROTOBUF
from .errors import ErrorKind, ReceiveError, too_large
from .signals import METRICS, Signal


class Partial(NamedTuple):
    """The points a consumer could not use, and why."""

    rejected: int = 0
    message: str = ""


@dataclasses.dataclass
class Export:
    """One decoded export request, with its protobuf bytes for forwarding unchanged."""

    request: object  # the signal's Export…ServiceRequest
    transport: str
    received: float
    _raw: bytes | None = None
    signal: Signal = METRICS

    @property
    def raw(self) -> bytes:
        """The request as protobuf bytes (the received ones when it came as protobuf)."""
        if self._raw is None:
            self._raw = self.request.SerializeToString()
        return self._raw


class Consumer(Protocol):
    """The next component after the receiver."""

    def consume(self, export: Export) -> Partial:
        """Take an export in; report the points it could not use."""
        ...


class Limits(NamedTuple):
    """How much one sidecar takes at once."""

    max_message_bytes: int = 4 * 1024 * 1024
    max_in_flight: int = 32
    retry_after_seconds: float = 1.0
    # Exports per second across both transports, with bursts of as many again; 0: no limit.
    max_requests_per_second: float = 0.0


class Handler:
    """Decodes, bounds and hands exports to the consumer; counts every outcome."""

    def __init__(
        self,
        consumer: Consumer,
        limits: Limits,
        count: Callable[[Signal, str, str, int, int], None],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._consumer = consumer
        self.limits = limits
        self._count = count
        self._clock = clock
        self._slots = threading.BoundedSemaphore(max(1, limits.max_in_flight))
        rate = limits.max_requests_per_second
        self._bucket = TokenBucket(rate, max(1.0, rate)) if rate > 0 else None

    @property
    def slots(self) -> threading.BoundedSemaphore:
        """The in-flight request slots (held while an export is processed)."""
        return self._slots

    def handle(
        self,
        body: bytes,
        encoding: str,
        transport: str,
        gzipped: bool = False,
        signal: Signal = METRICS,
    ) -> Partial:
        """Process one export body; raises ReceiveError when refused as a whole."""
        received = self._clock()
        try:
            partial, items = self._admit(body, encoding, transport, gzipped, received, signal)
        except ReceiveError as exc:
            self.refused(transport, exc, signal)
            raise
        self._count(signal, transport, "ok", items - partial.rejected, partial.rejected)
        return partial

    def refused(
        self, transport: str, error: ReceiveError, signal: Signal = METRICS
    ) -> ReceiveError:
        """Count an export the transport refused before reading it; returns the error."""
        self._count(signal, transport, error.kind.value, 0, 0)
        return error

    def _within_rate(self) -> None:
        wait = self._bucket.take() if self._bucket else 0.0
        if wait:
            raise ReceiveError(
                ErrorKind.RATE_LIMITED,
                f"more than {self.limits.max_requests_per_second:g} exports per second; "
                "export less often or in bigger batches",
                wait,
            )

    def _admit(self, body, encoding, transport, gzipped, received, signal):
        if gzipped:
            body = codec.gunzip(body, self.limits.max_message_bytes)
        if len(body) > self.limits.max_message_bytes:
            raise too_large(len(body), self.limits.max_message_bytes)
        self._within_rate()
        if not self._slots.acquire(blocking=False):
            raise ReceiveError(
                ErrorKind.OVERLOADED,
                "the sidecar is busy with other exports; retry shortly",
                self.limits.retry_after_seconds,
            )
        try:
            request = codec.decode(body, encoding, signal)
            raw = body if encoding == PROTOBUF else None
            export = Export(request, transport, received, raw, signal)
            return self._consumer.consume(export), signal.count(request)
        finally:
            self._slots.release()
