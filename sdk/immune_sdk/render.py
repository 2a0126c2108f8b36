"""Output for immunectl: aligned tables for people, JSON for scripts."""

import datetime
import json
from collections.abc import Iterable, Sequence
from typing import Any, TextIO

from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from . import names

Column = tuple[str, Any]  # header, and a function of the row giving its cell


def table(rows: Iterable[Any], columns: Sequence[Column], out: TextIO) -> None:
    """Print rows under headers, each column as wide as its widest cell."""
    cells = [[str(fn(row)) for _, fn in columns] for row in rows]
    headers = [h for h, _ in columns]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    for line in [headers, *cells]:
        out.write("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip())
        out.write("\n")


def fields(pairs: Sequence[tuple[str, Any]], out: TextIO) -> None:
    """Print 'key: value' lines, keys aligned."""
    width = max(len(k) for k, _ in pairs)
    for key, value in pairs:
        out.write(f"{key + ':':<{width + 1}} {value}\n")


def as_json(value: Any, out: TextIO) -> None:
    """Print a message, a list of messages or plain data as JSON (proto3 JSON mapping)."""
    out.write(json.dumps(plain(value), indent=2, sort_keys=True) + "\n")


def when(ts: Timestamp) -> str:
    """A timestamp as local time to the second ('-' when unset)."""
    if not ts.seconds and not ts.nanos:
        return "-"
    return datetime.datetime.fromtimestamp(ts.seconds).strftime("%Y-%m-%d %H:%M:%S")


def short(enum, number: int) -> str:
    """An enum value's short name ('-' when unset)."""
    return names.name(enum, number) or "-"


def plain(value: Any) -> Any:
    """Messages as proto3 JSON dicts, inside lists and dicts too."""
    if isinstance(value, Message):
        return MessageToDict(value, preserving_proto_field_name=True)
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value
