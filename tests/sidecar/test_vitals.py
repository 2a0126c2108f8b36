"""Vitals from requests the OpenTelemetry SDK's own encoder builds: the exporters' wire format."""

import math
import time

import pytest
from opentelemetry.exporter.otlp.proto.common._internal.metrics_encoder import encode_metrics
from opentelemetry.sdk.metrics import Counter, Histogram, MeterProvider
from opentelemetry.sdk.metrics.export import AggregationTemporality, InMemoryMetricReader
from opentelemetry.sdk.resources import Resource

from immune_common.config import ConfigError
from immune_sidecar.vitals import DeltaTracker, Mapper
from immune_sidecar.vitals.delta import PointValue
from immune_sidecar.vitals.identity import PointLabels
from immune_sidecar.vitals.mapping_file import default_mapping, load_mapping
from immune_sidecar.vitals.sample import PromptPrint, Tally

DELTA = {Counter: AggregationTemporality.DELTA, Histogram: AggregationTemporality.DELTA}


class Instrumented:
    """An SDK meter whose collected metrics become one OTLP request per ``export``."""

    def __init__(self, service="agent-a", temporality=None, aggregation=None):
        self.reader = InMemoryMetricReader(
            preferred_temporality=temporality or {}, preferred_aggregation=aggregation or {}
        )
        resource = Resource.create({"service.name": service, "service.instance.id": service})
        self.provider = MeterProvider(resource=resource, metric_readers=[self.reader])
        self.meter = self.provider.get_meter("test")

    def export(self):
        return encode_metrics(self.reader.get_metrics_data())


def mapper(mapping=None, boot_ns=None):
    m = mapping or default_mapping()
    return Mapper(m.rules, m.prices, DeltaTracker(boot_ns=boot_ns or 0), m.prompt_keys)


def only_sample(result):
    assert len(result.samples) == 1, result
    return result.samples[0]


def chat(histogram, seconds, **extra):
    histogram.record(
        seconds, {"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o-mini", **extra}
    )


def test_cumulative_points_become_interval_deltas():
    agent, m = Instrumented(), mapper()
    ops = agent.meter.create_histogram("gen_ai.client.operation.duration")
    for s in (1.0, 3.0):
        chat(ops, s)
    assert only_sample(m.map(agent.export(), 1.0)).values["latency"] == 2.0
    chat(ops, 5.0)
    sample = only_sample(m.map(agent.export(), 2.0))
    assert sample.operations == 1 and sample.values["latency"] == 5.0


def test_the_prompt_is_the_one_used_now_not_an_old_cumulative_series():
    agent, m = Instrumented(), mapper()
    ops = agent.meter.create_histogram("gen_ai.client.operation.duration")
    for prompt in ("p-v1", "p-v1", "p-edited", "p-v1"):  # an edit, then a rollback
        chat(ops, 1.0, **{"gen_ai.prompt.hash": prompt})
        sample = only_sample(m.map(agent.export(), time.time()))
    assert sample.prompt_hash == "p-v1"  # the p-edited series is still exported, unchanged


def test_a_stream_new_in_a_followed_resource_is_all_new_work():
    """A model switch (or a new prompt) opens new cumulative streams mid-run: counted whole,
    while a stream first seen after the sidecar started mid-run is only a reference."""
    agent, m = Instrumented(), mapper(boot_ns=time.time_ns() + 10**12)  # started after the agent
    ops = agent.meter.create_histogram("gen_ai.client.operation.duration")
    for _ in range(4):
        chat(ops, 1.0)
    assert m.map(agent.export(), 1.0).samples == []  # history from before: a reference
    for _ in range(3):
        ops.record(2.0, {"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4.1"})
    sample = only_sample(m.map(agent.export(), 2.0))
    assert sample.operations == 3 and sample.values["latency"] == 2.0


