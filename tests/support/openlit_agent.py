"""An agent loop on the real ``openai`` or ``anthropic`` client instrumented by OpenLIT
(``openlit.init()``), run in OpenLIT's own environment (``.venv-openlit``: it pins older
provider clients and instruments every HTTP library of the process it is started in, so it
gets a process of its own).

Reads commands from standard input, one a line, and answers each with ``ok``:
``interval N`` runs N invocations (each asks the model until it answers, at most
``MAX_TURNS`` turns) and exports spans and metrics; ``system TEXT`` changes the system
prompt; ``retries N`` lets the client retry a failed request N times; ``quit`` shuts the
providers down. Arguments: the sidecar's OTLP/HTTP endpoint, the provider's base URL, the
service name, the tool offered (JSON: name, description, parameters), the client
(``openai`` or ``anthropic``).
"""

import json
import sys
import tempfile

import anthropic
import openai
import openlit
from opentelemetry import metrics, trace

MAX_TURNS = 12
SYSTEM = "You are a careful operations assistant."
ASK = "How are the systems?"


class OpenAiLoop:
    """The loop on OpenAI's chat completions."""

    model = "gpt-4o-mini"

    def __init__(self, base_url: str, tool: dict) -> None:
        self.client = openai.OpenAI(base_url=base_url, api_key="test-key", max_retries=0)
        self.tool = {"type": "function", "function": tool}

    def invoke(self, system: str) -> None:
        messages = [{"role": "system", "content": system}, {"role": "user", "content": ASK}]
        for _ in range(MAX_TURNS):
            reply = self.client.chat.completions.create(
                model=self.model, messages=messages, tools=[self.tool]
            )
            message = reply.choices[0].message.model_dump(exclude_none=True)
            if not message.get("tool_calls"):
                return
            messages.append(message)
            for call in message["tool_calls"]:
                messages.append({"role": "tool", "tool_call_id": call["id"], "content": "ok"})


class AnthropicLoop:
    """The loop on Anthropic's messages."""

    model = "claude-sonnet-4"

    def __init__(self, base_url: str, tool: dict) -> None:
        self.client = anthropic.Anthropic(base_url=base_url, api_key="test-key", max_retries=0)
        self.tool = {"name": tool["name"], "description": tool["description"],
                     "input_schema": tool["parameters"]}  # fmt: skip

    def invoke(self, system: str) -> None:
        messages = [{"role": "user", "content": ASK}]
        for _ in range(MAX_TURNS):
            reply = self.client.messages.create(
                model=self.model, max_tokens=256, system=system, messages=messages,
                tools=[self.tool],
            )  # fmt: skip
            if reply.stop_reason != "tool_use":
                return
            messages.append({"role": "assistant", "content": reply.model_dump()["content"]})
            results = [{"type": "tool_result", "tool_use_id": block.id, "content": "ok"}
                       for block in reply.content if block.type == "tool_use"]  # fmt: skip
            messages.append({"role": "user", "content": results})


LOOPS = {"openai": OpenAiLoop, "anthropic": AnthropicLoop}


def main(endpoint: str, base_url: str, service: str, tool: str, kind: str) -> None:
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as prices:
        json.dump({}, prices)  # no price list: OpenLIT reports a cost of 0 (no download)
    openlit.init(otlp_endpoint=endpoint, application_name=service, environment="test",
                 disable_batch=True, disable_events=True, pricing_json=prices.name)  # fmt: skip
    loop = LOOPS[kind](base_url, json.loads(tool))
    system = SYSTEM
    for line in sys.stdin:
        command, _, arg = line.strip().partition(" ")
        if command == "interval":
            for _ in range(int(arg)):
                loop.invoke(system)
            trace.get_tracer_provider().force_flush()
            metrics.get_meter_provider().force_flush()
        elif command == "system":
            system = arg
        elif command == "retries":
            loop.client = loop.client.with_options(max_retries=int(arg))
        elif command == "quit":
            break
        print("ok", flush=True)
    loop.client.close()
    trace.get_tracer_provider().shutdown()
    metrics.get_meter_provider().shutdown()


if __name__ == "__main__":
    main(*sys.argv[1:6])
