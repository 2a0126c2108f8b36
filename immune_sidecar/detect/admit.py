"""What a sample must hold to be judged.

A reading the detector cannot use is refused before it touches the agent's state: a NaN
count, once learned, left the vital's baseline NaN for good (nothing alarmed on it again)
and every later sample of the agent raised. The sidecar's own samples are checked as
they are read from OTLP; this guards the detector's public surface (a series driven
straight through it, a caller's own samples).
"""

import dataclasses
import math

from ..vitals import VitalSample

_COUNTED = ("interval_seconds", "operations", "attempts")


class UnreadableSample(ValueError):
    """A sample the detector cannot judge; nothing it had learned was changed."""


def admitted(sample: VitalSample) -> VitalSample:
    """The sample as it is judged: a vital whose value is NaN is left out (a missing
    reading, as a series marks one). Raises ``UnreadableSample`` for a time that is not a
    finite number, or a length, count of calls, price or vital's value that is not a
    finite number of 0 or more."""
    if _plain(sample):
        return sample
    _require("time", sample.time, -math.inf)
    for field in _COUNTED:
        _require(field, getattr(sample, field))
    for model, price in sample.prices.items():
        _require(f"the price of {model}", price)
    values = sample.values
    missing = [vital for vital, value in values.items() if _is_nan(value)]
    for vital, value in values.items():
        if vital not in missing:
            _require(vital, value)
    if not missing:
        return sample
    kept = {vital: value for vital, value in values.items() if vital not in missing}
    return dataclasses.replace(sample, values=kept)


def _plain(sample: VitalSample) -> bool:
    """Whether every figure of the sample is a float in range (the usual case, told fast)."""
    counted = (sample.interval_seconds, sample.operations, sample.attempts)
    figures = (*counted, *sample.values.values(), *sample.prices.values())
    time = sample.time
    return (
        type(time) is float
        and -math.inf < time < math.inf
        and all(type(x) is float and 0.0 <= x < math.inf for x in figures)
    )


def _is_nan(value) -> bool:
    return isinstance(value, float) and math.isnan(value)


def _require(name: str, value, least: float = 0.0) -> None:
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not number or not math.isfinite(value) or value < least:
        floor = "" if least == -math.inf else f" of {least:g} or more"
        raise UnreadableSample(f"{name} is {value!r}: it must be a finite number{floor}")