def test_latency_median_comes_from_fine_buckets_only():
    from immune_sidecar.vitals.sample import geometric_mean

    fine = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12)
    counts = [0] * 7 + [9, 0, 1, 0]  # nine calls in (0.64, 1.28], one straggler in (2.56, 5.12]
    median = geometric_mean(fine, counts)
    assert 0.9 < median < 1.2  # the straggler moves it about 15%, the mean would move 40%
    coarse = (0.0, 5.0, 10.0, 25.0)  # the SDK's default boundaries: every call in one bucket
    assert geometric_mean(coarse, [0, 10, 0, 0, 0]) is None


def test_reset_when_the_agent_restarts():
    m = mapper()
    first = Instrumented()
    ops = first.meter.create_histogram("gen_ai.client.operation.duration")
    for _ in range(10):
        chat(ops, 1.0)
    m.map(first.export(), 1.0)
    time.sleep(0.01)
    restarted = Instrumented()  # same agent, new process: new start time, smaller counts
    ops = restarted.meter.create_histogram("gen_ai.client.operation.duration")
    chat(ops, 4.0)
    sample = only_sample(m.map(restarted.export(), 2.0))
    assert sample.operations == 1 and sample.values["latency"] == 4.0
    assert m._deltas.resets == 1


def test_a_value_that_went_down_is_a_reset():
    tracker = DeltaTracker(boot_ns=0)
    key = ("stream",)
    tracker.delta(key, 5, PointValue(10, 20.0), 1.0)
    assert tracker.delta(key, 5, PointValue(12, 26.0), 2.0) == PointValue(2, 6.0)
    assert tracker.delta(key, 5, PointValue(3, 9.0), 3.0) == PointValue(3, 9.0)
    assert tracker.resets == 1


def test_history_from_before_the_sidecar_started_is_only_a_reference():
    agent = Instrumented()
    ops = agent.meter.create_histogram("gen_ai.client.operation.duration")
    chat(ops, 1.0)
    late = mapper(boot_ns=time.time_ns() + 10**9)  # the sidecar started after the agent
    assert late.map(agent.export(), 1.0).samples == []
    chat(ops, 2.0)
    assert only_sample(late.map(agent.export(), 2.0)).values["latency"] == 2.0


def test_delta_temporality_is_taken_as_is():
    agent, m = Instrumented(temporality=DELTA), mapper()
    tokens = agent.meter.create_histogram("gen_ai.client.token.usage")
    ops = agent.meter.create_histogram("gen_ai.client.operation.duration")
    for interval in range(3):
        chat(ops, 1.0)
        tokens.record(100 * (interval + 1), {"gen_ai.token.type": "input"})
        sample = only_sample(m.map(agent.export(), float(interval)))
        assert sample.values["input_tokens"] == 100 * (interval + 1)


def test_one_process_is_one_agent_whatever_its_points_call_themselves():
    agent, m = Instrumented(service="host"), mapper()
    ops = agent.meter.create_histogram("gen_ai.client.operation.duration")
    chat(ops, 1.0, **{"gen_ai.agent.name": "planner"})
    chat(ops, 3.0, **{"gen_ai.agent.name": "tool-runner"})  # openai-v2's tool points do this
    assert [s.agent_id for s in m.map(agent.export(), 1.0).samples] == ["host"]


def test_replicas_with_one_agent_name_are_separate_agents():
    """Two OpenLIT replicas with agent_context("planner"): one service, two instances."""
    m = mapper()
    for replica in ("replica-1", "replica-2"):
        resource = Resource.create({"service.name": "planner-svc", "service.instance.id": replica})
        reader = InMemoryMetricReader()
        meter = MeterProvider(resource=resource, metric_readers=[reader]).get_meter("t")
        chat(meter.create_histogram("gen_ai.client.operation.duration"), 1.0,
             **{"gen_ai.agent.name": "planner"})  # fmt: skip
        (sample,) = m.map(encode_metrics(reader.get_metrics_data()), 1.0).samples
        assert sample.agent_id == replica


