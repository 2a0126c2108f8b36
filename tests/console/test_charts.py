"""The agent page's chart helpers, from API messages."""

from immune.v1 import common_pb2
from immune_console.charts import latency_note


def _sample(seconds: int, **values: float):
    sample = common_pb2.VitalSample(values=values)
    sample.time.seconds = seconds
    return sample


def test_the_latency_note_speaks_only_when_the_newest_latency_has_no_median():
    fine = _sample(1, latency=0.8, latency_median=0.7, latency_p95=1.9)
    coarse = _sample(2, latency=0.8)
    no_latency = _sample(3, tool_calls=1.0)
    assert latency_note([]) == ""
    assert latency_note([coarse, fine, no_latency]) == ""
    assert "too coarse" in latency_note([fine, coarse, no_latency])
