"""GenAI spans as a second source of vitals: what metrics do not carry.

Stock instrumentations record every LLM call as a span (``gen_ai.operation.name``
``chat`` and the like) whose attributes say which model answered, how many
tokens it took, why it finished (``tool_calls`` when the model asked for tools)
and whether it failed (``error.type``); agent frameworks add ``execute_tool``
and ``invoke_agent`` spans. An HTTP instrumentation beside them adds one client
span per request under the LLM call that sent it: requests beyond the first are
the SDK's retries. The figures of one agent's spans wait here until
its next sample is cut, and fill in the vitals the agent's metrics lack
(``Tally.fill``): metrics win where both speak, so nothing counts twice.
"""

import bisect
import dataclasses
import functools
import hashlib
import itertools
import json
import math
import re
from typing import Any

from . import identity
from .attributes import to_dict
from .sample import LATENCY_BOUNDS, NO_PROMPT, Labels, PromptPrint

LLM_OPERATIONS = frozenset(
    {"chat", "text_completion", "generate_content", "responses", "completion", "embeddings"}
)
TOOL_OPERATION, AGENT_OPERATION = "execute_tool", "invoke_agent"
# Finish reasons that ask for tools (OpenAI "tool_calls", OpenLLMetry "tool_call",
# Anthropic "tool_use"); matched as substrings of the recorded reasons.
TOOL_FINISH = frozenset({"tool_call", "tool_use", "function_call"})
STATUS_ERROR = 2
MAX_PENDING_AGENTS = 10_000
MAX_TRACKED_SPANS = 10_000  # per agent and sample: LLM spans and HTTP requests' parents
HTTP_METHOD_KEYS = ("http.request.method", "http.method")
# The retry count the openai and anthropic SDKs send, as HTTP instrumentations record
# it when told to capture that request header.
RETRY_HEADER = "http.request.header.x-stainless-retry-count"
_FIRST_NUMBER = re.compile(r"\d{1,9}")
MAX_MESSAGES_CHARS = 256 * 1024  # captured messages longer than this are not read
# What changes from call to call in a templated prompt (read in lower case): numbers and
# the ids around them (dates, times, request ids), UUIDs, and the names of days and months.
_VOLATILE = re.compile(
    r"[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}"
    r"|[a-f]*\d\w*(?: ?[ap]\.?m\b\.?)?"
    r"|(?<![a-z])(?:(?:mon|tues?|wed(?:nes)?|thu(?:rs?)?|fri|sat(?:ur)?|sun)(?:day)?"
    r"|jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sept?(?:ember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)(?![a-z])"
)
# Fingerprints are "fp2-" and a hash of the template; "fp-" ones (of the whole text)
# came before.
FINGERPRINT, EARLIER_FINGERPRINT = "fp2-", "fp-"
CACHED_PROMPT_CHARS = 16 * 1024  # the fingerprints of this many prompts, up to this long,
CACHED_PROMPTS = 256  # are remembered: a steady prompt is read once
CACHED_SENTENCE_CHARS = 512  # and the templates of this many sentences, up to this long:
CACHED_SENTENCES = 1024  # a templated prompt's steady sentences are read once
MAX_PROMPT_PARTS = 64  # a prompt's first this many sentences are its parts
_PIECE_ENDS = re.compile(r"\. |\n|\x00")  # a part ends at a sentence's, a line's or the prompt's
# Token counts on an LLM span, and the names earlier GenAI conventions gave them (older
# instrumentations still write those).
EARLIER_TOKEN_KEYS = {
    "gen_ai.usage.input_tokens": "gen_ai.usage.prompt_tokens",
    "gen_ai.usage.output_tokens": "gen_ai.usage.completion_tokens",
}


@dataclasses.dataclass(frozen=True)
class LlmCall:
    """One LLM call as a span or the egress gate saw it."""

    seconds: float
    failed: bool = False
    model: str = ""
    provider: str = ""
    input_tokens: float = 0.0
    output_tokens: float = 0.0
    finish_told: bool = False  # whether the call said why it finished
    asked_tools: bool = False  # it finished asking for tools
    prompt: PromptPrint = NO_PROMPT
    first_chunk_seconds: float | None = None  # streamed calls: time to the first chunk
    resent: bool = False  # the client sent it again after a failure (a retry)


