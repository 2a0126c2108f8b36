"""Sidecar figures: ingest rate beside pure decode, detection latency, resident memory."""

import contextlib
import http.client
import json
import os
import re
import statistics
import subprocess
import sys
import threading
import time

import grpc
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import KeyValue

from immune_sidecar.app import Sidecar
from immune_sidecar.config import SidecarConfig
from immune_sidecar.receiver.codec import PROTOBUF
from immune_sidecar.receiver.signals import METRICS, TRACES

from .fleet import BenchAgent, fleet_requests
from .proc import rss_mb

LOOPBACK = {
    "otlp_grpc": "127.0.0.1:0",
    "otlp_http": "127.0.0.1:0",
    "admin": "127.0.0.1:0",
    "max_requests_per_second": 0,  # capacity is what is measured
    "sample_seconds": 0.0,  # every export judged: the detection cost is part of it
}
EXPORT = "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export"


def ingest(agents: int = 100, intervals: int = 30) -> dict:
    """Decode + map + detect on one thread, beside pure protobuf decode of the same bytes.

    Rates are per round of one request per agent; the best round is the figure
    least disturbed by other work on the machine, the median the typical one.
    """
    rounds = fleet_requests(agents, intervals)
    sidecar = Sidecar(SidecarConfig(**LOOPBACK))
    for body in rounds[0]:  # seeds the cumulative streams
        sidecar.handler.handle(body, PROTOBUF, "bench")
    decode, end_to_end, points = [], [], 0
    parse, handle = ExportMetricsServiceRequest.FromString, sidecar.handler.handle
    for bodies in rounds[1:]:
        n = sum(METRICS.count(ExportMetricsServiceRequest.FromString(b)) for b in bodies)
        points += n
        decode.append(n / _timed(lambda bodies=bodies: [parse(b) for b in bodies]))
        end_to_end.append(
            n / _timed(lambda bodies=bodies: [handle(b, PROTOBUF, "x") for b in bodies])
        )
    sidecar.runner.close()
    return {
        "agents": agents,
        "points": points,
        "points_per_request": round(points / agents / (intervals - 1), 1),
        "decode_points_per_s_best": round(max(decode)),
        "decode_points_per_s_median": round(statistics.median(decode)),
        "ingest_points_per_s_best": round(max(end_to_end)),
        "ingest_points_per_s_median": round(statistics.median(end_to_end)),
        "ingest_share_of_decode": round(max(end_to_end) / max(decode), 3),
    }


def span_ingest(agents: int = 100, rounds: int = 20, calls: int = 20, prompt: str = "") -> dict:
    """Spans through the real handler on one thread: each round, every agent exports one
    interval's GenAI spans (an invoke_agent span, LLM calls half of which ask for a tool,
    and their execute_tool spans), as the SDK's batch processor sends them. ``prompt``:
    the LLM spans carry a captured 1 KB system prompt, "fixed", "dated" (stating the
    time and a request id, so that each call's differs) or "varying" (with half a KB of
    passages retrieved for each call)."""
    exports = [
        [_span_request(f"agent-{a:03d}", calls, prompt, r).SerializeToString()
         for a in range(agents)]
        for r in range(rounds if prompt in ("dated", "varying") else 1)
    ]  # fmt: skip
    spans = sum(TRACES.count(ExportTraceServiceRequest.FromString(b)) for b in exports[0])
    sidecar = Sidecar(SidecarConfig(**LOOPBACK))
    rss_before = rss_mb(os.getpid())
    handle, rates = sidecar.handler.handle, []
    for r in range(rounds):
        rates.append(spans / _replayed(handle, exports[r % len(exports)]))
    sidecar.runner.close()
    return {
        "agents": agents,
        "spans_per_request": spans // agents,
        "ingest_spans_per_s_best": round(max(rates)),
        "ingest_spans_per_s_median": round(statistics.median(rates)),
        "rss_growth_mb": round(rss_mb(os.getpid()) - rss_before, 1),
    }


SYSTEM_PROMPT = "You are a careful support agent. Answer from the knowledge base. " * 16


