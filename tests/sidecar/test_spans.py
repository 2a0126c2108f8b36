"""Span figures: the prompt fingerprint from captured content, hostile content, retries,
and an agent that sends spans alone."""

import dataclasses
import datetime
import json
import random
import uuid

import pytest

from bench.evaluation.detection import SimClock, exports
from bench.evaluation.scenario import generate
from bench.evaluation.spans import SdkSpanRecorder
from bench.evaluation.workload import HEALTHY, Effect, draw
from immune_sidecar.app import Sidecar
from immune_sidecar.config import SidecarConfig
from immune_sidecar.quarantine import EjectionPolicy
from immune_sidecar.receiver.codec import PROTOBUF
from immune_sidecar.receiver.signals import TRACES
from immune_sidecar.vitals.spans import MAX_MESSAGES_CHARS, read_prompt


def prompt_fingerprint(attrs: dict) -> str:
    """The hash of the call's prompt print ('' where none was captured)."""
    return read_prompt(attrs).hash


def messages(system: str) -> dict:
    parts = [{"role": "system", "parts": [{"type": "text", "content": system}]},
             {"role": "user", "parts": [{"type": "text", "content": "hi"}]}]  # fmt: skip
    return {"gen_ai.input.messages": json.dumps(parts)}


def test_the_fingerprint_follows_the_system_prompt_and_never_shows_it():
    careful = prompt_fingerprint(messages("You are careful."))
    assert careful == prompt_fingerprint(messages("You are careful."))
    assert careful != prompt_fingerprint(messages("You are reckless."))
    assert "careful" not in careful
    tools = {"gen_ai.tool.definitions": '[{"name": "search"}]'}
    with_tools = prompt_fingerprint({**messages("You are careful."), **tools})
    assert with_tools not in ("", careful)  # a new tool set is a new prompt too


@pytest.mark.parametrize("when", ["%A, %d %B %Y, %H:%M:%S UTC", "%a %d %b %Y, %I:%M %p", "%x %X"])
def test_a_template_stating_the_date_time_or_an_id_is_one_prompt(when):
    template = "You are careful. It is {}, request {}, trace {:x}, ticket T-{}. Be {}."
    start, rng = datetime.datetime(2026, 1, 1, 9, 30, tzinfo=datetime.UTC), random.Random(3)
    days = [f"{start + datetime.timedelta(hours=37 * n, seconds=n):{when}}" for n in range(12)]
    ids = [(uuid.UUID(int=rng.getrandbits(128)), rng.getrandbits(64), n) for n in range(12)]
    texts = [template.format(day, *some, "brief") for day in days for some in ids]
    brief = {prompt_fingerprint(messages(text)) for text in texts}
    assert len(brief) == 1
    assert prompt_fingerprint(messages(template.format(days[0], *ids[0], "terse"))) not in brief


def test_a_prompt_s_parts_are_its_sentences_templates_and_its_tools_hashed_apart():
    """A retrieval agent's prompt: its template's sentences and a new passage each call. The
    hash is new every call, the template's parts are in every one; an edited sentence is
    a part lost and one gained; the tool definitions are a part of their own."""
    template = "You are careful. It is {}. Answer from the context. Context: {}."
    calls = [template.format(f"Monday 9:{n:02d}", f"passage {w} of the {w}th manual")
             for n, w in enumerate(("alpha", "beta", "gamma"))]  # fmt: skip
    prints = [read_prompt(messages(text)) for text in calls]
    assert len({p.hash for p in prints}) == 3
    steady = frozenset.intersection(*(p.parts for p in prints))
    assert len(steady) == 3 and all(len(p.parts - steady) == 1 for p in prints)
    edited = read_prompt(messages(calls[0].replace("from the context", "freely")))
    assert len(prints[0].parts - edited.parts) == 1 and len(edited.parts - prints[0].parts) == 1
    tools = read_prompt({**messages(calls[0]), "gen_ai.tool.definitions": '[{"name": "s"}]'})
    assert prints[0].parts < tools.parts and len(tools.parts - prints[0].parts) == 1
    assert "careful" not in "".join(prints[0].parts)  # hashed, never kept


