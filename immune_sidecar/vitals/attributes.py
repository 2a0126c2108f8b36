"""Reading OTLP ``KeyValue`` attribute lists into plain Python values."""

from collections.abc import Iterable
from typing import Any

_SCALARS = frozenset({"string_value", "int_value", "double_value", "bool_value"})


def any_value(value: Any) -> Any:
    """The Python value of an OTLP ``AnyValue`` (arrays and maps as text)."""
    kind = value.WhichOneof("value")
    if kind in _SCALARS:
        return getattr(value, kind)
    return None if kind is None else str(getattr(value, kind))


def to_dict(attributes: Iterable[Any]) -> dict[str, Any]:
    """Attributes as a ``{key: value}`` dict; the first of a repeated key wins."""
    out: dict[str, Any] = {}
    for kv in attributes:
        if kv.key not in out:
            out[kv.key] = any_value(kv.value)
    return out


def stream_key(attributes: dict[str, Any]) -> tuple:
    """A hashable, order-independent key for a point's attribute set (values are scalars or
    text, as ``any_value`` gives them; keys are unique, so values are never compared)."""
    return tuple(sorted(attributes.items()))