def test_the_identity_setting_names_several_agents_in_one_process():
    agent = Instrumented(service="host")
    m = default_mapping()
    keyed = Mapper(m.rules, m.prices, DeltaTracker(boot_ns=0), m.prompt_keys,
                   identity_keys=("gen_ai.agent.id", "service.name"))  # fmt: skip
    ops = agent.meter.create_histogram("gen_ai.client.operation.duration")
    chat(ops, 1.0, **{"gen_ai.agent.id": "planner"})
    chat(ops, 3.0, **{"gen_ai.agent.id": "coder"})
    chat(ops, 5.0, **{"gen_ai.agent.id": "coder"})
    result = keyed.map(agent.export(), 1.0)
    latency = {s.agent_id: s.values["latency"] for s in result.samples}
    assert latency == {"planner": 1.0, "coder": 4.0}


def test_old_and_new_semantic_convention_names():
    agent, m = Instrumented(), mapper()
    tokens = agent.meter.create_histogram("gen_ai.client.token.usage")
    ops = agent.meter.create_histogram("gen_ai.client.operation.duration")
    old = {"gen_ai.system": "openai", "gen_ai.response.model": "gpt-4o-mini"}
    ops.record(1.0, {"gen_ai.operation.name": "chat", **old})
    tokens.record(100, {"gen_ai.token.type": "prompt", **old})  # before semconv 1.27
    tokens.record(40, {"gen_ai.token.type": "completion", **old})
    input_counter = agent.meter.create_counter("gen_ai.client.inference.usage.input_tokens")
    input_counter.add(50, old)  # proposed counter, beside the histogram
    result = m.map(agent.export(), 1.0)
    sample = only_sample(result)
    assert sample.values["input_tokens"] == 150 and sample.values["output_tokens"] == 40
    labels = result.labels["agent-a"]
    assert (labels.provider, labels.model) == ("openai", "gpt-4o-mini")


def test_tool_calls_retries_errors_and_mcp_servers():
    agent, m = Instrumented(), mapper()
    ops = agent.meter.create_histogram("gen_ai.client.operation.duration")
    tool = agent.meter.create_histogram("gen_ai.execute_tool.duration")
    mcp = agent.meter.create_histogram("mcp.client.operation.duration")
    http = agent.meter.create_histogram("http.client.request.duration")
    chat(ops, 1.0)
    chat(ops, 1.0, **{"error.type": "timeout"})
    tool.record(0.1, {"gen_ai.tool.name": "search"})
    mcp.record(0.1, {"mcp.method.name": "tools/call", "server.address": "files.mcp"})
    mcp.record(0.1, {"mcp.method.name": "tools/list", "server.address": "files.mcp"})
    http.record(0.2, {"http.request.resend_count": 1})
    http.record(0.2, {"http.request.resend_count": 0})
    result = m.map(agent.export(), 1.0)
    sample = only_sample(result)
    assert sample.values["tool_calls"] == 1.0  # (search + tools/call) per 2 operations
    assert sample.values["retries"] == 0.5
    assert sample.values["error_rate"] == 0.25  # 1 failed of 2 operations + 2 tool calls
    assert result.labels["agent-a"].tools == {"search"}
    assert result.labels["agent-a"].mcp_servers == {"files.mcp"}


def test_cost_from_the_price_table_and_from_emitted_cost():
    agent, m = Instrumented(), mapper()
    ops = agent.meter.create_histogram("gen_ai.client.operation.duration")
    tokens = agent.meter.create_histogram("gen_ai.client.token.usage")
    model = {"gen_ai.request.model": "gpt-4o-mini-2024-07-18"}  # priced by prefix
    chat(ops, 1.0)
    tokens.record(1000, {"gen_ai.token.type": "input", **model})
    tokens.record(500, {"gen_ai.token.type": "output", **model})
    sample = only_sample(m.map(agent.export(), 1.0))
    assert sample.values["cost"] == pytest.approx((1000 * 0.15 + 500 * 0.60) / 1e6)
    emitted = agent.meter.create_counter("gen_ai.usage.cost")  # OpenLIT emits USD itself
    chat(ops, 1.0)
    emitted.add(0.25)
    assert only_sample(m.map(agent.export(), 2.0)).values["cost"] == pytest.approx(0.25)