def test_fingerprints_stay_those_state_files_hold_however_the_prompt_is_read():
    """Prompts are masked sentence by sentence (their steady sentences once): the same
    template as the whole text's in one pass, so the fingerprints baselines learned stay."""
    from immune_sidecar.vitals.spans import _VOLATILE, _print, _template

    learned = {  # written by the version that masked the whole text in one pass
        "You are careful. It is Friday, 4 December 2026, 6:05 p.m. Request 3fa9b2c1d. Be "
        "brief.": "fp2-d80ba822f9b1cee7",
        'Line one.\nToday: 2026-12-04 18:05:07 UTC\nAnswer in English. Cite sources.\x00[{"'
        'name": "search"}]': "fp2-617a3154c42c5987",
    }
    assert {text: _print(text).hash for text in learned} == learned
    rng = random.Random(1)
    pieces = ["may", "5 pm", "3:04 a.m.", "2026-12-04", "3fa9b2", str(uuid.UUID(int=7)),
              "dec.", "x. y", "p.m. next", "mar", "marching", "sun.", "12.", "a", "9"]  # fmt: skip
    for _ in range(2000):
        ends = ["", " ", ". ", "\n", ", ", ". \n"]
        text = "".join(rng.choice(pieces) + rng.choice(ends) for _ in range(rng.randint(1, 30)))
        assert _template(text) == _VOLATILE.sub("#", text), text


def test_no_captured_content_or_unusable_content_gives_no_fingerprint():
    assert prompt_fingerprint({}) == ""
    for junk in ("not json", "[" * 100_000, '{"role": "system"}', "[1, 2, {}]"):
        assert prompt_fingerprint({"gen_ai.input.messages": junk}) == ""
    huge = messages("x" * MAX_MESSAGES_CHARS)
    assert prompt_fingerprint(huge) == ""


def test_odd_attribute_values_on_spans_count_as_nothing_and_lose_nothing():
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    from immune_sidecar.vitals.spans import SpanBook

    request = ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    resource_spans.resource.attributes.add(key="service.name").value.string_value = "odd"
    spans = resource_spans.scope_spans.add().spans
    for value in ("many", "nan", "-5", "7"):
        span = spans.add(name="chat")
        for key, text in (("gen_ai.operation.name", "chat"), ("gen_ai.usage.input_tokens", value)):
            span.attributes.add(key=key).value.string_value = text
        http = spans.add(name="POST")
        for key, text in (("http.request.method", "POST"), ("http.request.resend_count", value)):
            http.attributes.add(key=key).value.string_value = text
    book = SpanBook()
    assert book.take(request, 1.0) == ["odd"]
    figures = book.drain("odd")
    assert figures.llm_calls == 4  # every span counted
    assert figures.tokens_by_model[""] == [7.0, 0.0] and figures.retries == 1.0


