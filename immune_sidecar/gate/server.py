"""The egress gate's listener: forwards an agent's LLM and MCP calls to their upstreams,
streams relayed event by event as they come, and enforces what the policy says.

It runs on its own event loop in its own thread (aiohttp serves the agent and calls
the upstream on the same loop). A call in flight is tracked by its task, so that a
quarantine ends it at once (``cut``): a stream with its API's terminal error event,
a call still waiting for its answer with the API's refusal.
"""

import asyncio
import contextlib
import dataclasses
import functools
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator

import aiohttp
from aiohttp import web
from multidict import CIMultiDict

from immune_common.config import split_address

from ..vitals.spans import LlmCall
from . import mcp, sse
from .dialects import ChatCompletions, Dialect, Reader
from .errors import GateError, Refusal
from .meter import Measured, Meter
from .policy import Policy, Rules
from .routes import HOP_BY_HOP, Route, describe
from .settings import GateSettings
from .tools import apply

log = logging.getLogger(__name__)
EVENT_STREAM = "text/event-stream"
RETRY_HEADER = "x-stainless-retry-count"
AGENT_HEADER = "x-immune-agent"
_ANSWER_DROP = HOP_BY_HOP | {"content-encoding"}
_FALLBACK = ChatCompletions()  # the error shape for paths no route serves
Terminal = Callable[[GateError], bytes | None]


@dataclasses.dataclass(frozen=True)
class _Answers:
    """How one kind of call answers its agent: the reader of the upstream's answer, the
    last event of a stream that broke off, the body of an error, the refusal of a cut."""

    reader: Reader | mcp.McpReader
    terminal: Terminal
    error_body: Callable[[GateError], bytes]
    refusal: Callable[[GateError], web.Response]


@dataclasses.dataclass
class _Exchange:
    """One call on its way upstream and back: what has come of it so far."""

    agent_id: str
    route: str
    started: float = dataclasses.field(default_factory=time.perf_counter)
    outcome: str = "failed"
    error_type: str = ""
    response: web.StreamResponse | None = None
    first: float | None = None  # when the first chunk of a stream came

    def measured(self, operation: str, provider: str, error: str, resent=False) -> Measured:
        """The call as the meter records it, timed now."""
        seconds = time.perf_counter() - self.started
        return Measured(self.agent_id, self.route, operation, provider, seconds,
                        self.outcome, error, resent)  # fmt: skip


