"""The LLM APIs the gate speaks: OpenAI chat completions and Responses, Anthropic messages.

Each dialect knows its request's shape (where tools and the output limit live),
its error shapes (a JSON answer and a stream's terminal event), and how to read
its answers for usage, tool calls and errors. A reader parses only the events
that can carry those (a cheap byte search picks them), never the text deltas.
"""

import json
import re
from typing import Any, ClassVar

from . import sse
from .errors import GateError
from .tools import RequestShape

TOOL_FINISH = ("tool_calls", "tool_use", "function_call")


class Reader:
    """Reads one answer (a JSON body or stream events) for what the vitals need."""

    wanted: ClassVar[re.Pattern] = re.compile(rb"$^")

    def __init__(self, strip_usage: bool = False) -> None:
        self.strip_usage = strip_usage
        self.model = self.finish = self.error = ""
        self.input_tokens = self.output_tokens = 0.0
        self.tool_calls = 0
        self._first = True

    @property
    def asked_tools(self) -> bool:
        """Whether the model finished asking for tools."""
        return self.tool_calls > 0 or self.finish in TOOL_FINISH

    def body(self, data: bytes) -> None:
        """Read a whole JSON answer."""
        try:
            parsed = json.loads(data)
        except ValueError:
            return
        if isinstance(parsed, dict):
            self._answer(parsed)

    def event(self, event: bytes) -> bytes | None:
        """Read one stream event; the event to relay (None: the client must not see it)."""
        if not (self._first or self.wanted.search(event)):
            return event
        self._first = False
        data = sse.event_data(event)
        return event if not isinstance(data, dict) or self._event(data) else None

    def _answer(self, data: dict) -> None:
        pass

    def _event(self, data: dict) -> bool:
        return True

    def _usage(self, usage: Any, input_key: str, output_key: str) -> None:
        if isinstance(usage, dict):
            self.input_tokens = _number(usage.get(input_key)) or self.input_tokens
            self.output_tokens = _number(usage.get(output_key)) or self.output_tokens


class ChatReader(Reader):
    """OpenAI chat completions."""

    wanted = re.compile(rb'"(usage|finish_reason|tool_calls|error)"\s*:\s*[^n\s]')

    def _answer(self, data: dict) -> None:
        self._event(data)
        for choice in _dicts(data.get("choices")):
            message = choice.get("message")
            if isinstance(message, dict):
                self.tool_calls += len(_dicts(message.get("tool_calls")))

    def _event(self, data: dict) -> bool:
        if data.get("error"):
            self.error = _error_type(data["error"])
            return True
        self.model = str(data.get("model") or self.model)
        usage = data.get("usage")
        self._usage(usage, "prompt_tokens", "completion_tokens")
        choices = _dicts(data.get("choices"))
        for choice in choices:
            delta = choice.get("delta")
            if isinstance(delta, dict):
                self.tool_calls += sum(1 for c in _dicts(delta.get("tool_calls")) if c.get("id"))
            self.finish = str(choice.get("finish_reason") or self.finish)
        return not (self.strip_usage and usage and not choices)


class ResponsesReader(Reader):
    """OpenAI Responses."""

    wanted = re.compile(rb'"type"\s*:\s*"(response\.(created|completed|incomplete|failed)|error)"')

    def _answer(self, data: dict) -> None:
        if data.get("error"):
            self.error = _error_type(data["error"])
        self.model = str(data.get("model") or self.model)
        self._usage(data.get("usage"), "input_tokens", "output_tokens")
        calls = [o for o in _dicts(data.get("output")) if str(o.get("type", "")).endswith("call")]
        self.tool_calls = len(calls) or self.tool_calls
        self.finish = "tool_calls" if calls else str(data.get("status") or self.finish)

    def _event(self, data: dict) -> bool:
        if data.get("type") == "error":
            self.error = str(data.get("code") or "error")
        elif isinstance(data.get("response"), dict):
            self._answer(data["response"])
        return True


