"""The kinds of agent in the demo fleet, each with its own model, tools and normal work."""

import dataclasses

from .emitter import Profile


@dataclasses.dataclass(frozen=True)
class Kind:
    """A kind of agent: what it runs on and what a normal interval of its work looks like."""

    name: str
    normal: Profile


KINDS = (
    Kind(
        "research",
        Profile(
            operations=12,
            latency=2.4,
            input_tokens=2400,
            output_tokens=600,
            tool_calls=2.0,
            model="gpt-4o",
            provider="openai",
            prompt_hash="research-v3",
            tools=(("web_search", "search.mcp.internal"), ("fetch_page", "search.mcp.internal")),
        ),
    ),
    Kind(
        "data",
        Profile(
            operations=20,
            latency=0.9,
            input_tokens=900,
            output_tokens=250,
            tool_calls=1.5,
            model="claude-3-5-haiku",
            provider="anthropic",
            prompt_hash="data-v7",
            tools=(("sql_query", "warehouse.mcp.internal"), ("csv_export", "")),
        ),
    ),
    Kind(
        "analytics",
        Profile(
            operations=16,
            latency=1.6,
            input_tokens=1500,
            output_tokens=700,
            tool_calls=1.0,
            model="gemini-2.5-pro",
            provider="gcp.gemini",
            prompt_hash="analytics-v2",
            tools=(("python_exec", ""), ("chart", "")),
        ),
    ),
    Kind(
        "coordinator",
        Profile(
            operations=8,
            latency=1.1,
            input_tokens=1200,
            output_tokens=200,
            tool_calls=3.0,
            model="gpt-4o-mini",
            provider="openai",
            prompt_hash="coord-v5",
            tools=(("dispatch_task", "tasks.mcp.internal"), ("ticket", "jira.mcp.internal")),
        ),
    ),
)
