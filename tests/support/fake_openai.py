"""A local model provider speaking OpenAI's chat-completions wire format (JSON and
server-sent events), for driving the real ``openai`` client and stock instrumentations.

Its replies follow a script an agent loop can run on: ask for the ``search`` tool
once, then answer once the tool's result is in; in ``loop`` mode it asks for the
tool on every turn, as a model stuck in a tool-call loop does. With ``failures`` set
to n, the first n attempts of every call are refused with 429 (and a 1 ms
``retry-after-ms``), so the client's retries succeed quickly: a retry storm. Each
answer takes ``THINKING_SECONDS``, as a model's does: a call's latency is then that and
not the few milliseconds of loopback, which a loaded machine's scheduling doubles.
"""

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

THINKING_SECONDS = 0.02

TOOL = {
    "type": "function",
    "function": {
        "name": "search",
        "description": "Search the knowledge base.",
        "parameters": {"type": "object", "properties": {"q": {"type": "string"}}},
    },
}


class FakeOpenAI(ThreadingHTTPServer):
    """Serves ``POST /v1/chat/completions`` until ``shutdown``; ``loop`` switches the script."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.loop = False
        self.failures = 0
        self.calls = 0
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def close(self) -> None:
        """Stop serving and close the listening socket."""
        self.shutdown()
        self.server_close()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_port}/v1"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self):
        super().setup()
        # Headers and body go in two writes: without this, each reply waits for a delayed ACK.
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if int(self.headers.get("x-stainless-retry-count", 0)) < self.server.failures:
            return self._refuse()
        self.server.calls += 1
        time.sleep(THINKING_SECONDS)
        last = body["messages"][-1]["role"]
        wants_tool = self.server.loop or last != "tool"
        reply = _completion(body["model"], wants_tool, self.server.calls)
        if body.get("stream"):
            self._stream(reply)
        else:
            self._json(reply)

    def _json(self, reply: dict) -> None:
        data = json.dumps(reply).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _refuse(self) -> None:
        data = json.dumps({"error": {"message": "Rate limit reached", "type": "requests",
                                     "code": "rate_limit_exceeded"}}).encode()  # fmt: skip
        self.send_response(429)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("retry-after-ms", "1")
        self.end_headers()
        self.wfile.write(data)

    def _stream(self, reply: dict) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Connection", "close")
        self.end_headers()
        choice = reply["choices"][0]
        delta = {"role": "assistant", **{k: v for k, v in choice["message"].items() if v}}
        if "tool_calls" in delta:
            delta["tool_calls"] = [{"index": 0, **c} for c in delta["tool_calls"]]
        chunks = [
            {**reply, "object": "chat.completion.chunk",
             "choices": [{"index": 0, "delta": delta, "finish_reason": None}]},
            {**reply, "object": "chat.completion.chunk",
             "choices": [{"index": 0, "delta": {}, "finish_reason": choice["finish_reason"]}],
             "usage": reply["usage"]},
        ]  # fmt: skip
        for chunk in chunks:
            self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
        self.wfile.write(b"data: [DONE]\n\n")
        self.close_connection = True

    def log_message(self, *args):
        pass


def _completion(model: str, wants_tool: bool, n: int) -> dict:
    if wants_tool:
        call = {"id": f"call_{n}", "type": "function",
                "function": {"name": "search", "arguments": '{"q": "status"}'}}  # fmt: skip
        message = {"role": "assistant", "content": None, "tool_calls": [call]}
        finish = "tool_calls"
    else:
        message = {"role": "assistant", "content": "All systems nominal."}
        finish = "stop"
    return {
        "id": f"chatcmpl-{n}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": {"prompt_tokens": 120, "completion_tokens": 30, "total_tokens": 150},
    }
