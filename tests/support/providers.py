"""Local upstreams speaking the providers' real wire formats, for the egress gate's tests
and benchmark: OpenAI chat completions and Responses, Anthropic messages (JSON and
server-sent events, tool calls included), and an MCP server from the MCP SDK.

The model's script: when the request offers tools, ask for the first one until a tool
result is in (``loop``: on every turn, as a model stuck in a tool-call loop does), else
answer in text, streamed in ``chunks`` pieces ``chunk_delay`` seconds apart. With
``failures`` = n, the first n attempts of a call are refused with 429 (``retry-after-ms``
1). Every request that reaches it is kept in ``requests`` (path, headers, JSON body).
Streams are paced on the model's clock (event i at i × ``chunk_delay``), so a late
wake-up of the upstream's loop does not add up over the stream.
"""

import asyncio
import contextlib
import json
import threading
import time

import uvicorn
from aiohttp import web

TEXT = "All systems nominal."
OPENAI_LIMITED = {
    "error": {"message": "Rate limit reached", "type": "requests", "code": "rate_limit_exceeded"}
}


class Provider:
    """An upstream on a loopback port, served on its own thread until ``close``."""

    def __init__(self, chunks: int = 4, chunk_delay: float = 0.0) -> None:
        self.chunks, self.chunk_delay = chunks, chunk_delay
        self.first_delay = 0.0  # before answering (the model thinking)
        self.hold: threading.Event | None = None  # set: a stream's first event waits for it
        self.loop = False
        self.failures = 0
        self.requests: list[tuple[str, dict, dict]] = []
        self.disconnects = 0  # streams the client (the gate) closed before their end
        self._loop = asyncio.new_event_loop()
        ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, args=(ready,), daemon=True)
        self._thread.start()
        ready.wait(10)

    @property
    def calls(self) -> int:
        """Requests that reached this upstream."""
        return len(self.requests)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def bodies(self, path: str) -> list[dict]:
        """The JSON bodies received on ``path``."""
        return [body for p, _, body in self.requests if p == path]

    def close(self) -> None:
        """Stop serving."""
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def _serve(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self._loop)
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_post("/v1/responses", self._responses)
        app.router.add_post("/v1/messages", self._messages)
        self._runner = web.AppRunner(app, access_log=None, handler_cancellation=True)
        self._loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        self._loop.run_until_complete(site.start())
        self.port = site._server.sockets[0].getsockname()[1]
        ready.set()
        self._loop.run_forever()

    async def _take(self, request: web.Request) -> tuple[dict, bool]:
        body = await request.json()
        retry = int(request.headers.get("x-stainless-retry-count", "0"))
        if retry < self.failures:
            return body, False
        self.requests.append((request.path, dict(request.headers), body))
        await asyncio.sleep(self.first_delay)
        return body, True

    def _wants_tool(self, body: dict, answered: bool) -> bool:
        return bool(body.get("tools")) and (self.loop or not answered)

    async def _stream(self, request, events) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        loop = asyncio.get_running_loop()
        if self.hold is not None:
            await loop.run_in_executor(None, self.hold.wait, 10)
        started = loop.time()
        try:
            for i, event in enumerate(events):
                if i and self.chunk_delay:
                    await asyncio.sleep(started + i * self.chunk_delay - loop.time())
                await response.write(event)
        except (asyncio.CancelledError, ConnectionResetError):
            self.disconnects += 1
            raise
        return response

    def _pieces(self) -> list[str]:
        words = (TEXT + " ") * max(1, self.chunks)
        size = max(1, len(words) // max(1, self.chunks))
        return [words[i : i + size] for i in range(0, size * self.chunks, size)]

    # OpenAI chat completions

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        body, served = await self._take(request)
        if not served:
            return _refuse(OPENAI_LIMITED)
        answered = body["messages"][-1].get("role") == "tool"
        tool = self._wants_tool(body, answered)
        reply = _chat_reply(body, tool, self.calls)
        if not body.get("stream"):
            return web.json_response(reply)
        return await self._stream(request, list(self._chat_events(body, reply)))

    def _chat_events(self, body: dict, reply: dict):
        base = {k: reply[k] for k in ("id", "created", "model")} | {
            "object": "chat.completion.chunk"
        }
        choice = reply["choices"][0]

        def chunk(delta, finish=None):
            return _data(
                {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
            )

        yield chunk({"role": "assistant", "content": ""})
        if choice["message"].get("tool_calls"):
            call = choice["message"]["tool_calls"][0]
            yield chunk({"tool_calls": [{"index": 0, **call}]})
        else:
            for piece in self._pieces():
                yield chunk({"content": piece})
        # The finish, the usage asked for and the end leave together, as providers send them.
        tail = [chunk({}, choice["finish_reason"])]
        if (body.get("stream_options") or {}).get("include_usage"):
            tail.append(_data({**base, "choices": [], "usage": reply["usage"]}))
        yield b"".join([*tail, b"data: [DONE]\n\n"])

    # OpenAI Responses

    async def _responses(self, request: web.Request) -> web.StreamResponse:
        body, served = await self._take(request)
        if not served:
            return _refuse(OPENAI_LIMITED)
        items = body.get("input") if isinstance(body.get("input"), list) else []
        answered = bool(items) and items[-1].get("type") == "function_call_output"
        reply = _response(body, self._wants_tool(body, answered), self.calls)
        if not body.get("stream"):
            return web.json_response(reply)
        events = [
            _event(
                "response.created",
                {
                    "type": "response.created",
                    "sequence_number": 0,
                    "response": {**reply, "status": "in_progress"},
                },
            )
        ]
        if reply["output"][0]["type"] == "message":
            events += [
                _event(
                    "response.output_text.delta",
                    {
                        "type": "response.output_text.delta",
                        "delta": piece,
                        "item_id": "msg_1",
                        "output_index": 0,
                        "content_index": 0,
                        "sequence_number": i + 1,
                    },
                )
                for i, piece in enumerate(self._pieces())
            ]
        events.append(
            _event(
                "response.completed",
                {"type": "response.completed", "sequence_number": 99, "response": reply},
            )
        )
        return await self._stream(request, events)

    # Anthropic messages

    async def _messages(self, request: web.Request) -> web.StreamResponse:
        body, served = await self._take(request)
        if not served:
            return _refuse(
                {"type": "error", "error": {"type": "rate_limit_error", "message": "Rate limited"}}
            )
        last = body["messages"][-1]
        content = last.get("content")
        answered = isinstance(content, list) and any(
            isinstance(b, dict) and b.get("type") == "tool_result" for b in content
        )
        reply = _message(body, self._wants_tool(body, answered), self.calls)
        if not body.get("stream"):
            return web.json_response(reply)
        return await self._stream(request, list(self._message_events(reply)))

    def _message_events(self, reply: dict):
        start = {
            **reply,
            "content": [],
            "stop_reason": None,
            "usage": {"input_tokens": reply["usage"]["input_tokens"], "output_tokens": 1},
        }
        yield _event("message_start", {"type": "message_start", "message": start})
        block = reply["content"][0]
        if block["type"] == "tool_use":
            yield _event(
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": 0,
                    "content_block": {**block, "input": {}},
                },
            )
            delta = {"type": "input_json_delta", "partial_json": json.dumps(block["input"])}
            yield _event(
                "content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta}
            )
        else:
            yield _event(
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": 0,
                    "content_block": {"type": "text", "text": ""},
                },
            )
            for piece in self._pieces():
                delta = {"type": "text_delta", "text": piece}
                yield _event(
                    "content_block_delta",
                    {"type": "content_block_delta", "index": 0, "delta": delta},
                )
        yield _event("content_block_stop", {"type": "content_block_stop", "index": 0})
        yield _event(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": reply["stop_reason"], "stop_sequence": None},
                "usage": {"output_tokens": reply["usage"]["output_tokens"]},
            },
        )
        yield _event("message_stop", {"type": "message_stop"})