@dataclasses.dataclass
class SpanFigures:
    """One agent's span figures since its last sample."""

    llm_calls: float = 0.0
    llm_errors: float = 0.0
    llm_seconds: float = 0.0
    latency_buckets: list[int] = dataclasses.field(
        default_factory=lambda: [0] * (len(LATENCY_BOUNDS) + 1)
    )
    tool_turns: float = 0.0  # LLM calls that ended asking for tools
    finishes_told: float = 0.0  # LLM calls whose span says why they finished
    tool_runs: float = 0.0  # execute_tool spans
    tool_errors: float = 0.0
    invocations: float = 0.0
    resends: float = 0.0  # retries told by HTTP spans outside any LLM call
    first_chunks: float = 0.0
    first_chunk_seconds: float = 0.0
    tokens_by_model: dict[str, list[float]] = dataclasses.field(default_factory=dict)
    tools: set[str] = dataclasses.field(default_factory=set)
    model: str = ""
    provider: str = ""
    name: str = ""
    prompt: PromptPrint = NO_PROMPT
    version: str = ""  # the agent's deployed version, as its spans' resource says
    since: float = 0.0
    _llm_spans: set[bytes] = dataclasses.field(default_factory=set)
    # parent span id → [HTTP requests under it, of which marked as retries]
    _requests: dict[bytes, list[float]] = dataclasses.field(default_factory=dict)

    @property
    def retries(self) -> float:
        """Retries: requests beyond the first under one LLM call, and requests an HTTP
        instrumentation marked as resent elsewhere (or whose LLM span is yet to come)."""
        return self.resends + sum(
            max(0.0, sent - 1) if parent in self._llm_spans else marked
            for parent, (sent, marked) in self._requests.items()
        )

    def labels(self) -> "Labels":
        """What operators see of the agent, as its spans name it."""
        return Labels(self.name, self.model, self.provider, set(self.tools) - {""})

    @property
    def tool_calls(self) -> float:
        """Tool calls as the spans tell them: executions when recorded, else tool turns."""
        return self.tool_runs or self.tool_turns

    @property
    def tells_tools(self) -> bool:
        """Whether these spans can tell tool calls (zero included): executions recorded, or
        finish reasons (streamed calls' spans often lack them)."""
        return bool(self.tool_runs or self.finishes_told)

    def add(self, span, attrs: dict[str, Any]) -> None:
        """Account one span."""
        operation = str(attrs.get("gen_ai.operation.name", ""))
        failed = span.status.code == STATUS_ERROR or bool(attrs.get("error.type"))
        if operation == TOOL_OPERATION:
            self.add_tool_run(str(attrs.get("gen_ai.tool.name", "")), failed)
        elif operation == AGENT_OPERATION:
            self.invocations += 1
        elif operation in LLM_OPERATIONS or attrs.get("gen_ai.request.model"):
            self._llm_call(span, attrs, failed)
        elif any(key in attrs for key in HTTP_METHOD_KEYS):
            self._http_request(span, attrs)

    def _http_request(self, span, attrs: dict[str, Any]) -> None:
        marked = float(_count(attrs, "http.request.resend_count") > 0 or _resent(attrs))
        under = self._requests.get(span.parent_span_id)
        if under is None and span.parent_span_id and len(self._requests) < MAX_TRACKED_SPANS:
            under = self._requests[span.parent_span_id] = [0.0, 0.0]
        if under is None:
            self.resends += marked
            return
        under[0] += 1
        under[1] += marked

    def _llm_call(self, span, attrs: dict[str, Any], failed: bool) -> None:
        if len(self._llm_spans) < MAX_TRACKED_SPANS:
            self._llm_spans.add(span.span_id)
        reasons = attrs.get("gen_ai.response.finish_reasons")
        self.add_llm_call(
            LlmCall(
                seconds=max(0, span.end_time_unix_nano - span.start_time_unix_nano) / 1e9,
                failed=failed,
                model=identity.first(attrs, identity.MODEL_KEYS) or "",
                provider=str(identity.first(attrs, identity.PROVIDER_KEYS) or ""),
                input_tokens=_tokens(attrs, "gen_ai.usage.input_tokens"),
                output_tokens=_tokens(attrs, "gen_ai.usage.output_tokens"),
                finish_told=bool(reasons),
                asked_tools=bool(reasons) and any(r in str(reasons) for r in TOOL_FINISH),
                prompt=read_prompt(attrs),
            )
        )

    def add_llm_call(self, call: LlmCall) -> None:
        """Account one LLM call."""
        self.llm_calls += 1
        self.llm_errors += call.failed
        self.llm_seconds += call.seconds
        self.latency_buckets[bisect.bisect_left(LATENCY_BOUNDS, call.seconds)] += 1
        self.finishes_told += call.finish_told
        self.tool_turns += call.asked_tools
        self.resends += call.resent
        self.model = call.model or self.model
        self.provider = call.provider or self.provider
        self.prompt = call.prompt or self.prompt
        tokens = self.tokens_by_model.setdefault(call.model, [0.0, 0.0])
        tokens[0] += call.input_tokens
        tokens[1] += call.output_tokens
        if call.first_chunk_seconds is not None:
            self.first_chunks += 1
            self.first_chunk_seconds += call.first_chunk_seconds

    def add_tool_run(self, tool: str, failed: bool) -> None:
        """Account one tool execution."""
        self.tool_runs += 1
        self.tool_errors += failed
        self.tools.add(tool or "unnamed")


