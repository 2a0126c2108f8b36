"""Span figures: the prompt fingerprint from captured content, and hostile content."""

import json

from immune_sidecar.vitals.spans import MAX_MESSAGES_CHARS, prompt_fingerprint


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
        for key, text in (("gen_ai.operation.name", "chat"), ("gen_ai.usage.input_tokens", value),
                          ("http.request.resend_count", value)):  # fmt: skip
            span.attributes.add(key=key).value.string_value = text
    book = SpanBook()
    assert book.take(request, 1.0) == ["odd"]
    figures = book.drain("odd")
    assert figures.llm_calls == 4  # every span counted
    assert figures.tokens_by_model[""] == [7.0, 0.0] and figures.resends == 7.0
