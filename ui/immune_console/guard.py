"""The console's browser-facing guard: no framing, no foreign Host, no cross-origin socket.

- Every answer forbids framing (``X-Frame-Options: DENY`` and CSP
  ``frame-ancestors 'none'``): a click inside another site's iframe cannot
  approve an incident.
- ``Host`` must be one of the console's names (DNS rebinding: another site's
  name resolving to the console's loopback address is answered 421).
- A request or socket handshake that carries ``Origin`` must come from the
  console's own origin (403 otherwise).
"""

from collections.abc import Iterable

SECURITY_HEADERS = (
    (b"x-frame-options", b"DENY"),
    (b"content-security-policy", b"frame-ancestors 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
)
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})


def allowed_hosts(listen_host: str, configured: Iterable[str]) -> frozenset[str] | None:
    """The Host names the console answers to; None: any (listening on every address with
    no names configured, as behind a Service whose names the console cannot know)."""
    names = frozenset(n.lower() for n in configured)
    if names:
        return names | LOOPBACK_NAMES
    if listen_host in ("0.0.0.0", "::", ""):
        return None
    return LOOPBACK_NAMES | {listen_host.lower()}


class BrowserGuard:
    """ASGI middleware applying the rules above to HTTP requests and websockets."""

    def __init__(self, app, hosts: frozenset[str] | None = None) -> None:
        self.app, self.hosts = app, hosts

    async def __call__(self, scope, receive, send):
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or ())
        host = headers.get(b"host", b"").decode("latin-1")
        refusal = self._refusal(host, headers.get(b"origin", b"").decode("latin-1"))
        if refusal:
            return await _refuse(scope, receive, send, *refusal)
        return await self.app(scope, receive, _with_headers(send))

    def _refusal(self, host: str, origin: str) -> tuple[int, str] | None:
        if self.hosts is not None and _hostname(host) not in self.hosts:
            return 421, "this console does not answer to that host name"
        if origin and origin.split("://", 1)[-1].lower() != host.lower():
            return 403, "cross-origin requests are refused"
        return None


def _hostname(host: str) -> str:
    """``name:port``, ``[v6]:port`` or a bare name, lower-cased, without the port."""
    if host.startswith("["):
        return host[1:].split("]", 1)[0].lower()
    return host.rsplit(":", 1)[0].lower() if host.count(":") == 1 else host.lower()


def _with_headers(send):
    async def sending(message):
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", ()), *SECURITY_HEADERS]}
        await send(message)

    return sending


async def _refuse(scope, receive, send, status: int, reason: str) -> None:
    if scope["type"] == "websocket":
        await receive()  # websocket.connect
        await send({"type": "websocket.close", "code": 1008, "reason": reason})
        return
    body = reason.encode()
    headers = [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status,
                "headers": [*headers, *SECURITY_HEADERS]})  # fmt: skip
    await send({"type": "http.response.body", "body": body})