def test_a_sample_names_each_model_its_tokens_went_to_with_its_price():
    """A router's interval: most tokens to a cheap model, some to a dear one; each model's
    price per million tokens at the fixed 3:1 mix, and the interval's price their mix."""
    agent, m = Instrumented(), mapper()
    ops = agent.meter.create_histogram("gen_ai.client.operation.duration")
    tokens = agent.meter.create_histogram("gen_ai.client.token.usage")
    for model, n in (("gpt-4o-mini", 3000), ("gpt-4o", 1000)):
        chat(ops, 1.0)
        for kind, share in (("input", 0.75), ("output", 0.25)):
            tokens.record(n * share, {"gen_ai.token.type": kind, "gen_ai.request.model": model})
    sample = only_sample(m.map(agent.export(), 1.0))
    assert sample.prices == pytest.approx({"gpt-4o-mini": 0.2625, "gpt-4o": 4.375})
    assert sample.values["price"] == pytest.approx((3 * 0.2625 + 4.375) / 4)
    # A model the table lacks, alone: priced by the cost it emitted over its tokens.
    cost = agent.meter.create_counter("gen_ai.usage.cost")
    chat(ops, 1.0)
    for kind, n in (("input", 1500), ("output", 500)):
        tokens.record(n, {"gen_ai.token.type": kind, "gen_ai.request.model": "house-llm"})
    cost.add(0.01, {"gen_ai.request.model": "house-llm"})
    assert only_sample(m.map(agent.export(), 2.0)).prices == pytest.approx({"house-llm": 5.0})


def test_mapping_file_adds_metrics_and_prices(tmp_path):
    path = tmp_path / "mapping.yaml"
    path.write_text(
        "metrics:\n"
        "  - {name: myagent.tool.invocations, role: tool_count}\n"
        "  - {name: myagent.llm.retries, role: retry, where: {kind: {ne: probe}}}\n"
        "prices:\n  house-model: {input: 10, output: 20}\n"
    )
    agent, m = Instrumented(), mapper(load_mapping(str(path)))
    ops = agent.meter.create_histogram("gen_ai.client.operation.duration")
    tokens = agent.meter.create_histogram("gen_ai.client.token.usage")
    chat(ops, 1.0)
    agent.meter.create_counter("myagent.tool.invocations").add(7)
    retries = agent.meter.create_counter("myagent.llm.retries")
    retries.add(1, {"kind": "llm"})
    retries.add(1, {"kind": "probe"})
    tokens.record(1000, {"gen_ai.token.type": "input", "gen_ai.request.model": "house-model"})
    sample = only_sample(m.map(agent.export(), 1.0))
    assert sample.values["tool_calls"] == 7 and sample.values["retries"] == 1
    assert sample.values["cost"] == pytest.approx(0.01)


@pytest.mark.parametrize(
    "text, named",
    [
        ("metrics: [{name: x, role: teleport}]", "teleport"),
        ("metrics: [{role: retry}]", "metric name"),
        ("colour: blue", "colour"),
        ("metrics: [{name: x, role: retry, where: {a: {gt: lots}}}]", "lots"),
    ],
)
def test_bad_mapping_files_name_the_problem(tmp_path, text, named):
    path = tmp_path / "mapping.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=named):
        load_mapping(str(path))


def test_unknown_genai_metrics_are_counted_as_drift_not_errors():
    agent, m = Instrumented(), mapper()
    agent.meter.create_counter("gen_ai.client.brand_new.metric").add(3)
    agent.meter.create_counter("process.cpu.time").add(3)
    result = m.map(agent.export(), 1.0)
    assert result.drift == {"gen_ai.client.brand_new.metric"}
    assert (result.unmapped, result.rejected) == (2, 0)


