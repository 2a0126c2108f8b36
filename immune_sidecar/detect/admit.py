"""What a sample must hold to be judged.

A reading the detector cannot use is refused before it touches the agent's state: a NaN
count, once learned, left the vital's baseline NaN for good (nothing alarmed on it again)
and every later sample of the agent raised. So did figures far past any agent's: a count
of 1e300 a call overflowed, and 1e-300 calls divided by zero. Every figure must be a
finite number from 0 to ``LARGEST``, and calls, if any, at least ``FEWEST_CALLS`` (the
detector's arithmetic was checked to hold from 1e-12 to 1e18 either way).
"""

import dataclasses
import math

from ..vitals import VitalSample

LARGEST = 1e15  # more than any interval's calls, tokens, seconds or dollars a million tokens
FEWEST_CALLS = 1e-9  # a share of a call (an export's part of one); fewer is no call at all
_CALLS = ("operations", "attempts")


class UnreadableSample(ValueError):
    """A sample the detector cannot judge; nothing it had learned was changed."""


def admitted(sample: VitalSample) -> VitalSample:
    """The sample as it is judged: a vital whose value is NaN is left out (a missing
    reading, as a series marks one). Raises ``UnreadableSample`` for a time that is not a
    finite number; a length, price or vital's value that is not a number from 0 to
    ``LARGEST``; calls or attempts that are neither 0 nor from ``FEWEST_CALLS`` to it."""
    if _plain(sample):
        return sample
    _require("time", sample.time, -math.inf, math.inf)
    _require("interval_seconds", sample.interval_seconds)
    for field in _CALLS:
        value = getattr(sample, field)
        _require(field, value, FEWEST_CALLS if value else 0.0)
    for model, price in sample.prices.items():
        _require(f"the price of {model}", price)
    read = {vital: value for vital, value in sample.values.items() if not _is_nan(value)}
    for vital, value in read.items():
        _require(vital, value)
    if len(read) == len(sample.values):
        return sample
    return dataclasses.replace(sample, values=read)


def _plain(sample: VitalSample) -> bool:
    """Whether every figure of the sample is a float in range (the usual case, told fast)."""
    calls = (sample.operations, sample.attempts)
    figures = (sample.interval_seconds, *calls, *sample.values.values(), *sample.prices.values())
    time = sample.time
    return (
        type(time) is float
        and -math.inf < time < math.inf
        and all(type(x) is float and 0.0 <= x <= LARGEST for x in figures)
        and all(x == 0.0 or x >= FEWEST_CALLS for x in calls)
    )


def _is_nan(value) -> bool:
    return isinstance(value, float) and math.isnan(value)


def _require(name: str, value, least: float = 0.0, most: float = LARGEST) -> None:
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not number or not math.isfinite(value) or not least <= value <= most:
        span = "" if most == math.inf else f" from {least:g} to {most:g}"
        raise UnreadableSample(f"{name} is {value!r}: it must be a finite number{span}")
