"""The fleet's admin endpoint: each agent's webhook actuator posts here, and the action is
really performed on the simulated agent (POST /agents/NAME)."""

import json
import threading
from http.server import BaseHTTPRequestHandler

from immune_common.httpserve import QuietServer

from .agent import DemoAgent

MAX_BODY = 64 * 1024


class AdminServer(QuietServer):
    """Serves the agents' admin endpoints on one loopback port."""

    def __init__(self, agents: dict[str, DemoAgent], host: str = "127.0.0.1", port: int = 0):
        super().__init__((host, port), _Handler)
        self.agents = agents
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)

    def start(self) -> None:
        """Serve in a background thread."""
        self._thread.start()

    def url(self, name: str) -> str:
        """The webhook URL of one agent."""
        return f"http://127.0.0.1:{self.server_port}/agents/{name}"

    def stop(self) -> None:
        """Stop serving."""
        self.shutdown()
        self.server_close()


class _Handler(BaseHTTPRequestHandler):
    server: AdminServer

    def do_POST(self):
        agent = self.server.agents.get(self.path.removeprefix("/agents/"))
        length = int(self.headers.get("Content-Length") or 0)
        if agent is None or length > MAX_BODY:
            return self._reply(
                404 if agent is None else 413, {"ok": False, "message": "no such agent"}
            )
        try:
            body = json.loads(self.rfile.read(length))
        except ValueError:
            return self._reply(400, {"ok": False, "message": "the body must be JSON"})
        if body.get("command") != "apply_action":
            return self._reply(200, {"ok": True, "message": f"{body.get('command')} noted"})
        return self._reply(200, {"ok": True, "message": agent.apply(str(body.get("action", "")))})

    def _reply(self, status: int, body: dict) -> None:
        raw = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, *args):
        pass