# What stock instrumentations emit, and the gaps that blinded the sidecar to it.

FINE = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48]


def test_a_reported_cost_of_zero_beside_tokens_falls_back_to_the_price_table():
    agent, m = Instrumented(), mapper()
    tokens = agent.meter.create_histogram("gen_ai.client.token.usage")
    cost = agent.meter.create_histogram("gen_ai.usage.cost")
    for kind, n in (("input", 1000), ("output", 500)):
        tokens.record(n, {"gen_ai.token.type": kind, "gen_ai.request.model": "gpt-4o"})
    cost.record(0.0, {"gen_ai.request.model": "gpt-4o"})  # OpenLIT without its pricing file
    sample = only_sample(m.map(agent.export(), 1.0))
    assert sample.values["cost"] == pytest.approx(m._prices.cost("gpt-4o", 1000, 500))
    assert sample.values["cost"] > 0


def test_retries_under_the_old_http_client_duration_name_count():
    agent, m = Instrumented(), mapper()
    old = agent.meter.create_histogram("http.client.duration", unit="ms")
    for resend in (0, 1, 2, 0):
        old.record(120.0, {"http.request.resend_count": resend} if resend else {})
    ops = agent.meter.create_histogram("gen_ai.client.operation.duration")
    for _ in range(2):
        chat(ops, 1.0)
    assert only_sample(m.map(agent.export(), 1.0)).values["retries"] == 1.0  # 2 of 2 calls


def test_time_to_first_token_is_a_vital_and_streaming_metrics_are_not_drift():
    agent, m = Instrumented(), mapper()
    ops = agent.meter.create_histogram("gen_ai.client.operation.duration")
    ttft = agent.meter.create_histogram("gen_ai.client.operation.time_to_first_chunk")
    chunk = agent.meter.create_histogram("gen_ai.client.operation.time_per_output_chunk")
    odd = agent.meter.create_histogram("llm.request.duration")
    for first in (0.2, 0.4):
        chat(ops, 1.0)
        ttft.record(first, {"gen_ai.request.model": "gpt-4o-mini"})
        chunk.record(0.01)
        odd.record(1.0)
    result = m.map(agent.export(), 1.0)
    assert only_sample(result).values["time_to_first_token"] == pytest.approx(0.3)
    assert result.drift == {"llm.request.duration"}


def test_buckets_too_coarse_to_locate_the_p95_yield_no_p95():
    agent, m = Instrumented(), mapper()
    coarse = agent.meter.create_histogram("gen_ai.client.operation.duration")  # SDK defaults
    fine = Instrumented("agent-b")
    exact = fine.meter.create_histogram(
        "gen_ai.client.operation.duration", explicit_bucket_boundaries_advisory=FINE
    )
    for seconds in (0.3, 0.5, 0.9, 1.4):
        chat(coarse, seconds)
        chat(exact, seconds)
    result = m.map(agent.export(), 1.0)
    blurred = only_sample(result).values
    assert only_sample(result).latency_is_mean  # four calls' mean, judged as one
    assert result.coarse == 1  # counted (immune_sidecar_coarse_latency_samples_total)
    assert "latency_p95" not in blurred and "latency_median" not in blurred
    assert blurred["latency"] == pytest.approx(0.775)  # the mean still stands
    assert 0.9 < only_sample(m.map(fine.export(), 1.0)).values["latency_p95"] <= 2.56