class Gate:
    """The gate's server; ``start`` binds it, ``cut`` ends an agent's calls in flight."""

    def __init__(
        self,
        settings: GateSettings,
        table: dict[str, Route],
        policy: Policy,
        meter: Meter,
        agent_id: str,
    ) -> None:
        self._settings, self._table, self._policy, self._meter = settings, table, policy, meter
        self._agent_id = agent_id
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._calls: dict[str, set[asyncio.Task]] = {}
        self._cuts: dict[asyncio.Task, GateError] = {}
        self.port = 0

    def start(self) -> None:
        """Bind the listener and serve on a thread of its own; raises when it cannot bind."""
        self._loop = asyncio.new_event_loop()
        started = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            asyncio.set_event_loop(self._loop)
            try:
                self._loop.run_until_complete(self._open())
            except BaseException as exc:
                failure.append(exc)
                started.set()
                return
            started.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, name="egress-gate", daemon=True)
        self._thread.start()
        started.wait()
        if failure:
            self._thread.join()
            self._loop.close()
            self._loop = None
            raise failure[0]

    def stop(self) -> None:
        """Stop serving, end the calls in flight and close the upstream connections."""
        if self._loop is None or self._thread is None:
            return
        future = asyncio.run_coroutine_threadsafe(self._close(), self._loop)
        with contextlib.suppress(Exception):
            future.result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()
        self._loop = None

    def cut(self, agent_id: str, error: GateError) -> int:
        """End the agent's calls in flight with ``error``; how many there were."""
        if self._loop is None:
            return 0
        future = asyncio.run_coroutine_threadsafe(self._cut(agent_id, error), self._loop)
        return future.result(10)

    async def _cut(self, agent_id: str, error: GateError) -> int:
        tasks = list(self._calls.get(agent_id, ()))
        for task in tasks:
            self._cuts[task] = error
            task.cancel()
        return len(tasks)

    async def _open(self) -> None:
        s = self._settings
        timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=s.connect_timeout_seconds, sock_read=s.read_timeout_seconds
        )
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0, ttl_dns_cache=300),
            timeout=timeout,
            skip_auto_headers=("User-Agent",),
        )
        app = web.Application(client_max_size=s.max_body_bytes)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(
            app, access_log=None, handler_cancellation=True, shutdown_timeout=1.0
        )
        await self._runner.setup()
        host, port = split_address(s.listen, "gate.listen")
        site = web.TCPSite(self._runner, host, port)
        try:
            await site.start()
        except BaseException:
            await self._close()
            raise
        self.port = site._server.sockets[0].getsockname()[1]

    async def _close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    # One request

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        route = self._table.get(request.path)
        if route is None:
            error = GateError(
                Refusal.NO_ROUTE,
                f"the gate serves no {request.method} {request.path}; {describe(self._table)}",
            )
            self._meter.refused("none", error)
            return _refusal(_FALLBACK, error)
        agent_id = self._agent(request)
        with self._tracked(agent_id) as task:
            if route.dialect is None:
                return await self._mcp(request, route, agent_id, task)
            return await self._llm(request, route, route.dialect, agent_id, task)

    def _agent(self, request: web.Request) -> str:
        if self._settings.agent_header:
            return request.headers.get(AGENT_HEADER, "").strip()[:256] or self._agent_id
        return self._agent_id

    @contextlib.contextmanager
    def _tracked(self, agent_id: str) -> Iterator[asyncio.Task]:
        task = asyncio.current_task()
        calls = self._calls.setdefault(agent_id, set())
        calls.add(task)
        try:
            yield task
        finally:
            calls.discard(task)
            if not calls:
                self._calls.pop(agent_id, None)
            self._cuts.pop(task, None)

    def _was_cut(self, task: asyncio.Task) -> GateError | None:
        """The quarantine that cancelled ``task`` (which then goes on); None for any other
        cancellation (the client went away), which the caller lets through."""
        error = self._cuts.pop(task, None)
        if error is not None:
            task.uncancel()
        return error

    async def _llm(self, request, route: Route, dialect: Dialect, agent_id: str, task):
        done = _Exchange(agent_id, route.label)
        try:
            body = await self._read(request, task)
            payload = _json_object(body)
            rules = self._policy.rules(agent_id)
            self._policy.admit(agent_id, rules)
        except GateError as error:
            self._meter.refused(route.label, error)
            return _refusal(dialect, error)
        body, reader = self._shaped(payload, body, rules, dialect)
        answers = _Answers(reader, dialect.stream_error, dialect.error_body,
                           functools.partial(_refusal, dialect))  # fmt: skip
        try:
            await self._forward(request, route, body, task, answers, done)
        finally:
            self._meter.llm(*_llm_call(done, dialect, reader, payload, _resent(request)))
        return done.response

    def _shaped(
        self, payload: dict, body: bytes, rules: Rules, dialect: Dialect
    ) -> tuple[bytes, Reader]:
        """The body to send, the agent's rules applied to it, and the reader of its answer."""
        changes = apply(payload, rules, dialect.shape) if rules else []
        for change in changes:
            self._meter.metrics.shaped.labels(change.split(" ", 1)[0]).inc()
        strip_usage = dialect.prepare(payload)
        if changes or strip_usage:
            body = json.dumps(payload).encode()
        return body, dialect.reader(strip_usage)

    async def _mcp(self, request, route: Route, agent_id: str, task):
        done = _Exchange(agent_id, route.label)
        found: list[dict] = []
        try:
            body = await self._read(request, task)
            found = mcp.messages(body) if request.method == "POST" else []
            rules = self._policy.rules(agent_id)
            if rules.revoke is not None:
                _check_calls(found, rules.revoke.revoked)
        except GateError as error:
            self._meter.refused(route.label, error)
            return _mcp_refusal(found, error)  # none found when the body is no JSON-RPC
        requests = mcp.requests(found)
        calls = {m["id"]: t for m in requests if (t := mcp.called_tool(m)) is not None}
        lists = {m["id"] for m in requests if m.get("method") == "tools/list"}
        reader = mcp.McpReader(calls, lists, rules.revoke.revoked if rules.revoke else None)
        answers = _Answers(
            reader, _mcp_terminal([m["id"] for m in requests]),
            lambda e: mcp.answer(found, e) if requests else b"",
            functools.partial(_mcp_refusal, found),
        )  # fmt: skip
        try:
            await self._forward(request, route, body, task, answers, done)
        finally:
            method = str(found[0].get("method", "")) if len(found) == 1 else request.method
            call = done.measured(method, "mcp", done.error_type)
            for request_id, tool in calls.items() or [(None, None)]:
                self._meter.mcp(call, tool, reader.failed.get(request_id, done.outcome != "ok"))
        return done.response

    async def _forward(self, request, route: Route, body: bytes, task, answers, done) -> None:
        """Send ``body`` upstream and answer the agent as ``answers`` says, noting in ``done``
        what came of it; re-raises the cancellation of a client that went away."""
        try:
            upstream = await self._send(request, route, body)
            done.outcome = "ok" if upstream.status < 400 else "upstream_error"
            done.error_type = str(upstream.status) if upstream.status >= 400 else ""
            if upstream.content_type != EVENT_STREAM:
                done.response = await self._whole(upstream, answers.reader.body)
                return
            reader, terminal = answers.reader, answers.terminal
            response, done.first, ended = await self._relay(
                request, upstream, reader.event, terminal
            )
            done.response, done.outcome = response, ended or done.outcome
        except GateError as error:
            done.outcome, done.error_type = "failed", error.code
            done.response = self._failed(route, answers.error_body, error)
        except asyncio.CancelledError:
            error = self._was_cut(task)
            if error is None:
                done.outcome = "client_gone"
                raise
            done.outcome, done.response = "cut", answers.refusal(error)

    async def _read(self, request: web.Request, task: asyncio.Task) -> bytes:
        """The request's body; the quarantine's refusal when it came while the body did."""
        try:
            return await _body(request)
        except asyncio.CancelledError:
            error = self._was_cut(task)
            if error is None:
                raise
            raise error from None

    # Upstream

    async def _send(self, request: web.Request, route: Route, body: bytes):
        url = route.url + (f"?{request.query_string}" if request.query_string else "")
        headers = route.upstream_headers(request.headers)
        retry = self._settings.retry_after_seconds
        try:
            return await self._session.request(request.method, url, data=body, headers=headers)
        except aiohttp.ConnectionTimeoutError as exc:
            raise _unreachable(route, exc, retry) from None
        except TimeoutError:
            raise GateError(
                Refusal.UPSTREAM_TIMEOUT,
                f"{route.label} upstream did not answer within "
                f"{self._settings.read_timeout_seconds:g} s",
                retry,
            ) from None
        except aiohttp.ClientError as exc:
            raise _unreachable(route, exc, retry) from None

    async def _whole(self, upstream, read: Callable[[bytes], object]) -> web.Response:
        try:
            data = await upstream.read()
        except (TimeoutError, aiohttp.ClientError) as exc:
            upstream.close()
            raise GateError(
                Refusal.UPSTREAM_DOWN,
                f"the upstream broke off its answer: {type(exc).__name__}",
                self._settings.retry_after_seconds,
            ) from None
        upstream.release()
        body = read(data)
        return web.Response(
            status=upstream.status,
            body=body if isinstance(body, bytes) else data,
            headers=_answer_headers(upstream),
        )

    async def _relay(self, request, upstream, transform, terminal: Terminal):
        """Relay an event stream; (response, time of the first chunk, outcome or '')."""
        response = _Relayed(status=upstream.status, headers=_answer_headers(upstream))
        writer = await response.prepare(request)
        splitter, first, outcome = sse.EventSplitter(), None, ""
        content, gauge = upstream.content, self._meter.metrics.streams
        gauge.inc()
        try:
            chunk = content.read_nowait()  # what came with the headers leaves with them
            if not chunk:
                writer.send_headers()
                chunk = await content.readany()
            while chunk:
                first = first or time.perf_counter()
                out = b"".join(kept for event in splitter.feed(chunk) if (kept := transform(event)))
                if out:
                    await response.write(out)
                else:
                    writer.send_headers()
                chunk = await content.readany()
            # The end of the answer is left to aiohttp, after the call is recorded: an agent
            # that has its whole answer may close at once, and the call must not be cut then.
            if splitter.rest:
                await response.write(splitter.rest)
        except asyncio.CancelledError:
            error = self._was_cut(asyncio.current_task())
            if error is None:
                raise
            outcome = "cut"
            await _end(response, terminal(error))
        except (TimeoutError, aiohttp.ClientError, sse.EventTooLarge) as exc:
            outcome = "failed"
            await _end(response, terminal(self._broken(exc)))
        except ConnectionResetError:
            outcome = "client_gone"
        finally:
            gauge.dec()
            upstream.close()
        return response, first, outcome

    def _broken(self, exc: BaseException) -> GateError:
        kind = Refusal.UPSTREAM_TIMEOUT if isinstance(exc, TimeoutError) else Refusal.UPSTREAM_DOWN
        what = "went silent" if kind is Refusal.UPSTREAM_TIMEOUT else "broke off"
        return GateError(
            kind, f"the upstream {what} mid-stream ({type(exc).__name__})",
            self._settings.retry_after_seconds,
        )  # fmt: skip

    def _failed(self, route: Route, shape: Callable[[GateError], bytes], error: GateError):
        self._meter.metrics.upstream_errors.labels(route.label, error.code).inc()
        log.warning("%s: %s", route.label, error.message)
        return _error_response(error, shape(error))


