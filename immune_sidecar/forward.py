"""Tees every export unchanged to an upstream OTLP endpoint, never slowing ingestion.

Requests wait in a bounded queue for one sender thread. A full queue drops the
newest request; a slow or dead upstream only fills the queue. Both are counted.
"""

import logging
import queue
import threading
import urllib.error
import urllib.request
from typing import Protocol

import grpc

from .receiver import Export, Partial
from .receiver.signals import METRICS, SIGNALS, Signal
from .telemetry import SidecarMetrics

log = logging.getLogger(__name__)


class Sender(Protocol):
    """Delivers one protobuf-encoded export request of a signal upstream."""

    def send(self, raw: bytes, signal: Signal = METRICS) -> None:
        """Send or raise."""
        ...


class GrpcSender:
    """OTLP/gRPC upstream."""

    def __init__(self, target: str, timeout: float) -> None:
        self._channel = grpc.insecure_channel(target)
        self._exports = {s: self._channel.unary_unary(f"/{s.service}/Export") for s in SIGNALS}
        self._timeout = timeout

    def send(self, raw: bytes, signal: Signal = METRICS) -> None:
        """Call the signal's Export with the unchanged bytes."""
        self._exports[signal](raw, timeout=self._timeout)


class HttpSender:
    """OTLP/HTTP upstream: the signal's path under the configured base URL."""

    def __init__(self, url: str, timeout: float) -> None:
        base = url.rstrip("/")
        self._base = next((base[: -len(s.path)] for s in SIGNALS if base.endswith(s.path)), base)
        self._timeout = timeout

    def send(self, raw: bytes, signal: Signal = METRICS) -> None:
        """POST the unchanged bytes as application/x-protobuf."""
        headers = {"Content-Type": "application/x-protobuf"}
        url = self._base + signal.path
        request = urllib.request.Request(url, raw, headers, method="POST")
        with urllib.request.urlopen(request, timeout=self._timeout) as response:
            response.read()


def sender_for(endpoint: str, timeout: float) -> Sender:
    """``http(s)://…`` posts OTLP/HTTP; ``grpc://host:port`` or ``host:port`` uses gRPC."""
    if endpoint.startswith(("http://", "https://")):
        return HttpSender(endpoint, timeout)
    return GrpcSender(endpoint.removeprefix("grpc://"), timeout)


class Forwarder:
    """A consumer that queues exports for upstream and returns at once."""

    def __init__(self, sender: Sender, queue_size: int, metrics: SidecarMetrics) -> None:
        self._sender = sender
        self._queue: queue.Queue[tuple[bytes, Signal] | None] = queue.Queue(maxsize=queue_size)
        self._metrics = metrics
        self._thread = threading.Thread(target=self._run, name="forward", daemon=True)

    def start(self) -> None:
        """Start sending; exports queued before wait for it."""
        self._thread.start()

    def consume(self, export: Export) -> Partial:
        """Queue the export; drop it (counted) when the queue is full."""
        try:
            self._queue.put_nowait((export.raw, export.signal))
        except queue.Full:
            self._metrics.forwarded.labels("dropped_queue_full").inc()
        self._metrics.forward_queue.set(self._queue.qsize())
        return Partial()

    def close(self, timeout: float = 2.0) -> None:
        """Stop after the queued requests, waiting at most ``timeout`` seconds."""
        if not self._thread.is_alive():
            return
        try:
            self._queue.put(None, timeout=timeout)
        except queue.Full:
            return
        self._thread.join(timeout)

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            self._metrics.forward_queue.set(self._queue.qsize())
            try:
                self._sender.send(*item)
            except (grpc.RpcError, OSError, urllib.error.URLError) as exc:
                self._metrics.forwarded.labels("failed").inc()
                log.debug("forwarding failed: %s", exc)
            else:
                self._metrics.forwarded.labels("sent").inc()


class Tee:
    """Hands each export to a side consumer first, then to the main one."""

    def __init__(self, side, main) -> None:
        self._side, self._main = side, main

    def consume(self, export: Export) -> Partial:
        """The main consumer's answer is the answer."""
        self._side.consume(export)
        return self._main.consume(export)