def test_the_median_of_one_or_two_calls_is_exact_not_their_buckets_middle():
    """An idle agent's interval of a call or two: its median is the calls' mean, which the
    histogram's sum tells exactly (the bucket's middle would be off by up to 41%)."""
    for seconds in ((0.7,), (0.7, 1.1), (0.7, 0.9, 1.2)):
        agent, m = Instrumented(), mapper()
        ops = agent.meter.create_histogram(
            "gen_ai.client.operation.duration", explicit_bucket_boundaries_advisory=FINE
        )
        for one in seconds:
            chat(ops, one)
        median = only_sample(m.map(agent.export(), 1.0)).values["latency_median"]
        if len(seconds) <= 2:
            assert median == pytest.approx(sum(seconds) / len(seconds))
        else:  # more: from the buckets (all three in (0.64, 1.28]), a straggler barely counts
            assert median == pytest.approx((0.64 * 1.28) ** 0.5)


def test_labels_come_from_points_with_work_in_the_interval():
    agent, m = Instrumented(), mapper()
    ops = agent.meter.create_histogram("gen_ai.client.operation.duration")
    chat(ops, 1.0)
    m.map(agent.export(), 1.0)
    for model in ("claude-opus-4", "gpt-4o-mini"):  # a pricier model, then back
        ops.record(1.0, {"gen_ai.operation.name": "chat", "gen_ai.request.model": model})
        labels = m.map(agent.export(), 2.0).labels["agent-a"]
    assert labels.model == "gpt-4o-mini"  # the opus stream is still exported, unchanged


def windowed(seconds: float):
    m = default_mapping()
    return Mapper(m.rules, m.prices, DeltaTracker(boot_ns=0), m.prompt_keys,
                  sample_seconds=seconds)  # fmt: skip


@pytest.mark.parametrize("temporality", [{}, DELTA], ids=["cumulative", "delta"])
def test_exports_faster_than_a_sample_are_added_up_into_one(temporality):
    """Every 15 s for two minutes: a first sample, then one a minute of all four exports'
    work; every export is a sample of its own when ``sample_seconds`` is 0."""
    agent, every, minute = Instrumented(temporality=temporality), windowed(0), windowed(60)
    ops = agent.meter.create_histogram("gen_ai.client.operation.duration")
    tokens = agent.meter.create_histogram("gen_ai.client.token.usage")
    cut = []
    for step in range(9):
        for call in range(step + 1):
            chat(ops, 0.5 + step)
            tokens.record(100 * (call + 1), {"gen_ai.token.type": "input"})
        body = agent.export()
        now = 15.0 * step
        assert len(every.map(body, now).samples) == 1
        cut.extend((now, s) for s in minute.map(body, now).samples)
    assert [now for now, _ in cut] == [0.0, 60.0, 120.0]
    first, second = cut[1][1], cut[2][1]
    assert first.interval_seconds == 60.0 and first.operations == 2 + 3 + 4 + 5
    assert second.operations == 6 + 7 + 8 + 9
    assert first.values["latency"] == pytest.approx((2 * 1.5 + 3 * 2.5 + 4 * 3.5 + 5 * 4.5) / 14)
    spent = sum(100 * c * (c + 1) / 2 for c in (2, 3, 4, 5))
    assert first.values["input_tokens"] == pytest.approx(spent / 14)


def test_a_tally_added_to_an_empty_one_is_that_tally():
    """``absorb`` carries every figure a tally keeps (a field it forgot would fail here)."""
    later = Tally()
    for name, value in vars(later).items():
        if isinstance(value, bool):
            setattr(later, name, True)
        elif isinstance(value, float) or value is None:
            setattr(later, name, 3.0)
        elif isinstance(value, str):
            setattr(later, name, "v2")
    later.latency_hist = {(1.0, 2.0): [1, 2, 3]}
    later.tokens_by_model = {"gpt-4o": [10.0, 5.0]}
    later.labels.add(PointLabels("gpt-4o", "openai", "search", "mcp.internal"))
    empty = Tally()
    empty.absorb(later)
    assert vars(empty) == vars(later)
    empty.absorb(later)
    assert empty.ops == 6.0 and empty.cost == 6.0 and empty.latency_hist[(1.0, 2.0)] == [2, 4, 6]


