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
