"""Well-known protobuf time types ⇄ seconds, shared by the sidecar and control."""

from google.protobuf import duration_pb2, timestamp_pb2


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