def _first_tool(body: dict) -> str:
    tool = body["tools"][0]
    return tool.get("name") or tool.get("function", {}).get("name", "tool")


def _chat_reply(body: dict, tool: bool, n: int) -> dict:
    if tool:
        call = {
            "id": f"call_{n}",
            "type": "function",
            "function": {"name": _first_tool(body), "arguments": '{"q": "status"}'},
        }
        message, finish = {"role": "assistant", "content": None, "tool_calls": [call]}, "tool_calls"
    else:
        message, finish = {"role": "assistant", "content": TEXT}, "stop"
    return {
        "id": f"chatcmpl-{n}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body["model"],
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": {"prompt_tokens": 120, "completion_tokens": 30, "total_tokens": 150},
    }


def _response(body: dict, tool: bool, n: int) -> dict:
    if tool:
        output = [
            {
                "type": "function_call",
                "id": f"fc_{n}",
                "call_id": f"call_{n}",
                "name": _first_tool(body),
                "arguments": '{"q": "status"}',
                "status": "completed",
            }
        ]
    else:
        output = [
            {
                "type": "message",
                "id": f"msg_{n}",
                "role": "assistant",
                "status": "completed",
                "content": [{"type": "output_text", "text": TEXT, "annotations": []}],
            }
        ]
    return {
        "id": f"resp_{n}",
        "object": "response",
        "created_at": time.time(),
        "status": "completed",
        "model": body["model"],
        "output": output,
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": body.get("tools", []),
        "usage": {
            "input_tokens": 120,
            "output_tokens": 30,
            "total_tokens": 150,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens_details": {"reasoning_tokens": 0},
        },
    }