class SpanBook:
    """Span figures per agent, waiting for the agent's next sample."""

    def __init__(
        self,
        identity_keys: tuple[str, ...] = identity.DEFAULT_IDENTITY,
        version_keys: tuple[str, ...] = identity.VERSION_KEYS,
    ) -> None:
        self._pending: dict[str, SpanFigures] = {}
        self._identity = identity_keys
        self._version_keys = version_keys
        self.unattributed = 0

    def take(self, request, now: float) -> list[str]:
        """Account an ``ExportTraceServiceRequest``; the agents it spoke of."""
        seen: list[str] = []
        for resource_spans in request.resource_spans:
            resource = to_dict(resource_spans.resource.attributes)
            version = identity.first(resource, self._version_keys)
            for span in (s for ss in resource_spans.scope_spans for s in ss.spans):
                attrs = to_dict(span.attributes)
                agent_id = identity.agent_id(attrs, resource, self._identity)
                if agent_id is None:
                    self.unattributed += 1
                    continue
                figures = self._figures(agent_id, resource, now)
                figures.version = version or figures.version
                figures.add(span, attrs)
                if agent_id not in seen:
                    seen.append(agent_id)
        return seen

    def figures(self, agent_id: str, now: float) -> SpanFigures:
        """The agent's figures waiting for its next sample, to add to (the gate's calls)."""
        return self._figures(agent_id, {}, now)

    def waiting(self) -> list[str]:
        """The agents with figures waiting."""
        return list(self._pending)

    def drain(self, agent_id: str) -> SpanFigures | None:
        """The agent's figures since its last sample, forgotten here."""
        return self._pending.pop(agent_id, None)

    def waiting_since(self, agent_id: str) -> float | None:
        """When the agent's oldest figures came in (None: nothing waits)."""
        figures = self._pending.get(agent_id)
        return figures.since if figures else None

    def forget(self, agent_id: str) -> None:
        """Drop an evicted agent's figures."""
        self._pending.pop(agent_id, None)

    def _figures(self, agent_id: str, resource: dict[str, Any], now: float) -> SpanFigures:
        figures = self._pending.get(agent_id)
        if figures is None:
            if len(self._pending) >= MAX_PENDING_AGENTS:  # agent ids come from the agents
                self._pending.pop(next(iter(self._pending)))
            figures = self._pending[agent_id] = SpanFigures(since=now)
            figures.name = identity.agent_name({}, resource)
        return figures


