"""The egress gate with the real openai, anthropic and MCP SDKs pointed at a real sidecar,
forwarding to local upstreams that speak each provider's wire format. Every enforcement
case says what the SDK raised and how many calls reached the upstream."""

import asyncio
import json
import socket
import threading
import time
import urllib.error
import urllib.request

import anthropic
import openai
import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError

from immune_common.config import ConfigError
from immune_sidecar.actuate import APPLY_ACTION, QUARANTINE, Command
from immune_sidecar.config import ActuatorConfig, SidecarConfig
from immune_sidecar.gate import AutonomyLimits, GateSettings, RevokeToolsLimits, RouteConfig
from tests.support.providers import TEXT, McpUpstream, Provider
from tests.support.sidecar import LOOPBACK, free_port, metric, start_sidecar

AGENT = "pod-7"
KEY = "sk-held-by-the-sidecar"
MODEL = "gpt-4o-mini"
TOOLS = [
    {"type": "function", "function": {"name": "search", "parameters": {"type": "object"}}},
    {"type": "function", "function": {"name": "delete_records", "parameters": {"type": "object"}}},
]
CLAUDE_TOOLS = [
    {"name": "search", "input_schema": {"type": "object"}},
    {"name": "delete_records", "input_schema": {"type": "object"}},
]
ASK = [{"role": "user", "content": "How are the systems?"}]


def gate_settings(provider: Provider, mcp_url: str = "", **overrides) -> GateSettings:
    routes = [
        RouteConfig(kind="openai", upstream=provider.url, api_key_env="TEST_OPENAI_KEY"),
        RouteConfig(kind="anthropic", upstream=provider.url, api_key_env="TEST_OPENAI_KEY"),
    ]
    if mcp_url:
        routes.append(RouteConfig(kind="mcp", name="records", upstream=mcp_url))
    return GateSettings(listen="127.0.0.1:0", agent=AGENT, routes=tuple(routes), **overrides)


@pytest.fixture
def provider():
    upstream = Provider()
    yield upstream
    upstream.close()


@pytest.fixture(scope="module")
def mcp_upstream():
    upstream = McpUpstream()
    yield upstream
    upstream.close()


@pytest.fixture
def world(provider, mcp_upstream, monkeypatch):
    """A sidecar with its gate in front of the local upstreams (no other actuator)."""
    monkeypatch.setenv("TEST_OPENAI_KEY", KEY)
    sidecar = start_sidecar(gate=gate_settings(provider, mcp_upstream.url), actuators=())
    yield sidecar
    sidecar.stop()


def base(sidecar) -> str:
    return f"http://127.0.0.1:{sidecar.ports['gate']}"


def openai_client(sidecar, **kw) -> openai.OpenAI:
    return openai.OpenAI(base_url=base(sidecar) + "/v1", api_key="agent-has-no-key", **kw)


def claude_client(sidecar, **kw) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=base(sidecar), api_key="agent-has-no-key", **kw)


def mcp_call(sidecar, *steps):
    """Run MCP client steps (``("list",)``, ``("call", tool, args)`` or ``("do", fn)``) in
    one session."""

    async def run():
        results = []
        async with Client(base(sidecar) + "/mcp/records") as client:
            for step in steps:
                if step[0] == "do":
                    step[1]()
                elif step[0] == "list":
                    results.append([t.name for t in (await client.list_tools()).tools])
                else:
                    try:
                        results.append(await client.call_tool(step[1], step[2]))
                    except MCPError as exc:
                        results.append(exc)
        return results

    return asyncio.run(run())


def quarantine(sidecar, agent_id: str = AGENT) -> None:
    """Hold the agent as the pipeline does: the book first, then the actuators."""
    sidecar.book.eject(agent_id, "tool_explosion (test)", ("tool_explosion",), 5.0, "inf-1",
                       time.time())  # fmt: skip
    sidecar.runner.submit(Command(QUARANTINE, agent_id, reason="test", incident_id="inc-42"))


