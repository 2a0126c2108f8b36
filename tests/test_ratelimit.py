"""The token bucket on a fake clock."""

import pytest

from immune_common.ratelimit import TokenBucket


def test_a_burst_then_the_steady_rate():
    now = [0.0]
    bucket = TokenBucket(rate=4, burst=2, clock=lambda: now[0])
    assert [bucket.take() for _ in range(2)] == [0.0, 0.0]
    assert bucket.take() == pytest.approx(0.25)
    now[0] = 0.25
    assert bucket.take() == 0.0
    now[0] = 10.0  # a long quiet spell refills only up to the burst
    assert [bucket.take() == 0.0 for _ in range(3)] == [True, True, False]


def test_nonsense_settings_are_refused():
    with pytest.raises(ValueError, match="positive rate"):
        TokenBucket(rate=0, burst=1)
