"""MCP over streamable HTTP, as far as the gate needs it: which JSON-RPC messages a POST
carries, the errors it answers with, and a reader of the answers (tool results, and
``tools/list`` filtered while tools are revoked)."""

import json
from collections.abc import Callable
from typing import Any

from . import sse
from .errors import GateError, Refusal

# Server-defined JSON-RPC codes are -32000..-32099; -32602 is "invalid params".
QUARANTINED_CODE, RATE_LIMITED_CODE, REVOKED_CODE = -32001, -32002, -32602
PARSE_ERROR = -32700
_CODES = {Refusal.QUARANTINED: QUARANTINED_CODE, Refusal.RATE_LIMITED: RATE_LIMITED_CODE,
          Refusal.REVOKED_TOOL: REVOKED_CODE, Refusal.MALFORMED: PARSE_ERROR}  # fmt: skip
SERVER_ERROR = -32000


def messages(body: bytes) -> list[dict]:
    """The JSON-RPC messages of a POST (one, or a batch); GateError when there are none."""
    try:
        parsed = json.loads(body)
    except ValueError as exc:
        raise GateError(Refusal.MALFORMED, f"the body is not JSON: {exc}") from None
    found = parsed if isinstance(parsed, list) else [parsed]
    if not found or not all(isinstance(m, dict) and m.get("jsonrpc") == "2.0" for m in found):
        raise GateError(Refusal.MALFORMED, "expected a JSON-RPC 2.0 message or a batch of them")
    return found


def requests(found: list[dict]) -> list[dict]:
    """The requests among messages (notifications and responses have no answer)."""
    return [m for m in found if "method" in m and "id" in m]


def called_tool(message: dict) -> str | None:
    """The tool a ``tools/call`` request calls (None for any other message)."""
    if message.get("method") != "tools/call":
        return None
    params = message.get("params")
    return str(params.get("name", "")) if isinstance(params, dict) else ""


def error(request_id: Any, refusal: GateError) -> dict:
    """A JSON-RPC error answering ``request_id`` for ``refusal``."""
    code = _CODES.get(refusal.kind, SERVER_ERROR)
    data = {"reason": refusal.code}
    if refusal.retry_after is not None:
        data["retry_after_seconds"] = refusal.retry_after
    return {"jsonrpc": "2.0", "id": request_id,
            "error": {"code": code, "message": refusal.message, "data": data}}  # fmt: skip


def answer(found: list[dict], refusal: GateError) -> bytes:
    """The JSON answer refusing every request of a POST."""
    errors = [error(m["id"], refusal) for m in requests(found)]
    return json.dumps(errors if len(found) > 1 else errors[0]).encode()


class McpReader:
    """Reads answers for tool results, filtering ``tools/list`` with ``revoked``."""

    def __init__(self, calls: dict[Any, str], lists: set, revoked: Callable[[str], bool] | None):
        self.calls = calls  # request id → the tool it calls
        self.lists = lists if revoked else set()  # ids of tools/list requests to filter
        self._revoked = revoked
        self.failed: dict[Any, bool] = {}  # tool call id → whether it failed

    def body(self, data: bytes) -> bytes:
        """Read a JSON answer; the body to send (filtered when it lists tools)."""
        if not (self.calls or self.lists):
            return data
        try:
            parsed = json.loads(data)
        except ValueError:
            return data
        found = parsed if isinstance(parsed, list) else [parsed]
        changed = any([self._read(m) for m in found if isinstance(m, dict)])
        return json.dumps(parsed).encode() if changed else data

    def event(self, event: bytes) -> bytes:
        """Read one SSE event; the event to send."""
        if not (self.calls or self.lists) or b'"id"' not in event:
            return event
        data = sse.event_data(event)
        if not isinstance(data, dict) or not self._read(data):
            return event
        return sse.encode(data, sse.event_name(event))

    def _read(self, message: dict) -> bool:
        """Note a tool result; filter a tool list. True when ``message`` changed."""
        request_id = message.get("id")
        if request_id in self.calls:
            result = message.get("result")
            self.failed[request_id] = "error" in message or (
                isinstance(result, dict) and bool(result.get("isError"))
            )
        if request_id not in self.lists or not isinstance(message.get("result"), dict):
            return False
        tools = message["result"].get("tools")
        if not isinstance(tools, list):
            return False
        message["result"]["tools"] = [
            t for t in tools if not (isinstance(t, dict) and self._revoked(str(t.get("name"))))
        ]
        return len(message["result"]["tools"]) != len(tools)