async def _body(request: web.Request) -> bytes:
    try:
        return await request.read()
    except web.HTTPRequestEntityTooLarge as exc:
        raise GateError(
            Refusal.TOO_LARGE, f"the request body is over the gate's limit: {exc.text}"
        ) from None


def _json_object(body: bytes) -> dict:
    try:
        payload = json.loads(body)
    except ValueError as exc:
        raise GateError(Refusal.MALFORMED, f"the request body is not JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise GateError(Refusal.MALFORMED, "the request body must be a JSON object")
    return payload


def _check_calls(found: list[dict], revoked: Callable[[str], bool]) -> None:
    for message in found:
        tool = mcp.called_tool(message)
        if tool is not None and revoked(tool):
            raise GateError(
                Refusal.REVOKED_TOOL, f"tool {tool!r} is revoked for this agent while it heals"
            )


class _Relayed(web.StreamResponse):
    """A relayed answer whose headers wait for its first piece, so that both leave in one
    packet (a stream's headers alone cost the agent a wake-up for nothing)."""

    _send_headers_immediately = False


def _error_response(error: GateError, body: bytes, status: int | None = None) -> web.Response:
    """A JSON error answer with the error's status (or ``status``) and retry hints."""
    return web.Response(
        status=status or error.status, body=body, headers=error.headers(),
        content_type="application/json",
    )  # fmt: skip


def _refusal(dialect: Dialect, error: GateError) -> web.Response:
    return _error_response(error, dialect.error_body(error))


def _mcp_refusal(found: list[dict], error: GateError) -> web.Response:
    """JSON-RPC errors for the requests of a POST (HTTP 200, as MCP answers them); with
    none to answer (a GET, notifications, a body that is no JSON-RPC), an HTTP error
    whose body is a JSON-RPC error without an id."""
    if mcp.requests(found):
        return web.Response(body=mcp.answer(found, error), content_type="application/json")
    status = 400 if error.kind is Refusal.MALFORMED else error.status
    return _error_response(error, json.dumps(mcp.error(None, error)).encode(), status)


def _mcp_terminal(ids: list) -> Terminal:
    def terminal(error: GateError) -> bytes | None:
        events = [sse.encode(mcp.error(i, error), "message") for i in ids]
        return b"".join(events) or None

    return terminal


async def _end(response: web.StreamResponse, last: bytes | None) -> None:
    with contextlib.suppress(ConnectionResetError):
        if last:
            await response.write(last)


def _answer_headers(upstream) -> CIMultiDict:
    return CIMultiDict((k, v) for k, v in upstream.headers.items() if k.lower() not in _ANSWER_DROP)


def _unreachable(route: Route, exc: BaseException, retry: float) -> GateError:
    return GateError(
        Refusal.UPSTREAM_DOWN,
        f"{route.label} upstream {route.url} is unreachable ({type(exc).__name__}: {exc})",
        retry,
    )


def _llm_call(done: _Exchange, dialect: Dialect, reader: Reader, payload: dict, resent: bool):
    """The LLM call as measured, and as the agent's vitals take it."""
    status = done.response.status if done.response is not None else 499
    failed = status >= 400 or bool(reader.error)
    error = reader.error or (str(status) if failed else "")
    call = done.measured(dialect.operation, dialect.provider, error, resent)
    answer = LlmCall(
        call.seconds, failed, reader.model or str(payload.get("model") or ""),
        dialect.provider, reader.input_tokens, reader.output_tokens,
        bool(reader.finish), reader.asked_tools,
        first_chunk_seconds=None if done.first is None else done.first - done.started,
        resent=resent,
    )  # fmt: skip
    return call, answer


def _resent(request: web.Request) -> bool:
    value = request.headers.get(RETRY_HEADER, "")
    return value.isdigit() and int(value) > 0