def _replayed(handle, bodies: list[bytes]) -> float:
    """Seconds the handler took to take in these span exports."""
    return _timed(lambda: [handle(b, PROTOBUF, "x", signal=TRACES) for b in bodies])


PASSAGE_WORDS = ("the", "refund", "policy", "order", "shipping", "invoice", "account", "label")


def _system_prompt(kind: str, agent: str, n: int, round_: int) -> list:
    if not kind:
        return []
    text, call = SYSTEM_PROMPT, hash((agent, round_, n))
    if kind == "dated":
        text += f"It is Friday, 4 December 2026, 18:{n:02d}:07 UTC. Request {call:x}."
    if kind == "varying":
        words = (PASSAGE_WORDS[(call >> (i % 60)) % len(PASSAGE_WORDS)] for i in range(80))
        text += "Passages: " + " ".join(words) + "."
    return [_kv("gen_ai.system_instructions", text)]


def _span_request(
    agent: str, calls: int, prompt: str = "", round_: int = 0
) -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    resource_spans.resource.attributes.add(key="service.name").value.string_value = agent
    spans = resource_spans.scope_spans.add().spans
    spans.add(name="invoke_agent", attributes=[_kv("gen_ai.operation.name", "invoke_agent")])
    for n in range(calls):
        finish = "tool_calls" if n % 2 == 0 else "stop"
        span = spans.add(name="chat gpt-4o-mini", start_time_unix_nano=n * 10**9,
                         end_time_unix_nano=n * 10**9 + 8 * 10**8)  # fmt: skip
        span.attributes.extend([
            _kv("gen_ai.operation.name", "chat"), _kv("gen_ai.request.model", "gpt-4o-mini"),
            _kv("gen_ai.response.finish_reasons", finish), _kv("gen_ai.usage.input_tokens", 800),
            _kv("gen_ai.usage.output_tokens", 300), *_system_prompt(prompt, agent, n, round_),
        ])  # fmt: skip
        if finish == "tool_calls":
            tool = [_kv("gen_ai.operation.name", "execute_tool"), _kv("gen_ai.tool.name", "search")]
            spans.add(name="execute_tool search", attributes=tool)
    return request


def _kv(key: str, value):
    kv = KeyValue(key=key)
    if isinstance(value, str):
        kv.value.string_value = value
    else:
        kv.value.int_value = value
    return kv


def _timed(work) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def cpu_reference() -> dict:
    """A fixed Python loop, so figures from busy or slow machines can be compared."""
    table = {"a": 1}
    runs = [_timed(lambda: [table.get("a") for _ in range(1_000_000)]) for _ in range(5)]
    return {"million_dict_gets_ms_best": _ms(min(runs)), "median_ms": _ms(statistics.median(runs))}


def detection_latency(agents: int = 200) -> dict:
    """From a faulty Export returning to ``/readyz`` naming the agent (sidecar in a process)."""
    with _sidecar_process() as (_, grpc_port, admin_port):
        channel = grpc.insecure_channel(f"127.0.0.1:{grpc_port}")
        export = channel.unary_unary(EXPORT)
        probe = http.client.HTTPConnection("127.0.0.1", admin_port)
        latencies = []
        for i in range(agents):
            agent = BenchAgent(f"latency-{i}", i)
            for _ in range(10):
                export(agent.interval(), timeout=10)
            faulty = agent.interval(latency=30.0)
            export(faulty, timeout=10)
            returned = time.perf_counter()
            while not _names(probe, f"latency-{i}"):
                pass
            latencies.append(time.perf_counter() - returned)
        channel.close()
    q = statistics.quantiles(latencies, n=100)
    return {
        "samples": agents,
        "p50_ms": _ms(q[49]),
        "p99_ms": _ms(q[98]),
        "max_ms": _ms(max(latencies)),
    }