def heal(sidecar, action: str, agent_id: str = AGENT) -> None:
    done = threading.Event()
    outcomes = []
    sidecar.runner._on_done = lambda c, o: (outcomes.extend(o), done.set())
    sidecar.runner.submit(Command(APPLY_ACTION, agent_id, action=action, incident_id="inc-42"))
    assert done.wait(5)
    (outcome,) = outcomes
    assert outcome.actuator == "gate" and outcome.ok, outcome
    return outcome


def requests_in_flight(sidecar) -> int:
    return sum(len(calls) for calls in sidecar.gate._calls.values())


def requests_counted(sidecar, route: str, outcome: str) -> float:
    return metric(sidecar, "immune_gate_requests_total", route=route, outcome=outcome)


# Forwarding and key custody


def test_openai_calls_pass_with_the_sidecars_key(world, provider):
    client = openai_client(world)
    reply = client.chat.completions.create(model=MODEL, messages=ASK, tools=TOOLS)
    assert reply.choices[0].message.tool_calls[0].function.name == "search"
    chunks = list(client.chat.completions.create(model=MODEL, messages=ASK, stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices).strip()
    # The gate asked the upstream for usage and stripped it again: the client did not ask.
    assert all(c.usage is None for c in chunks)
    assert provider.bodies("/v1/chat/completions")[1]["stream_options"] == {"include_usage": True}
    assert client.responses.create(model=MODEL, input="hi").output_text == TEXT
    events = [e.type for e in client.responses.create(model=MODEL, input="hi", stream=True)]
    assert events[0] == "response.created" and events[-1] == "response.completed"
    for _, headers, _ in provider.requests:
        assert headers["Authorization"] == f"Bearer {KEY}"
    figures = world.mapper.calls._pending[AGENT]
    assert figures.llm_calls == 4 and figures.tool_turns == 1
    assert figures.tokens_by_model[MODEL] == [480.0, 120.0]  # the streamed usage included
    assert figures.first_chunks == 2  # the two streams
    assert requests_counted(world, "openai", "ok") == 4


def test_anthropic_calls_pass_with_the_sidecars_key(world, provider):
    client = claude_client(world)
    reply = client.messages.create(model="claude", max_tokens=200, messages=ASK, tools=CLAUDE_TOOLS)
    assert reply.content[0].type == "tool_use"
    with client.messages.stream(model="claude", max_tokens=200, messages=ASK) as stream:
        assert stream.get_final_text().startswith(TEXT)
    for _, headers, _ in provider.requests:
        assert headers["x-api-key"] == KEY and "Authorization" not in headers
    figures = world.mapper.calls._pending[AGENT]
    assert figures.llm_calls == 2 and figures.tool_turns == 1
    assert figures.tokens_by_model["claude"] == [240.0, 60.0]


def test_a_streams_headers_reach_the_agent_before_the_models_first_chunk(world, provider):
    # The upstream answers its headers and holds the first event until the client has them;
    # a gate that held the headers for the first chunk would let the client time out.
    provider.hold = threading.Event()
    client = openai_client(world, timeout=3.0, max_retries=0)
    stream = client.chat.completions.create(model=MODEL, messages=ASK, stream=True)
    provider.hold.set()
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text.startswith(TEXT) and provider.calls == 1


def test_mcp_passes_through_and_its_tool_calls_are_vitals(world, mcp_upstream):
    before = len(mcp_upstream.calls)
    tools, result = mcp_call(world, ("list",), ("call", "search", {"q": "x"}))
    assert tools == ["search", "delete_records", "slow_report"]
    assert "3 records match" in result.content[0].text
    assert mcp_upstream.calls[before:] == ["search"]
    figures = world.mapper.calls._pending[AGENT]
    assert figures.tool_runs == 1 and figures.tools == {"search"}
    assert metric(world, "mcp_client_operation_duration_seconds_count",
                  mcp_method_name="tools/call", error_type="") == 1  # fmt: skip


def test_a_gate_only_agent_gets_samples_from_its_calls(provider, monkeypatch):
    """No OTLP at all: the gate's calls become samples on the sidecar's tick."""
    monkeypatch.setenv("TEST_OPENAI_KEY", KEY)
    sidecar = start_sidecar(gate=gate_settings(provider), actuators=(), span_interval_seconds=1)
    try:
        client = openai_client(sidecar)
        for _ in range(3):
            client.chat.completions.create(model=MODEL, messages=ASK, tools=TOOLS)
        deadline = time.monotonic() + 10
        while not sidecar.agents.records() and time.monotonic() < deadline:
            time.sleep(0.1)
        (record,) = sidecar.agents.records()
        assert record.agent_id == AGENT and record.labels.model == MODEL
        assert record.latest.values["llm_calls"] == 3
        assert record.latest.values["tool_calls"] == 1.0  # every call asked for a tool
        assert record.latest.values["input_tokens"] == 120
    finally:
        sidecar.stop()


# Quarantine


def test_quarantine_refuses_llm_calls_without_retries(world, provider):
    quarantine(world)
    client = openai_client(world, max_retries=2)
    with pytest.raises(openai.PermissionDeniedError) as err:
        client.chat.completions.create(model=MODEL, messages=ASK)
    assert err.value.status_code == 403 and err.value.code == "agent_quarantined"
    assert err.value.response.headers["x-should-retry"] == "false"
    assert "inc-42" in err.value.message and AGENT in err.value.message
    with pytest.raises(anthropic.PermissionDeniedError) as err:
        claude_client(world, max_retries=2).messages.create(
            model="claude", max_tokens=10, messages=ASK
        )
    assert err.value.body["error"]["type"] == "permission_error"
    assert provider.calls == 0
    # One refusal per call: the SDKs' two retries each were not sent.
    assert requests_counted(world, "openai", "refused") == 1
    assert requests_counted(world, "anthropic", "refused") == 1
    assert metric(world, "immune_gate_refused_total", reason="quarantined") == 2


def test_quarantine_refuses_mcp_calls_with_a_jsonrpc_error(world, mcp_upstream):
    before = len(mcp_upstream.calls)
    (result,) = mcp_call(world, ("do", lambda: quarantine(world)), ("call", "search", {"q": "x"}))
    assert isinstance(result, MCPError) and result.error.code == -32001
    assert "quarantined" in result.error.message
    assert mcp_upstream.calls[before:] == []


def test_a_quarantine_while_the_body_is_still_coming_is_answered_not_dropped(world, provider):
    body = json.dumps({"model": MODEL, "messages": ASK}).encode()
    with socket.create_connection(("127.0.0.1", world.ports["gate"]), timeout=10) as conn:
        head = (
            f"POST /v1/chat/completions HTTP/1.1\r\nHost: gate\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        conn.sendall(head.encode() + body[:10])  # the rest never comes
        deadline = time.time() + 5
        while requests_in_flight(world) == 0 and time.time() < deadline:
            time.sleep(0.01)
        quarantine(world)
        answer = conn.recv(65536).decode()
    assert answer.startswith("HTTP/1.1 403") and "agent_quarantined" in answer
    assert provider.calls == 0


def test_release_lets_calls_through_again(world, provider):
    quarantine(world)
    with pytest.raises(openai.PermissionDeniedError):
        openai_client(world).chat.completions.create(model=MODEL, messages=ASK)
    world.book.release(AGENT, time.time())
    openai_client(world).chat.completions.create(model=MODEL, messages=ASK)
    assert provider.calls == 1


def _stream_until_cut(world, provider, read):
    """Start a slow stream, quarantine once its first chunk is in; what the reader saw."""
    provider.chunks, provider.chunk_delay = 100, 0.05
    seen, raised = [], []

    def consume():
        try:
            read(seen)
        except Exception as exc:
            raised.append(exc)

    thread = threading.Thread(target=consume)
    thread.start()
    deadline = time.monotonic() + 10
    while not seen and time.monotonic() < deadline:
        time.sleep(0.01)
    quarantine(world)
    thread.join(10)
    assert not thread.is_alive()
    assert 0 < len(seen) < 100, "the stream was neither started nor cut"
    deadline = time.monotonic() + 5
    while provider.disconnects < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert provider.disconnects == 1  # the upstream's generation stopped too
    assert metric(world, "immune_gate_streams_in_flight") == 0
    return raised


def test_a_chat_stream_in_flight_ends_with_the_terminal_error_event(world, provider):
    client = openai_client(world, max_retries=2)

    def read(seen):
        for chunk in client.chat.completions.create(model=MODEL, messages=ASK, stream=True):
            seen.append(chunk)

    (raised,) = _stream_until_cut(world, provider, read)
    assert isinstance(raised, openai.APIError) and "quarantined" in raised.message
    assert raised.body["code"] == "agent_quarantined"
    assert provider.calls == 1  # not retried
    assert requests_counted(world, "openai", "cut") == 1


def test_a_responses_stream_in_flight_ends_with_the_terminal_error_event(world, provider):
    client = openai_client(world)

    def read(seen):
        for event in client.responses.create(model=MODEL, input="hi", stream=True):
            seen.append(event)

    (raised,) = _stream_until_cut(world, provider, read)
    assert isinstance(raised, openai.APIError) and "quarantined" in raised.message


def test_an_anthropic_stream_in_flight_ends_with_the_error_event(world, provider):
    client = claude_client(world, max_retries=2)

    def read(seen):
        with client.messages.stream(model="claude", max_tokens=10, messages=ASK) as stream:
            for event in stream:
                seen.append(event)

    (raised,) = _stream_until_cut(world, provider, read)
    assert isinstance(raised, anthropic.APIStatusError)
    assert "quarantined" in str(raised) and provider.calls == 1


def test_an_mcp_call_in_flight_ends_with_a_jsonrpc_error(world, mcp_upstream):
    results = []
    thread = threading.Thread(
        target=lambda: results.extend(mcp_call(world, ("call", "slow_report", {"seconds": 5})))
    )
    thread.start()
    deadline = time.monotonic() + 10
    while "slow_report" not in mcp_upstream.calls and time.monotonic() < deadline:
        time.sleep(0.01)
    started = time.monotonic()
    quarantine(world)
    thread.join(10)
    (result,) = results
    assert isinstance(result, MCPError) and result.error.code == -32001
    assert time.monotonic() - started < 3  # not after the tool's five seconds


# Healing at the gate


def test_revoke_tools_strips_every_tool_so_the_model_answers_in_text(world, provider):
    outcome = heal(world, "revoke_tools")
    assert "every tool" in outcome.message
    client = openai_client(world)
    choice = {"type": "function", "function": {"name": "delete_records"}}
    reply = client.chat.completions.create(
        model=MODEL, messages=ASK, tools=TOOLS, tool_choice=choice
    )
    assert reply.choices[0].message.content == TEXT
    sent = provider.bodies("/v1/chat/completions")[-1]
    assert not {"tools", "tool_choice"} & set(sent)
    claude = claude_client(world).messages.create(
        model="claude", max_tokens=100, messages=ASK, tools=CLAUDE_TOOLS
    )
    assert claude.content[0].type == "text" and "tools" not in provider.bodies("/v1/messages")[-1]
    assert metric(world, "immune_gate_shaped_requests_total", action="stripped") == 2


def test_revoke_named_tools_filters_mcp_and_refuses_their_calls(
    provider, mcp_upstream, monkeypatch
):
    monkeypatch.setenv("TEST_OPENAI_KEY", KEY)
    settings = gate_settings(
        provider, mcp_upstream.url, revoke_tools=RevokeToolsLimits(("delete_records",))
    )
    sidecar = start_sidecar(gate=settings, actuators=())
    try:
        heal(sidecar, "revoke_tools")
        before = len(mcp_upstream.calls)
        tools, refused, allowed = mcp_call(
            sidecar,
            ("list",),
            ("call", "delete_records", {"q": "*"}),
            ("call", "search", {"q": "x"}),
        )
        assert tools == ["search", "slow_report"]
        assert "3 records match" in allowed.content[0].text
        assert isinstance(refused, MCPError) and refused.error.code == -32602
        assert "revoked" in refused.error.message
        assert mcp_upstream.calls[before:] == ["search"]
        # The LLM keeps the tools not revoked; a tool_choice naming a revoked one goes auto.
        choice = {"type": "function", "function": {"name": "delete_records"}}
        openai_client(sidecar).chat.completions.create(
            model=MODEL, messages=ASK, tools=TOOLS, tool_choice=choice
        )
        sent = provider.bodies("/v1/chat/completions")[-1]
        assert [t["function"]["name"] for t in sent["tools"]] == ["search"]
        assert sent["tool_choice"] == "auto"
    finally:
        sidecar.stop()


def test_reduce_autonomy_clamps_output_and_tool_rounds(world, provider):
    outcome = heal(world, "reduce_autonomy")
    assert "1024 output tokens" in outcome.message
    client = openai_client(world)
    client.chat.completions.create(model=MODEL, messages=ASK, max_tokens=8000)
    assert provider.bodies("/v1/chat/completions")[-1]["max_tokens"] == 1024
    client.chat.completions.create(model=MODEL, messages=ASK)  # no limit asked: one is set
    assert provider.bodies("/v1/chat/completions")[-1]["max_completion_tokens"] == 1024
    claude_client(world).messages.create(model="claude", max_tokens=9000, messages=ASK)
    assert provider.bodies("/v1/messages")[-1]["max_tokens"] == 1024
    # Three tool rounds in: tools go, so the model must answer in text.
    rounds = []
    for n in range(3):
        call = {"id": f"c{n}", "type": "function",
                "function": {"name": "search", "arguments": "{}"}}  # fmt: skip
        rounds += [{"role": "assistant", "tool_calls": [call]},
                   {"role": "tool", "tool_call_id": f"c{n}", "content": "ok"}]  # fmt: skip
    reply = client.chat.completions.create(
        model=MODEL, messages=ASK + rounds[:4] + ASK, tools=TOOLS
    )
    assert reply.choices[0].message.tool_calls  # two rounds: tools still offered
    reply = client.chat.completions.create(model=MODEL, messages=ASK + rounds + ASK, tools=TOOLS)
    assert reply.choices[0].message.content == TEXT
    assert "tools" not in provider.bodies("/v1/chat/completions")[-1]


def test_reduce_autonomy_caps_the_call_rate_with_a_retry_hint(provider, monkeypatch):
    monkeypatch.setenv("TEST_OPENAI_KEY", KEY)
    limits = AutonomyLimits(requests_per_minute=3)  # a burst of one, then one per 20 s
    sidecar = start_sidecar(gate=gate_settings(provider, reduce_autonomy=limits), actuators=())
    try:
        heal(sidecar, "reduce_autonomy")
        client = openai_client(sidecar, max_retries=0)
        client.chat.completions.create(model=MODEL, messages=ASK)
        with pytest.raises(openai.RateLimitError) as err:
            client.chat.completions.create(model=MODEL, messages=ASK)
        headers = err.value.response.headers
        assert 1 <= int(headers["retry-after"]) <= 20
        assert 1 <= int(headers["retry-after-ms"]) <= 20_000
        assert headers["x-should-retry"] == "true"
        assert err.value.code == "agent_rate_limited"
        assert provider.calls == 1
    finally:
        sidecar.stop()


# Bad input and broken upstreams


def post(sidecar, path: str, body: bytes, headers=None) -> tuple[int, dict, dict]:
    request = urllib.request.Request(
        base(sidecar) + path, body, {"Content-Type": "application/json", **(headers or {})}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as r:
            return r.status, dict(r.headers), json.loads(r.read())
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), json.loads(exc.read())


def test_malformed_oversized_and_unknown_requests_get_clear_answers(provider, monkeypatch):
    monkeypatch.setenv("TEST_OPENAI_KEY", KEY)
    sidecar = start_sidecar(gate=gate_settings(provider, max_body_bytes=4096), actuators=())
    try:
        status, headers, body = post(sidecar, "/v1/chat/completions", b"{not json")
        assert status == 400 and body["error"]["type"] == "invalid_request_error"
        assert "not JSON" in body["error"]["message"] and headers["x-should-retry"] == "false"
        status, _, body = post(sidecar, "/v1/messages", b"[1, 2]")
        assert status == 400 and body["type"] == "error"  # Anthropic's shape
        status, _, body = post(sidecar, "/v1/chat/completions", b'{"x": "' + b"a" * 5000 + b'"}')
        assert status == 413 and body["error"]["code"] == "request_too_large"
        status, _, body = post(sidecar, "/v2/embeddings", b"{}")
        assert status == 404 and "/v1/chat/completions" in body["error"]["message"]
        status, _, body = post(sidecar, "/mcp/records", b"{}")
        assert status == 404  # no MCP route configured here
        assert provider.calls == 0
        client = openai_client(sidecar)
        assert client.chat.completions.create(model=MODEL, messages=ASK).choices  # still up
    finally:
        sidecar.stop()


def test_an_upstream_that_is_down_gets_a_retryable_provider_error(monkeypatch):
    monkeypatch.setenv("TEST_OPENAI_KEY", KEY)
    down = f"http://127.0.0.1:{free_port()}"
    routes = (RouteConfig(kind="openai", upstream=down, api_key_env="TEST_OPENAI_KEY"),)
    settings = GateSettings(listen="127.0.0.1:0", agent=AGENT, routes=routes,
                            retry_after_seconds=0.01)  # fmt: skip
    sidecar = start_sidecar(gate=settings, actuators=())
    try:
        with pytest.raises(openai.APIStatusError) as err:
            openai_client(sidecar, max_retries=1).chat.completions.create(model=MODEL, messages=ASK)
        assert err.value.status_code == 502 and err.value.code == "upstream_unreachable"
        assert err.value.response.headers["x-should-retry"] == "true"
        assert err.value.response.headers["retry-after"] == "1"
        assert requests_counted(sidecar, "openai", "failed") == 2  # the call and one retry
        assert metric(sidecar, "immune_gate_upstream_errors_total",
                      route="openai", kind="upstream_unreachable") == 2  # fmt: skip
    finally:
        sidecar.stop()


def _upstream_that_breaks_off(answered: threading.Event) -> tuple[socket.socket, threading.Thread]:
    """An upstream that sends the headers of a JSON answer and part of its body, then hangs up."""
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                         b"Content-Length: 1000\r\n\r\n{\"id\": \"chatcmpl-")  # fmt: skip
            answered.set()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return listener, thread


def test_an_answer_the_upstream_breaks_off_is_a_failed_call(monkeypatch):
    monkeypatch.setenv("TEST_OPENAI_KEY", KEY)
    answered = threading.Event()
    listener, thread = _upstream_that_breaks_off(answered)
    upstream = f"http://127.0.0.1:{listener.getsockname()[1]}"
    routes = (RouteConfig(kind="openai", upstream=upstream, api_key_env="TEST_OPENAI_KEY"),)
    sidecar = start_sidecar(gate=GateSettings(listen="127.0.0.1:0", agent=AGENT, routes=routes),
                            actuators=())  # fmt: skip
    try:
        with pytest.raises(openai.APIStatusError) as err:
            openai_client(sidecar, max_retries=0).chat.completions.create(model=MODEL, messages=ASK)
        assert answered.is_set() and err.value.status_code == 502
        assert "broke off its answer" in err.value.message
        assert requests_counted(sidecar, "openai", "failed") == 1
        assert requests_counted(sidecar, "openai", "ok") == 0
    finally:
        sidecar.stop()
        listener.close()
        thread.join(5)


def test_a_silent_upstream_times_out_before_and_during_a_stream(provider, monkeypatch):
    monkeypatch.setenv("TEST_OPENAI_KEY", KEY)
    settings = gate_settings(provider, read_timeout_seconds=0.3)
    sidecar = start_sidecar(gate=settings, actuators=())
    try:
        provider.first_delay = 1.0
        with pytest.raises(openai.APIStatusError) as err:
            openai_client(sidecar, max_retries=0).chat.completions.create(model=MODEL, messages=ASK)
        assert err.value.status_code == 504 and err.value.code == "upstream_timeout"
        provider.first_delay, provider.chunk_delay = 0.0, 1.0
        with pytest.raises(openai.APIError) as err:
            list(openai_client(sidecar).chat.completions.create(
                model=MODEL, messages=ASK, stream=True
            ))  # fmt: skip
        assert "went silent" in err.value.message
    finally:
        sidecar.stop()


def test_a_client_gone_mid_stream_closes_the_upstream_too(world, provider):
    provider.chunks, provider.chunk_delay = 100, 0.05
    body = json.dumps({"model": MODEL, "messages": ASK, "stream": True}).encode()
    with socket.create_connection(("127.0.0.1", world.ports["gate"])) as conn:
        conn.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        assert b"200 OK" in conn.recv(4096)
    deadline = time.monotonic() + 5
    while provider.disconnects < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert provider.disconnects == 1
    while metric(world, "immune_gate_streams_in_flight") and time.monotonic() < deadline:
        time.sleep(0.01)
    assert metric(world, "immune_gate_streams_in_flight") == 0
    provider.chunks, provider.chunk_delay = 4, 0.0
    assert openai_client(world).chat.completions.create(model=MODEL, messages=ASK).choices


# Configuration


@pytest.mark.parametrize(
    ("route", "message"),
    [
        (RouteConfig(kind="openai", upstream="http://api.example.com"), "neither https"),
        (RouteConfig(kind="openai", upstream="ftp://127.0.0.1"), "neither https"),
        (RouteConfig(kind="mcp", upstream="https://mcp.example.com/mcp"), "needs a name"),
        (RouteConfig(kind="gemini"), "not one of"),
        (RouteConfig(kind="openai", prefix="v2"), "must start with /"),
    ],
)
def test_bad_routes_are_refused_at_start(route, message):
    with pytest.raises(ConfigError, match=message):
        GateSettings(listen="127.0.0.1:0", routes=(route,))


def test_two_routes_on_one_path_and_a_gate_actuator_without_a_gate_are_refused():
    openai_route = RouteConfig(kind="openai")
    with pytest.raises(ConfigError, match="already served"):
        GateSettings(listen="127.0.0.1:0", routes=(openai_route, openai_route))
    local = RouteConfig(kind="openai", prefix="/local")
    GateSettings(listen="127.0.0.1:0", routes=(openai_route, local))
    with pytest.raises(ConfigError, match=r"needs gate\.listen"):
        SidecarConfig(**LOOPBACK, actuators=(ActuatorConfig(kind="gate"),))


def test_a_missing_key_is_a_config_error_at_start(monkeypatch):
    monkeypatch.delenv("NO_SUCH_KEY", raising=False)
    routes = (RouteConfig(kind="openai", api_key_env="NO_SUCH_KEY"),)
    with pytest.raises(ConfigError, match=r"\$NO_SUCH_KEY is not set"):
        start_sidecar(gate=GateSettings(listen="127.0.0.1:0", routes=routes))
