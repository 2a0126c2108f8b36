"""Messages the sidecar and control both build: times, anomalies and vital samples.

Both sides keep their own value types with the same field names; these
builders read the fields, so one piece of code serves both.
"""

from collections.abc import Mapping
from typing import Protocol

from google.protobuf import duration_pb2, timestamp_pb2
from immune.v1 import common_pb2 as pb

from immune_common import vocab


class AnomalyLike(Protocol):
    """The fields of an anomaly on either side of the link."""

    type: str
    vital: str
    observed: float
    baseline: float
    sigma: float
    observed_label: str
    baseline_label: str


class SampleLike(Protocol):
    """The fields of a vital sample on either side of the link."""

    agent_id: str
    time: float
    interval_seconds: float
    operations: float
    values: Mapping[str, float]
    prompt_hash: str


def timestamp(seconds: float | None) -> timestamp_pb2.Timestamp | None:
    """Epoch seconds to a Timestamp (None stays unset)."""
    if seconds is None:
        return None
    ts = timestamp_pb2.Timestamp()
    ts.FromNanoseconds(int(seconds * 1e9))
    return ts


def seconds(value: timestamp_pb2.Timestamp | duration_pb2.Duration) -> float:
    """A Timestamp (epoch) or Duration to seconds."""
    return value.seconds + value.nanos / 1e9


def duration(value: float) -> duration_pb2.Duration:
    """Seconds to a Duration."""
    d = duration_pb2.Duration()
    d.FromNanoseconds(int(value * 1e9))
    return d


def anomaly(a: AnomalyLike) -> pb.Anomaly:
    """An anomaly as its message."""
    return pb.Anomaly(
        type=vocab.number(pb.AnomalyType, a.type),
        vital=a.vital,
        observed=a.observed,
        baseline=a.baseline,
        sigma=a.sigma,
        observed_label=a.observed_label,
        baseline_label=a.baseline_label,
    )


def sample(s: SampleLike) -> pb.VitalSample:
    """A vital sample as its message."""
    return pb.VitalSample(
        agent_id=s.agent_id,
        time=timestamp(s.time),
        interval_seconds=s.interval_seconds,
        operations=s.operations,
        values=dict(s.values),
        prompt_hash=s.prompt_hash,
    )
