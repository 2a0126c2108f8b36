"""An agent loop on the real ``openai`` client instrumented by OpenLIT (``openlit.init()``),
run in OpenLIT's own environment (``.venv-openlit``: it pins older provider clients and
instruments every HTTP library of the process it is started in, so it gets a process of
its own).

Reads commands from standard input, one a line, and answers each with ``ok``:
``interval N`` runs N invocations (each asks the model until it answers, at most
``MAX_TURNS`` turns) and exports spans and metrics; ``system TEXT`` changes the system
prompt; ``retries N`` lets the client retry a failed request N times; ``quit`` shuts the
providers down. Arguments: the sidecar's OTLP/HTTP endpoint, the provider's base URL, the
service name, the tool offered (JSON).
"""

import json
import sys
import tempfile

import openlit
from openai import OpenAI
from opentelemetry import metrics, trace

MODEL = "gpt-4o-mini"
MAX_TURNS = 12


def main(endpoint: str, base_url: str, service: str, tool: str) -> None:
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as prices:
        json.dump({}, prices)  # no price list: OpenLIT reports a cost of 0 (no download)
    openlit.init(otlp_endpoint=endpoint, application_name=service, environment="test",
                 disable_batch=True, disable_events=True, pricing_json=prices.name)  # fmt: skip
    client = OpenAI(base_url=base_url, api_key="test-key", max_retries=0)
    system = "You are a careful operations assistant."
    for line in sys.stdin:
        command, _, arg = line.strip().partition(" ")
        if command == "interval":
            for _ in range(int(arg)):
                invoke(client, system, json.loads(tool))
            trace.get_tracer_provider().force_flush()
            metrics.get_meter_provider().force_flush()
        elif command == "system":
            system = arg
        elif command == "retries":
            client = client.with_options(max_retries=int(arg))
        elif command == "quit":
            break
        print("ok", flush=True)
    client.close()
    trace.get_tracer_provider().shutdown()
    metrics.get_meter_provider().shutdown()


def invoke(client: OpenAI, system: str, tool: dict) -> None:
    messages = [{"role": "system", "content": system},
                {"role": "user", "content": "How are the systems?"}]  # fmt: skip
    for _ in range(MAX_TURNS):
        reply = client.chat.completions.create(model=MODEL, messages=messages, tools=[tool])
        message = reply.choices[0].message.model_dump(exclude_none=True)
        if not message.get("tool_calls"):
            return
        messages.append(message)
        for call in message["tool_calls"]:
            messages.append({"role": "tool", "tool_call_id": call["id"], "content": "ok"})


if __name__ == "__main__":
    main(*sys.argv[1:5])
