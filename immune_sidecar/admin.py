"""The admin endpoint: ``/healthz``, ``/readyz``, ``/metrics`` and ``/v1/agents``."""

from collections.abc import Callable
from urllib.parse import unquote

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from immune_common.httpserve import BackgroundServer, HTTPStatus, QuietHandler

AGENTS_PATH = "/v1/agents"


class AdminViews:
    """What the admin endpoint shows; each view returns (status, JSON-able body)."""

    def __init__(
        self,
        readiness: Callable[[], tuple[bool, dict]],
        agents: Callable[[], dict],
        agent: Callable[[str], dict | None],
        registry: CollectorRegistry,
    ) -> None:
        self.readiness, self.agents, self.agent, self.registry = readiness, agents, agent, registry


def admin_server(views: AdminViews, host: str, port: int) -> BackgroundServer:
    """The admin endpoint's server, not yet started."""
    handler = type("AdminRequestHandler", (_AdminRequestHandler,), {"views": views})
    return BackgroundServer(handler, host, port, "admin")


class _AdminRequestHandler(QuietHandler):
    views: AdminViews

    def do_GET(self) -> None:
        path = self.path.split("?")[0].rstrip("/") or "/"
        if path == "/healthz":
            self.reply_json(HTTPStatus.OK, {"status": "ok"})
        elif path == "/readyz":
            ready, body = self.views.readiness()
            self.reply_json(HTTPStatus.OK if ready else HTTPStatus.SERVICE_UNAVAILABLE, body)
        elif path == "/metrics":
            self.reply(HTTPStatus.OK, generate_latest(self.views.registry), CONTENT_TYPE_LATEST)
        elif path == AGENTS_PATH:
            self.reply_json(HTTPStatus.OK, self.views.agents())
        elif path.startswith(AGENTS_PATH + "/"):
            self._agent(path.removeprefix(AGENTS_PATH + "/"))
        else:
            paths = "/healthz, /readyz, /metrics, /v1/agents"
            self.reply_json(HTTPStatus.NOT_FOUND, {"error": f"no such path; try {paths}"})

    def _agent(self, quoted_id: str) -> None:
        agent_id = unquote(quoted_id)
        body = self.views.agent(agent_id)
        if body is None:
            self.reply_json(
                HTTPStatus.NOT_FOUND, {"error": f"agent {agent_id!r} is not served here"}
            )
        else:
            self.reply_json(HTTPStatus.OK, body)
