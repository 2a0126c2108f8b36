"""Reading OTLP ``KeyValue`` attribute lists into plain Python values."""

from collections.abc import Iterable
from typing import Any


def any_value(value: Any) -> Any:
    """The Python value of an OTLP ``AnyValue`` (arrays and maps as text)."""
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind in ("array_value", "kvlist_value", "bytes_value"):
        return str(getattr(value, kind))
    return getattr(value, kind)


def to_dict(attributes: Iterable[Any]) -> dict[str, Any]:
    """Attributes as a ``{key: value}`` dict; the first of a repeated key wins."""
    out: dict[str, Any] = {}
    for kv in attributes:
        if kv.key not in out:
            out[kv.key] = any_value(kv.value)
    return out


def stream_key(attributes: dict[str, Any]) -> tuple:
    """A hashable, order-independent key for a point's attribute set."""
    return tuple(sorted((k, str(v)) for k, v in attributes.items()))
