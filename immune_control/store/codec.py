"""Domain values to the JSON columns of the store and back."""

import dataclasses
import json
from typing import Any

from ..model import Anomaly, Hypothesis, Sample


def dumps(value: Any) -> str:
    """Compact JSON of plain values and frozen dataclasses."""
    return json.dumps(_plain(value), separators=(",", ":"))


def anomalies(text: str | None) -> tuple[Anomaly, ...]:
    """Anomalies from their JSON column."""
    return tuple(Anomaly(**a) for a in json.loads(text or "[]"))


def hypotheses(text: str | None) -> tuple[Hypothesis, ...]:
    """Hypotheses from their JSON column."""
    return tuple(
        Hypothesis(h["diagnosis"], h["confidence"], tuple(h["evidence"]))
        for h in json.loads(text or "[]")
    )


def samples(text: str | None) -> tuple[Sample, ...]:
    """Evidence samples from their JSON column."""
    return tuple(Sample(**s) for s in json.loads(text or "[]"))


def strings(text: str | None) -> tuple[str, ...]:
    """A JSON list of strings."""
    return tuple(json.loads(text or "[]"))


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value
