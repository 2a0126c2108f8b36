"""Cumulative → delta conversion for OTLP sums and histograms.

A stream is resource + scope + metric + point attributes. A new start time, or
a count, sum or bucket that went down, is a reset: the new point's full value
is the delta. The first point of a stream that began before this process
started is only a reference (its full value would be history, not an
interval) — unless its resource was already followed at an earlier export:
then the stream is new since that export (a new model, prompt or tool in the
attributes) and all of it happened in this interval. Streams are evicted when
stale or when the cap is reached; a resource is forgotten with them.
"""

import threading
import time
from collections import OrderedDict
from operator import lt, sub
from typing import NamedTuple


class PointValue(NamedTuple):
    """What one data point carries: a count, a total, and optional buckets."""

    count: float
    total: float
    buckets: tuple[int, ...] = ()
    bounds: tuple[float, ...] = ()

    def minus(self, earlier: "PointValue") -> "PointValue":
        """The increase since ``earlier`` (same stream, no reset)."""
        buckets = tuple(map(sub, self.buckets, earlier.buckets))
        return PointValue(
            self.count - earlier.count, self.total - earlier.total, buckets, self.bounds
        )

    def went_down_from(self, earlier: "PointValue") -> bool:
        """Whether any cumulative part decreased, or the bucket layout changed."""
        if self.count < earlier.count or self.total < earlier.total - 1e-9 * abs(earlier.total):
            return True
        if self.bounds != earlier.bounds or len(self.buckets) != len(earlier.buckets):
            return True
        return any(map(lt, self.buckets, earlier.buckets))


class _Stream(NamedTuple):
    start_ns: int
    value: PointValue
    seen: float


class DeltaTracker:
    """Remembers the last cumulative value of each stream, bounded in count and age."""

    def __init__(
        self, max_streams: int = 100_000, ttl_seconds: float = 900.0, boot_ns: int | None = None
    ):
        self._streams: OrderedDict[tuple, _Stream] = OrderedDict()
        # Resource key (key[0] of every stream key) → when an export of it was last seen, and
        # whether one was seen before that (so a stream new in this export is new since then).
        self._resources: OrderedDict[object, tuple[float, bool]] = OrderedDict()
        self._max = max_streams
        self._ttl = ttl_seconds
        self._boot_ns = time.time_ns() if boot_ns is None else boot_ns
        self._lock = threading.Lock()
        self.evicted = 0
        self.resets = 0

    def __len__(self) -> int:
        return len(self._streams)

    def follow(self, resource: object, now: float) -> None:
        """Note an export of ``resource`` (call once per resource and export, before its points)."""
        with self._lock:
            seen, before = self._resources.pop(resource, (now, False))
            self._resources[resource] = (now, before if seen == now else True)

    def delta(self, key: tuple, start_ns: int, value: PointValue, now: float) -> PointValue | None:
        """The interval's delta for a cumulative point, or None for a first reference.

        ``key[0]`` is the stream's resource, as given to ``follow``."""
        with self._lock:
            prev = self._streams.pop(key, None)
            self._streams[key] = _Stream(start_ns, value, now)
            followed = prev is None and self._resources.get(key[0], (now, False))[1]
            if len(self._streams) > self._max:
                evicted, _ = self._streams.popitem(last=False)
                self._resources.pop(evicted[0], None)
                self.evicted += 1
        if prev is None:
            return value if followed or (start_ns and start_ns >= self._boot_ns) else None
        if start_ns != prev.start_ns or value.went_down_from(prev.value):
            self.resets += 1
            return value
        return value.minus(prev.value)

    def sweep(self, now: float) -> None:
        """Forget streams not seen for the TTL (least recently seen come first)."""
        with self._lock:
            while self._streams:
                oldest = next(iter(self._streams.values()))
                if now - oldest.seen <= self._ttl:
                    break
                self._streams.popitem(last=False)
                self.evicted += 1
            while self._resources and now - next(iter(self._resources.values()))[0] > self._ttl:
                self._resources.popitem(last=False)