def test_a_sample_s_version_is_that_of_its_latest_work_not_of_an_idle_export():
    """A deploy's first export holds only the new process's references (no work): its
    version must not pass for the version of the old prompt's work (a deploy would then be
    learned as 'old prompt, new version', and the new prompt be a prompt change forever)."""

    def tally(version: str, prompt: str, ops: float) -> Tally:
        t = Tally()
        t.version, t.prompt, t.ops, t.touched = version, PromptPrint(prompt), ops, True
        return t

    sample = tally("1", "p1", 3.0)
    sample.absorb(tally("2", "", 0.0))
    assert (sample.version, sample.prompt.hash) == ("1", "p1")
    sample.absorb(tally("2", "p2", 1.0))
    assert (sample.version, sample.prompt.hash) == ("2", "p2")


def test_an_export_ends_the_sample_nearest_its_length():
    """Exports every 25 s: samples of 50 s (nearer 60 than 75 is); every 40 s: each export;
    every 35 s: 70 s samples."""
    cases = ((25.0, [0, 50, 100, 150]), (40.0, [0, 40, 80, 120, 160]), (35.0, [0, 70, 140]))
    for every, cuts in cases:
        agent, m = Instrumented(), windowed(60)
        ops = agent.meter.create_histogram("gen_ai.client.operation.duration")
        found = []
        for step in range(int(160 // every) + 1):
            chat(ops, 1.0)
            now = every * step
            found.extend(now for _ in m.map(agent.export(), now).samples)
        assert found == cuts, every


def test_an_open_sample_of_an_agent_that_stopped_exporting_is_judged_on_the_timer():
    agent, m = Instrumented(), windowed(60)
    ops = agent.meter.create_histogram("gen_ai.client.operation.duration")
    for now in (0.0, 15.0, 30.0):
        chat(ops, 2.0)
        m.map(agent.export(), now)
    assert m.map_due(60.0).samples == []  # not yet a whole sample's time without an export
    sample = only_sample(m.map_due(90.0))
    assert sample.operations == 2 and sample.interval_seconds == 90.0
    assert m.map_due(200.0).samples == []


def exponential_agent():
    """An SDK meter whose histograms are base-2 exponential (the SDK's own aggregation)."""
    from opentelemetry.sdk.metrics.view import ExponentialBucketHistogramAggregation

    return Instrumented(aggregation={Histogram: ExponentialBucketHistogramAggregation()})


def test_exponential_histograms_give_the_calls_median_and_subtract_across_layouts():
    """Between two cumulative exports the SDK moves the histogram's offset and lowers its
    scale (a far slower call widens its range): the second interval is still its own calls."""
    agent, m = exponential_agent(), mapper()
    ops = agent.meter.create_histogram("gen_ai.client.operation.duration")
    calls = (0.9, 1.0, 1.0, 1.1, 1.2, 0.95, 1.05, 1.0, 30.0)  # one straggler
    for seconds in calls:
        chat(ops, seconds)
    first = only_sample(m.map(agent.export(), 1.0)).values
    assert first["latency"] > 4.0  # the straggler drags the mean
    assert first["latency_median"] == pytest.approx(geometric(calls), rel=0.1)  # ~1.46
    later = (0.002, 1.9, 2.0, 2.1, 2.2)  # a range 1,000x wider: the scale falls
    for seconds in later:
        chat(ops, seconds)
    second = only_sample(m.map(agent.export(), 2.0))
    assert second.operations == 5 and m._deltas.resets == 0
    assert second.values["latency_median"] == pytest.approx(geometric(later), rel=0.1)


def geometric(values):
    return math.exp(sum(map(math.log, values)) / len(values))


def test_exponential_buckets_fold_into_one_layout():
    from opentelemetry.proto.metrics.v1.metrics_pb2 import ExponentialHistogramDataPoint

    from immune_sidecar.vitals.exponential import BOUNDS, explicit_buckets

    point = ExponentialHistogramDataPoint(scale=4, count=6, zero_count=1)
    point.positive.offset = -3  # buckets at 2**(-3/16) .. : all just under 1 s
    point.positive.bucket_counts.extend([2, 0, 1])
    point.negative.bucket_counts.extend([1])
    point.positive.bucket_counts.append(1)  # index 0 at scale 4: (1, 2**(1/16)]
    counts = explicit_buckets(point)
    assert len(counts) == len(BOUNDS) + 1 and sum(counts) == 6
    assert counts[0] == 2  # the zero and the negative value
    at_one = BOUNDS.index(1.0)
    assert counts[at_one] == 3 and BOUNDS[at_one - 1] < 2 ** (-3 / 16)
    assert counts[at_one + 1] == 1
    coarse = ExponentialHistogramDataPoint(scale=0, count=1)  # (2, 4]: put at its middle
    coarse.positive.offset, coarse.positive.bucket_counts[:] = 1, [1]
    middle = explicit_buckets(coarse).index(1)
    assert 2.0 <= BOUNDS[middle - 1] < BOUNDS[middle] <= 4.0


def test_a_self_contradicting_exponential_point_is_refused_and_named():
    from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
        ExportMetricsServiceRequest,
    )

    request = ExportMetricsServiceRequest()
    rm = request.resource_metrics.add()
    rm.resource.attributes.add(key="service.name").value.string_value = "agent-a"
    metric = rm.scope_metrics.add().metrics.add(name="gen_ai.client.operation.duration")
    histogram = metric.exponential_histogram
    histogram.aggregation_temporality = 1  # delta
    good = histogram.data_points.add(scale=3, count=2, sum=2.0)
    good.positive.offset, good.positive.bucket_counts[:] = 0, [2]
    miscounted = histogram.data_points.add(scale=3, count=5, sum=2.0)
    miscounted.positive.bucket_counts[:] = [2]
    histogram.data_points.add(scale=30, count=0)
    result = mapper().map(request, 1.0)
    assert result.accepted == 1 and result.rejected == 2
    assert any("not the count 5" in r for r in result.reasons)
    assert any("scale 30" in r for r in result.reasons)
    assert only_sample(result).operations == 2


@pytest.mark.parametrize("traced, told", [(10, True), (8, True), (2, False)])
def test_spans_of_the_same_calls_tell_the_median_coarse_buckets_cannot(traced, told):
    """Sampled traces (a fifth of the calls) are not the interval's calls: no median."""
    from immune_sidecar.vitals.prices import PriceTable
    from immune_sidecar.vitals.sample import LATENCY_BOUNDS
    from immune_sidecar.vitals.spans import SpanFigures

    tally = Tally()
    coarse = (0.0, 5.0, 10.0, 25.0)
    tally.add("operation", PointValue(10, 12.0, (0, 10, 0, 0, 0), coarse), {}, "gpt-4o-mini")
    spans = SpanFigures(llm_calls=traced, llm_seconds=1.2 * traced)
    spans.latency_buckets[LATENCY_BOUNDS.index(1.28)] = traced  # all in (0.64, 1.28]
    tally.fill(spans)
    sample = tally.to_sample("agent-a", 1.0, 60.0, PriceTable({}))
    assert sample.values["latency"] == 1.2 and sample.values["llm_calls"] == 10  # the metrics'
    assert ("latency_median" in sample.values) is told and tally.coarse is not told
    assert sample.latency_is_mean is not told  # judged with the mean's heavier tail


def test_the_mean_of_one_or_two_calls_is_their_median_whatever_the_buckets():
    from immune_sidecar.vitals.prices import PriceTable

    for calls, is_mean in ((2, False), (3, True)):
        tally = Tally()
        buckets = (0, calls, 0, 0, 0)
        tally.add("operation", PointValue(calls, 1.5 * calls, buckets, (0.0, 5.0, 10.0, 25.0)),
                  {}, "gpt-4o-mini")  # fmt: skip
        assert tally.to_sample("a", 1.0, 60.0, PriceTable({})).latency_is_mean is is_mean