def _traces(*spans: dict):
    """An export of one agent's spans, each given as {name, id, parent, attrs}."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    request = ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    resource_spans.resource.attributes.add(key="service.name").value.string_value = "a"
    out = resource_spans.scope_spans.add().spans
    for given in spans:
        span = out.add(name=given["name"], span_id=given.get("id", b""))
        span.parent_span_id = given.get("parent", b"")
        for key, value in given["attrs"].items():
            if isinstance(value, list):
                array = span.attributes.add(key=key).value.array_value
                for item in value:
                    array.values.add().string_value = item
            else:
                span.attributes.add(key=key).value.string_value = value
    return request


CHAT = {"gen_ai.operation.name": "chat"}
POST = {"http.request.method": "POST"}


def _chat(span_id: bytes) -> dict:
    return {"name": "chat", "id": span_id, "attrs": CHAT}


def _request(span_id: bytes, parent: bytes = b"", **attrs) -> dict:
    return {"name": "POST", "id": span_id, "parent": parent, "attrs": {**POST, **attrs}}


def test_requests_beyond_the_first_under_one_llm_call_are_retries_whichever_comes_first():
    from immune_sidecar.vitals.spans import SpanBook

    book = SpanBook()
    # Call 1: three requests (two retries), one exported before and two after its span.
    book.take(_traces(_request(b"h1", b"c1")), 1.0)
    calls = (_chat(b"c1"), _request(b"h2", b"c1"), _request(b"h3", b"c1"))
    # Call 2: one request, no retry; a tool's two requests: not retries.
    others = (_request(b"h4", b"c2"), _chat(b"c2"), _request(b"h5", b"t1"), _request(b"h6", b"t1"))
    book.take(_traces(*calls, *others), 1.0)
    assert book.drain("a").retries == 2.0


def test_a_captured_sdk_retry_header_marks_a_request_as_a_retry():
    from immune_sidecar.vitals.spans import RETRY_HEADER, SpanBook

    book = SpanBook()
    attempts = (_request(b"h%d" % n, **{RETRY_HEADER: [str(n)]}) for n in range(4))
    book.take(_traces(*attempts), 1.0)
    assert book.drain("a").retries == 3.0  # attempts 1, 2 and 3 were resends


def test_token_counts_under_the_earlier_conventions_names_count_too():
    from immune_sidecar.vitals.spans import SpanBook

    model = {**CHAT, "gen_ai.request.model": "gpt-4o"}
    earlier = {**model, "gen_ai.usage.prompt_tokens": "120", "gen_ai.usage.completion_tokens": "30"}
    current = {**model, "gen_ai.usage.input_tokens": "100", "gen_ai.usage.output_tokens": "20"}
    book = SpanBook()
    book.take(_traces({"name": "chat", "attrs": earlier}, {"name": "chat", "attrs": current}), 1.0)
    assert book.drain("a").tokens_by_model["gpt-4o"] == [220.0, 50.0]


def test_tracking_requests_is_bounded_under_a_huge_fan_out():
    from immune_sidecar.vitals.spans import MAX_TRACKED_SPANS, SpanBook

    book = SpanBook()
    many = (_request(b"h%d" % n, b"p%d" % n) for n in range(MAX_TRACKED_SPANS + 5_000))
    book.take(_traces(*many), 1.0)
    figures = book.drain("a")
    assert len(figures._requests) == MAX_TRACKED_SPANS and figures.retries == 0


@pytest.mark.parametrize(
    ("prompt", "version", "held"),
    [("fixed", "2", False), ("fixed", "1", True), ("dated", "2", False), ("dated", "1", True),
     ("varying", "2", False), ("varying", "1", True)],
)  # fmt: skip
def test_an_agent_sending_spans_alone_is_judged_each_minute_and_its_deploy_relearned(
    prompt, version, held
):
    """Spans every 5 s, as a batch span processor sends them, and no metrics: one sample a
    minute, and the version its spans' resource names — a new prompt with a new version is
    a deploy (re-learned), with the same version a prompt change (held). So too where the
    captured prompt states the time and a request id ("dated"), and where it carries each
    call's retrieved passages ("varying"): a new hash every call, but the template's
    sentences are in every one, and the new prompt lacks one of them (it was never held,
    before)."""
    base = generate(2, 4, 2).agents[1]
    traits = dataclasses.replace(base.traits, export_seconds=5.0, idle_share=0.0, prompt=prompt)
    clock = SimClock()
    policy = EjectionPolicy(base_seconds=86_400, max_seconds=86_400, probation_seconds=0)
    config = SidecarConfig(ejection=policy, actuators=(), max_requests_per_second=0)
    sidecar = Sidecar(config, clock)
    sdk, rng = SdkSpanRecorder(base.name), random.Random(1)
    changed = Effect(prompt_suffix="-new", version=version)
    try:
        for minute in range(1, 41):
            effect = changed if minute > 30 else HEALTHY
            ops = draw(traits, effect, minute * 60.0, rng)
            for clock.now, part in exports(traits, ops, 1000.0 + minute * 60.0, 60.0):
                body = sdk.export(traits, effect, part, clock.now)
                sidecar.handler.handle(body, PROTOBUF, "test", signal=TRACES)
        record = sidecar.agents.get(base.name)
        # Exports from 1005 s on: the first sample is cut a minute after, then one a minute.
        assert record.samples == 39 and record.latest.interval_seconds == 60.0
        assert record.latest.version == version
        deploys = sidecar.metrics.relearns.labels("deploy")._value.get()
        quarantined = [e.agent_id for e in sidecar.book.held(clock.now)]
        assert deploys == (version == "2") and quarantined == ([base.name] if held else [])
    finally:
        sidecar.runner.close()