def _count(attrs: dict[str, Any], key: str) -> float:
    """A count an attribute gives: a finite number ≥ 0, else 0 (span attributes are the
    agent's to write; one odd value must not cost the rest of the export)."""
    try:
        value = float(attrs.get(key) or 0)
    except (TypeError, ValueError):
        return 0.0
    return value if math.isfinite(value) and value >= 0 else 0.0


def _tokens(attrs: dict[str, Any], key: str) -> float:
    """A token count, under its name or the one earlier conventions gave it."""
    return _count(attrs, key) or _count(attrs, EARLIER_TOKEN_KEYS[key])


def _resent(attrs: dict[str, Any]) -> bool:
    """Whether a captured retry-count header says the SDK resent (the header arrives as an
    array of strings, which attributes.any_value gives as text)."""
    found = _FIRST_NUMBER.search(str(attrs.get(RETRY_HEADER, ""))[:64])
    return found is not None and int(found.group()) > 0


def read_prompt(attrs: dict[str, Any]) -> PromptPrint:
    """The print of an LLM call's system prompt and tool definitions, where the
    instrumentation captured them (opt-in content capture); ``NO_PROMPT`` otherwise.
    Numbers, ids and the names of days and months are left out, so a template that states
    the date, the time or a request id is one prompt. The text is read only to be hashed,
    never kept."""
    system = str(attrs.get("gen_ai.system_instructions") or "") or _system_text(
        attrs.get("gen_ai.input.messages")
    )
    tools = str(attrs.get("gen_ai.tool.definitions") or "")
    if not (system or tools):
        return NO_PROMPT
    text = f"{system}\x00{tools}"
    return _cached(text) if len(text) <= CACHED_PROMPT_CHARS else _print(text)


def _print(text: str) -> PromptPrint:
    return _of_template(_template(text.lower()))


def _of_template(template: str) -> PromptPrint:
    """A template's print: its hash, and its sentences' and tool definitions' apart."""
    pieces = dict.fromkeys(_PIECE_ENDS.split(template))  # (in order: the cap keeps the first)
    pieces.pop("", None)
    parts = frozenset(map(_part, itertools.islice(pieces, MAX_PROMPT_PARTS)))
    return PromptPrint(FINGERPRINT + hashlib.sha256(template.encode()).hexdigest()[:16], parts)


def _part(piece: str) -> str:
    return hashlib.blake2b(piece.encode(), digest_size=6).hexdigest()


_cached = functools.lru_cache(maxsize=CACHED_PROMPTS)(_print)
# A templated prompt's template repeats though its text does not (it states the time):
# its print is worked out once. So is each steady sentence's part.
_of_template = functools.lru_cache(maxsize=CACHED_PROMPTS)(_of_template)
_part = functools.lru_cache(maxsize=CACHED_SENTENCES)(_part)


def _template(text: str) -> str:
    """The text with what changes from call to call masked, sentence by sentence: no match
    of ``_VOLATILE`` goes past a full stop and its space or a line's end, so this is the
    whole text's template, and the steady sentences around a date or an id are masked
    once, not on every call."""
    return "\n".join(" ".join(map(_sentence, _sentences(line))) for line in text.split("\n"))


def _sentences(line: str) -> list[str]:
    """The line's sentences, each with its full stop (a match may end on it: "5 p.m.")."""
    parts = line.split(". ")
    return [part + "." for part in parts[:-1]] + parts[-1:]


def _mask(sentence: str) -> str:
    return _VOLATILE.sub("#", sentence)


_cached_mask = functools.lru_cache(maxsize=CACHED_SENTENCES)(_mask)


def _sentence(sentence: str) -> str:
    return _cached_mask(sentence) if len(sentence) <= CACHED_SENTENCE_CHARS else _mask(sentence)


def _system_text(messages: Any) -> str:
    if not isinstance(messages, str) or len(messages) > MAX_MESSAGES_CHARS:
        return ""
    try:
        parsed = json.loads(messages)
    except (ValueError, RecursionError):
        return ""
    parts = (
        part.get("content", "")
        for message in parsed if isinstance(parsed, list) and isinstance(message, dict)
        if message.get("role") == "system"
        for part in message.get("parts", ()) if isinstance(part, dict)
    )  # fmt: skip
    return "\n".join(str(p) for p in parts)