class MessagesReader(Reader):
    """Anthropic messages."""

    wanted = re.compile(rb'"type"\s*:\s*"(message_start|message_delta|content_block_start|error)"')

    def _answer(self, data: dict) -> None:
        if data.get("type") == "error":
            self.error = _error_type(data.get("error"))
            return
        self.model = str(data.get("model") or self.model)
        self._usage(data.get("usage"), "input_tokens", "output_tokens")
        blocks = _dicts(data.get("content"))
        self.tool_calls += sum(1 for b in blocks if b.get("type") == "tool_use")
        self.finish = str(data.get("stop_reason") or self.finish)

    def _event(self, data: dict) -> bool:
        kind = data.get("type")
        if kind == "message_start" and isinstance(data.get("message"), dict):
            self._answer(data["message"])
        elif kind == "content_block_start":
            block = data.get("content_block")
            self.tool_calls += isinstance(block, dict) and block.get("type") == "tool_use"
        elif kind == "message_delta":
            self._usage(data.get("usage"), "input_tokens", "output_tokens")
            delta = data.get("delta")
            if isinstance(delta, dict):
                self.finish = str(delta.get("stop_reason") or self.finish)
        elif kind == "error":
            self.error = _error_type(data.get("error"))
        return True


class Dialect:
    """One LLM API: request shape, error shapes and answer reader."""

    provider: ClassVar[str]
    operation: ClassVar[str] = "chat"
    shape: ClassVar[RequestShape]
    reader: ClassVar[type[Reader]]

    def error_body(self, error: GateError) -> bytes:
        """The API's JSON error answer."""
        return json.dumps({"error": _openai_error(error)}).encode()

    def stream_error(self, error: GateError) -> bytes:
        """The API's terminal error event for a stream."""
        return sse.encode({"error": _openai_error(error)})

    def prepare(self, payload: dict) -> bool:
        """Ask the upstream for what the vitals need; True when the answer then carries
        something the client did not ask for (a reader strips it again)."""
        return False


class ChatCompletions(Dialect):
    """``POST /v1/chat/completions``."""

    provider = "openai"
    shape = RequestShape(
        ("max_completion_tokens", "max_tokens"), "auto", lambda p: _assistant_turns(p, _chat_tools)
    )
    reader = ChatReader

    def prepare(self, payload: dict) -> bool:
        """Streams carry usage only when asked (``stream_options.include_usage``)."""
        options = payload.get("stream_options")
        if not payload.get("stream") or (
            isinstance(options, dict) and options.get("include_usage")
        ):
            return False
        payload["stream_options"] = {**(options if isinstance(options, dict) else {}),
                                     "include_usage": True}  # fmt: skip
        return True


class Responses(Dialect):
    """``POST /v1/responses``."""

    provider = "openai"
    shape = RequestShape(("max_output_tokens",), "auto", lambda p: _call_groups(p.get("input")))
    reader = ResponsesReader

    def stream_error(self, error: GateError) -> bytes:
        """The Responses ``error`` event (with ``error`` too, which the SDK raises on)."""
        data = {"type": "error", "code": error.code, "message": error.message, "param": None,
                "error": _openai_error(error)}  # fmt: skip
        return sse.encode(data, "error")


class Messages(Dialect):
    """``POST /v1/messages``."""

    provider = "anthropic"
    shape = RequestShape(
        ("max_tokens",), {"type": "auto"}, lambda p: _assistant_turns(p, _anthropic_tools)
    )
    reader = MessagesReader

    def error_body(self, error: GateError) -> bytes:
        """Anthropic's error answer."""
        return json.dumps(_anthropic_error(error)).encode()

    def stream_error(self, error: GateError) -> bytes:
        """Anthropic's ``error`` event."""
        return sse.encode(_anthropic_error(error), "error")


def _openai_error(error: GateError) -> dict:
    return {"message": error.message, "type": error.error_type, "param": None, "code": error.code}


def _anthropic_error(error: GateError) -> dict:
    shape = {"type": error.error_type, "message": error.message, "code": error.code}
    return {"type": "error", "error": shape}


def _assistant_turns(payload: dict, asks_tools) -> int:
    return sum(
        1 for m in _dicts(payload.get("messages")) if m.get("role") == "assistant" and asks_tools(m)
    )


def _chat_tools(message: dict) -> bool:
    return bool(message.get("tool_calls"))


def _anthropic_tools(message: dict) -> bool:
    return any(b.get("type") == "tool_use" for b in _dicts(message.get("content")))


def _call_groups(items: Any) -> int:
    """Tool rounds in a Responses input: runs of consecutive tool-call items."""
    rounds, calling = 0, False
    for item in _dicts(items):
        is_call = str(item.get("type", "")).endswith("_call")
        rounds += is_call and not calling
        calling = is_call
    return rounds


def _dicts(value: Any) -> list[dict]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _number(value: Any) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


def _error_type(error: Any) -> str:
    if isinstance(error, dict):
        return str(error.get("type") or error.get("code") or "error")
    return "error"