def _message(body: dict, tool: bool, n: int) -> dict:
    if tool:
        content = [
            {
                "type": "tool_use",
                "id": f"toolu_{n}",
                "name": _first_tool(body),
                "input": {"q": "status"},
            }
        ]
    else:
        content = [{"type": "text", "text": TEXT}]
    return {
        "id": f"msg_{n}",
        "type": "message",
        "role": "assistant",
        "model": body["model"],
        "content": content,
        "stop_reason": "tool_use" if tool else "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 120, "output_tokens": 30},
    }


def _refuse(body: dict) -> web.Response:
    return web.json_response(body, status=429, headers={"retry-after-ms": "1"})


def _data(obj: dict) -> bytes:
    return f"data: {json.dumps(obj)}\n\n".encode()


def _event(name: str, obj: dict) -> bytes:
    return f"event: {name}\ndata: {json.dumps(obj)}\n\n".encode()


class McpUpstream:
    """A real MCP server (the MCP SDK's, streamable HTTP) with tools ``search`` and
    ``delete_records``, served by uvicorn on a loopback port until ``close``."""

    def __init__(self) -> None:
        from mcp.server.mcpserver import MCPServer

        server = MCPServer("records")
        self.calls: list[str] = []

        @server.tool()
        def search(q: str) -> str:
            """Search the records."""
            self.calls.append("search")
            return f"3 records match {q!r}"

        @server.tool()
        def delete_records(q: str) -> str:
            """Delete the records matching a query."""
            self.calls.append("delete_records")
            return f"deleted the records matching {q!r}"

        @server.tool()
        async def slow_report(seconds: float) -> str:
            """Write a report, slowly."""
            self.calls.append("slow_report")
            await asyncio.sleep(seconds)
            return "report done"

        app = server.streamable_http_app()
        config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started and time.monotonic() < deadline:
            time.sleep(0.01)
        self.port = self._server.servers[0].sockets[0].getsockname()[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/mcp"

    def close(self) -> None:
        """Stop serving."""
        self._server.should_exit = True
        with contextlib.suppress(RuntimeError):
            self._thread.join(10)