def resident_memory(agents: int = 100, intervals: int = 40) -> dict:
    """RSS of a sidecar process serving ``agents`` agents at steady state."""
    with _sidecar_process() as (pid, grpc_port, _):
        channel = grpc.insecure_channel(f"127.0.0.1:{grpc_port}")
        export = channel.unary_unary(EXPORT)
        fleet = [BenchAgent(f"rss-{i}", i) for i in range(agents)]
        readings = []
        for step in range(intervals):
            for agent in fleet:
                export(agent.interval(), timeout=10)
            if step in (intervals // 2, intervals - 1):
                readings.append(rss_mb(pid))
        channel.close()
    return {
        "agents": agents,
        "intervals": intervals,
        "rss_mid_mb": readings[0],
        "rss_end_mb": readings[1],
    }


def agent_flood(ids: int = 1_000_000, max_agents: int = 1000) -> dict:
    """A million distinct agent ids into a sidecar process capped at ``max_agents``."""
    batch = 20_000
    template = ExportMetricsServiceRequest()
    metric = template.resource_metrics.add().scope_metrics.add().metrics.add()
    metric.name = "gen_ai.invoke_agent.tool_calls"
    for i in range(batch):
        point = metric.gauge.data_points.add(as_double=1.0, time_unix_nano=1)
        point.attributes.add(key="gen_ai.agent.id").value.string_value = f"id-@@@-{i:05d}"
    raw = template.SerializeToString()
    with _sidecar_process("--max-agents", str(max_agents)) as (pid, grpc_port, _):
        export = grpc.insecure_channel(f"127.0.0.1:{grpc_port}").unary_unary(EXPORT)
        started, rss = time.perf_counter(), {}
        for n in range(ids // batch):
            export(raw.replace(b"@@@", b"%03d" % n), timeout=600)
            if (n + 1) * batch in (100_000, ids):
                rss[(n + 1) * batch] = rss_mb(pid)
        seconds = time.perf_counter() - started
    return {
        "ids": ids,
        "max_agents": max_agents,
        "seconds": round(seconds, 1),
        "ids_per_s": round(ids / seconds),
        "rss_after_100k_mb": rss[100_000],
        "rss_after_all_mb": rss[ids],
    }


@contextlib.contextmanager
def _sidecar_process(*flags: str):
    # Capacity and latency are what is measured: no export rate limit. The agent flood
    # names its agents on the points (one process, many agents: the identity setting).
    env = {
        **os.environ,
        "IMMUNE_MAX_REQUESTS_PER_SECOND": "0",
        "IMMUNE_SAMPLE_SECONDS": "0",  # each export judged at once: what latency measures
        "IMMUNE_IDENTITY": "gen_ai.agent.id,service.instance.id,k8s.pod.name,service.name",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "immune_sidecar", "--otlp-grpc", "127.0.0.1:0",
         "--otlp-http", "127.0.0.1:0", "--admin", "127.0.0.1:0", *flags],
        stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    try:
        line = process.stderr.readline()
        ports = re.search(r"OTLP/gRPC [\d.]+:(\d+), OTLP/HTTP [\d.]+:\d+, admin [\d.]+:(\d+)", line)
        # Keep reading its log so a full pipe never blocks the sidecar.
        threading.Thread(target=process.stderr.read, daemon=True).start()
        yield process.pid, int(ports.group(1)), int(ports.group(2))
    finally:
        process.terminate()
        process.wait(10)


def _names(probe: http.client.HTTPConnection, agent_id: str) -> bool:
    probe.request("GET", "/readyz")
    response = probe.getresponse()
    body = json.loads(response.read())
    return any(q["agent_id"] == agent_id for q in body["quarantined"])


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


def run() -> dict:
    """Every sidecar figure."""
    return {
        "cpu_reference": cpu_reference(),
        "ingest": ingest(),
        "span_ingest": span_ingest(),
        "span_ingest_fixed_prompts": span_ingest(prompt="fixed"),
        "span_ingest_dated_prompts": span_ingest(prompt="dated"),
        "span_ingest_varying_prompts": span_ingest(prompt="varying"),
        "detection_latency": detection_latency(),
        "memory": resident_memory(),
        "agent_flood": agent_flood(),
        "cpu_reference_after": cpu_reference(),
        "cpus": {"count": os.cpu_count()},
    }
