"""The egress gate's cost: the same local upstream called directly and through a sidecar's
gate in the same run (1 and 16 concurrent streams), its throughput per core, and its memory.

The upstream (tests.support.providers) and the sidecar each run in a process of their own;
the load comes from this one (aiohttp). A stream is 50 chunks 4 ms apart on the model's
clock, like a 200-token answer at 50 tokens a second per chunk of four. N concurrent
streams are N workers, started evenly over one stream's length, each calling back to back
and alternating direct and gated calls, so both paths see the same machine; the burst
figure starts N streams in the same instant instead (the gate then takes them one by one).
"""

import asyncio
import contextlib
import json
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import aiohttp

from .proc import cpu_seconds, rss_mb

CHUNKS, CHUNK_DELAY = 50, 0.004
STREAM_SECONDS = CHUNKS * CHUNK_DELAY
PATH = "/v1/chat/completions"
SYSTEM = {"role": "system", "content": "You are careful. " * 60}
BODY = {"model": "gpt-4o-mini", "messages": [SYSTEM, {"role": "user", "content": "How are you?"}]}


@contextlib.contextmanager
def _upstream():
    code = (
        "import sys; from tests.support.providers import Provider; "
        f"p = Provider(chunks={CHUNKS}, chunk_delay={CHUNK_DELAY}); print(p.port, flush=True); "
        "sys.stdin.read()"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        yield int(process.stdout.readline())
    finally:
        process.stdin.close()
        process.wait(10)


@contextlib.contextmanager
def _sidecar(upstream_port: int | None):
    with tempfile.TemporaryDirectory() as tmp:
        config = f"{tmp}/sidecar.yaml"
        route = {"kind": "openai", "upstream": f"http://127.0.0.1:{upstream_port}"}
        gate = {"listen": "127.0.0.1:0", "agent": "bench-agent", "routes": [route]}
        with open(config, "w") as f:
            json.dump({"gate": gate} if upstream_port else {}, f)
        process = subprocess.Popen(
            [sys.executable, "-m", "immune_sidecar", "--otlp-grpc", "127.0.0.1:0",
             "--otlp-http", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--config", config],
            stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            line = process.stderr.readline()
            found = re.search(r"gate [\d.]+:(\d+)", line)
            threading.Thread(target=process.stderr.read, daemon=True).start()
            yield process.pid, int(found.group(1)) if found else 0
        finally:
            process.terminate()
            process.wait(10)


async def _stream(session: aiohttp.ClientSession, url: str) -> tuple[float, float]:
    """One streamed chat call: (seconds to its end, seconds to its first chunk)."""
    started = time.perf_counter()
    first = None
    body = {**BODY, "stream": True}
    async with session.post(url, json=body, headers={"Authorization": "Bearer x"}) as response:
        async for _ in response.content.iter_any():
            if first is None:
                first = time.perf_counter()
    return time.perf_counter() - started, first - started


async def _alternating(direct: str, gated: str, concurrency: int, calls: int) -> dict:
    """Each worker's calls alternate direct and gated; timings by path."""
    found: dict[str, list] = {direct: [], gated: []}
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        for base in found:
            await _stream(session, base + PATH)  # connections warm

        async def worker(k: int) -> None:
            await asyncio.sleep(k * STREAM_SECONDS / concurrency)
            for i in range(calls):
                pair = (direct, gated) if (i + k) % 2 else (gated, direct)
                for base in pair:
                    found[base].append(await _stream(session, base + PATH))

        await asyncio.gather(*(worker(k) for k in range(concurrency)))
    return found


async def _burst(base: str, concurrency: int, rounds: int) -> list[float]:
    """Times to the first chunk of ``concurrency`` streams started together."""
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        await asyncio.gather(*(_stream(session, base + PATH) for _ in range(concurrency)))
        firsts = []
        for _ in range(rounds):
            calls = (_stream(session, base + PATH) for _ in range(concurrency))
            firsts += [f for _, f in await asyncio.gather(*calls)]
    return firsts


async def _requests(base: str, concurrency: int, count: int) -> float:
    """Non-streamed calls at ``concurrency``; calls a second."""
    url = base + PATH
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:

        async def worker(n: int) -> None:
            for _ in range(n):
                async with session.post(url, json=BODY) as response:
                    await response.read()

        started = time.perf_counter()
        await asyncio.gather(*(worker(count // concurrency) for _ in range(concurrency)))
        return count / (time.perf_counter() - started)


def _q(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[round(q * 100) - 1]


def _added(direct: list[float], gated: list[float]) -> dict:
    return {
        "p50": round((_q(gated, 0.5) - _q(direct, 0.5)) * 1000, 2),
        "p99": round((_q(gated, 0.99) - _q(direct, 0.99)) * 1000, 2),
    }


def run() -> dict:
    """The gate's figures."""
    figures: dict = {}
    with _upstream() as port, _sidecar(port) as (pid, gate_port), _sidecar(None) as (bare, _):
        time.sleep(0.5)
        figures["sidecar_rss_without_gate_mb"] = rss_mb(bare)
        figures["sidecar_rss_with_gate_idle_mb"] = rss_mb(pid)
        direct, gated = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{gate_port}"
        for concurrency, calls in ((1, 60), (16, 12)):
            found = asyncio.run(_alternating(direct, gated, concurrency, calls))
            d_total, d_first = zip(*found[direct], strict=True)
            g_total, g_first = zip(*found[gated], strict=True)
            added, first = _added(d_total, g_total), _added(d_first, g_first)
            figures[f"streams_x{concurrency}_added_ms"] = f"p50 {added['p50']}, p99 {added['p99']}"
            figures[f"streams_x{concurrency}_added_first_chunk_ms"] = (
                f"p50 {first['p50']}, p99 {first['p99']}"
            )
            figures[f"streams_x{concurrency}_direct_p50_ms"] = round(_q(d_total, 0.5) * 1000, 1)
        burst = _added(asyncio.run(_burst(direct, 16, 8)), asyncio.run(_burst(gated, 16, 8)))
        figures["burst_x16_added_first_chunk_ms"] = f"p50 {burst['p50']}, p99 {burst['p99']}"
        figures["direct_requests_per_s_x16"] = round(asyncio.run(_requests(direct, 16, 2000)))
        cpu = cpu_seconds(pid)
        rate = asyncio.run(_requests(gated, 16, 2000))
        figures["gate_requests_per_s_x16"] = round(rate)
        figures["gate_requests_per_cpu_second"] = round(2000 / (cpu_seconds(pid) - cpu))
        figures["sidecar_rss_with_gate_after_mb"] = rss_mb(pid)
        figures["rss_added_by_gate_mb"] = round(rss_mb(pid) - rss_mb(bare), 1)
    return {"gate": figures}
