"""Control benchmarks: many sidecars on link streams, HealAll, ApproveHealing at scale, memory.

Control runs as its own process on a fresh DuckDB file; simulated sidecars
speak the real link protocol over gRPC on loopback.
"""

import asyncio
import os
import random
import statistics
import subprocess
import tempfile
import time
import uuid

import duckdb
import grpc
from immune.v1 import common_pb2 as pb
from immune.v1 import control_pb2 as api
from immune.v1 import control_pb2_grpc, link_pb2, link_pb2_grpc

from tests.support.control import ControlProcess
from tests.support.sidecar import free_port

from .proc import cpu_seconds, rss_mb

CONFIG = """
approval: {threshold: 5.0, ttl_seconds: 86400}
healing: {max_auto_attempts_per_hour: 1000, action_timeout_seconds: 3600}
fleet: {correlation_share: 1.0, min_fleet_size: 1000000, max_quarantined_share: 1.0}
"""


def _control(folder: str) -> tuple[subprocess.Popen, int]:
    running = ControlProcess(os.path.join(folder, "c.duckdb"), free_port(), CONFIG)
    return running.proc, running.port


def _infection(agent: str, severity: float) -> link_pb2.ConnectRequest:
    anomaly = pb.Anomaly(
        type=pb.ANOMALY_TYPE_TOOL_EXPLOSION, vital="tool_calls", observed=12, baseline=1, sigma=9
    )
    return link_pb2.ConnectRequest(
        message_id=uuid.uuid4().hex,
        infection=link_pb2.InfectionReport(
            infection=pb.Infection(
                id=uuid.uuid4().hex,
                agent_id=agent,
                severity=severity,
                anomalies=[anomaly],
                quarantined=True,
            )
        ),
    )


class SimSidecar:
    """One link stream: sends reports, acks commands, times the acks of its reports."""

    def __init__(self, name: str, agents: list[str]) -> None:
        self.name, self.agents = name, agents
        self.out: asyncio.Queue = asyncio.Queue()
        self.sent: dict[str, float] = {}
        self.latencies: list[float] = []
        self.commands = 0
        self.welcomed = asyncio.Event()

    async def run(self, stub) -> None:
        hello = link_pb2.ConnectRequest(
            message_id=uuid.uuid4().hex,
            hello=link_pb2.Hello(sidecar_id=self.name, agent_ids=self.agents),
        )

        async def requests():
            yield hello
            while (m := await self.out.get()) is not None:
                yield m

        async for response in stub.Connect(requests()):
            kind = response.WhichOneof("body")
            if kind == "welcome":
                self.welcomed.set()
            elif kind == "ack":
                for mid in response.ack.message_ids:
                    if mid in self.sent:
                        self.latencies.append(time.perf_counter() - self.sent.pop(mid))
            else:
                self.commands += 1
                self.out.put_nowait(
                    link_pb2.ConnectRequest(
                        message_id=uuid.uuid4().hex,
                        ack=link_pb2.Ack(message_ids=[response.message_id]),
                    )
                )

    async def health(self, every: float, stop: asyncio.Event) -> None:
        """Send Health for every agent every ``every`` seconds, as a sidecar does."""
        agents = [link_pb2.AgentVitals(agent_id=a, status=pb.AGENT_STATUS_HEALTHY, samples_total=1)
                  for a in self.agents]  # fmt: skip
        await asyncio.sleep(random.uniform(0, every))
        while not stop.is_set():
            self.out.put_nowait(
                link_pb2.ConnectRequest(
                    message_id=uuid.uuid4().hex, health=link_pb2.Health(agents=agents)
                )
            )
            await asyncio.sleep(every)

    def report(self, message) -> None:
        self.sent[message.message_id] = time.perf_counter()
        self.out.put_nowait(message)


async def _fleet(port: int, sidecars: int, per: int, rate: float) -> dict:
    channels = [grpc.aio.insecure_channel(f"127.0.0.1:{port}") for _ in range(8)]
    sims = [SimSidecar(f"sc-{i}", [f"sc-{i}-a{j}" for j in range(per)]) for i in range(sidecars)]
    tasks = [
        asyncio.ensure_future(
            s.run(link_pb2_grpc.SidecarLinkServiceStub(channels[i % len(channels)]))
        )
        for i, s in enumerate(sims)
    ]
    await asyncio.gather(*(s.welcomed.wait() for s in sims))
    # Infection-to-decision: a severe infection on one agent of every sidecar (pending
    # recorded), and a mild one on another agent of every second sidecar (action sent).
    reports = [(sim, sim.agents[0], 9.0) for sim in sims]
    reports += [(sim, sim.agents[1], 3.0) for sim in sims[::2]]
    for sim, agent, severity in sorted(reports, key=lambda r: r[0].name):
        sim.report(_infection(agent, severity))
        await asyncio.sleep(1 / rate)
    while any(s.sent for s in sims):
        await asyncio.sleep(0.05)
    latencies = sorted(x for s in sims for x in s.latencies)
    decided = {
        "infections": len(latencies),
        "p50_ms": round(statistics.median(latencies) * 1e3, 2),
        "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1e3, 2),
    }
    # HealAll over the rejected incidents, until every command reached its sidecar (acked).
    stub = control_pb2_grpc.ControlServiceStub(channels[0])
    rejected = await stub.RejectAll(api.RejectAllRequest(reason="bench"))
    before = sum(s.commands for s in sims)
    start = time.perf_counter()
    healed = await stub.HealAll(api.HealAllRequest(reason="bench"))
    while sum(s.commands for s in sims) - before < len(healed.results):
        await asyncio.sleep(0.005)
    decided["heal_all_incidents"] = len(rejected.results)
    decided["heal_all_seconds"] = round(time.perf_counter() - start, 3)
    for sim in sims:
        sim.out.put_nowait(None)
    await asyncio.gather(*tasks, return_exceptions=True)
    for channel in channels:
        await channel.close()
    return decided


def link_fleet(sidecars: int = 1000, per: int = 10, rate: float = 200.0) -> dict:
    """Infection-to-decision latency over link streams, then HealAll, and control's memory."""
    with tempfile.TemporaryDirectory() as folder:
        proc, port = _control(folder)
        try:
            figures = asyncio.run(_fleet(port, sidecars, per, rate))
            figures["sidecars"], figures["agents"] = sidecars, sidecars * per
            figures["control_rss_mb"] = rss_mb(proc.pid)
        finally:
            proc.terminate()
            proc.wait(30)
    return figures


def approve_latency(stored: int = 100_000, approvals: int = 200) -> dict:
    """ApproveHealing p50/p99 with ``stored`` incidents already in the database."""
    with tempfile.TemporaryDirectory() as folder:
        proc, port = _control(folder)
        proc.terminate()
        proc.wait(30)
        con = duckdb.connect(os.path.join(folder, "c.duckdb"))
        con.execute(
            "INSERT INTO incidents SELECT md5(i::varchar), 'old-' || (i % 5000), 'healed', 3.0, "
            "'[]', '[]', '[]', 0, 'auto', i, i, NULL, false, '[]', false, '[]' "
            f"FROM range({stored}) t(i)"
        )
        con.execute(
            "INSERT INTO events SELECT i + 1, i, 'incident.healed', md5((i // 4)::varchar), "
            f"'a', 'system', '', 'healing', 'healed', '' FROM range({stored * 4}) t(i)"
        )
        con.close()
        proc, port = _control(folder)
        try:
            return asyncio.run(_approvals(port, approvals)) | {
                "stored_incidents": stored,
                "control_rss_mb": rss_mb(proc.pid),
            }
        finally:
            proc.terminate()
            proc.wait(30)


async def _approvals(port: int, count: int) -> dict:
    sim = SimSidecar("sc-approve", [f"p{i}" for i in range(count)])
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        task = asyncio.ensure_future(sim.run(link_pb2_grpc.SidecarLinkServiceStub(channel)))
        await sim.welcomed.wait()
        for agent in sim.agents:
            sim.report(_infection(agent, 9.0))
        while sim.sent:
            await asyncio.sleep(0.05)
        stub = control_pb2_grpc.ControlServiceStub(channel)
        times = []
        for agent in sim.agents:
            start = time.perf_counter()
            await stub.ApproveHealing(api.ApproveHealingRequest(target=api.Target(agent_id=agent)))
            times.append(time.perf_counter() - start)
        sim.out.put_nowait(None)
        await asyncio.gather(task, return_exceptions=True)
    times.sort()
    return {
        "approvals": count,
        "p50_ms": round(statistics.median(times) * 1e3, 2),
        "p99_ms": round(times[int(len(times) * 0.99) - 1] * 1e3, 2),
    }


async def _scale(pid: int, port: int, sidecars: int, per: int, every: float, rate: float):
    n = max(1, sidecars // 50)  # connections, each carrying up to 50 sidecars' streams
    channels = [grpc.aio.insecure_channel(f"127.0.0.1:{port}") for _ in range(n)]
    sims = [SimSidecar(f"sc-{i}", [f"sc-{i}-a{j}" for j in range(per)]) for i in range(sidecars)]
    started = time.perf_counter()
    tasks = [
        asyncio.ensure_future(s.run(link_pb2_grpc.SidecarLinkServiceStub(channels[i % n])))
        for i, s in enumerate(sims)
    ]
    await asyncio.wait([asyncio.ensure_future(s.welcomed.wait()) for s in sims], timeout=120)
    welcomed = sum(s.welcomed.is_set() for s in sims)
    figures = {
        "welcomed": welcomed,
        "hellos_per_s_until_all_or_120s": round(welcomed / (time.perf_counter() - started)),
    }
    stop = asyncio.Event()
    beats = [asyncio.ensure_future(s.health(every, stop)) for s in sims]
    await asyncio.sleep(every)  # every sidecar has spoken once; now a steady load
    cpu, wall = cpu_seconds(pid), time.perf_counter()
    picked = random.Random(7).sample(range(sidecars), min(500, sidecars))
    chosen = [sims[i] for i in picked]
    for sim in chosen:  # mild infections: each decided and an action sent
        sim.report(_infection(sim.agents[0], 3.0))
        await asyncio.sleep(1 / rate)
    deadline = time.perf_counter() + 60
    while any(sims[i].sent and not tasks[i].done() for i in picked):
        if time.perf_counter() > deadline:
            break
        await asyncio.sleep(0.05)
    latencies = sorted(x for s in chosen for x in s.latencies)
    figures |= {
        "streams_failed": sum(t.done() for t in tasks),
        "infections_unanswered": sum(len(s.sent) for s in chosen),
        "health_messages_per_s": round(sidecars / every),
        "control_cpu_share": round((cpu_seconds(pid) - cpu) / (time.perf_counter() - wall), 2),
        "infections": len(latencies),
        "decision_p50_ms": round(statistics.median(latencies) * 1e3, 2),
        "decision_p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1e3, 2),
    }
    stop.set()
    for sim in sims:
        sim.out.put_nowait(None)
    await asyncio.gather(*tasks, *beats, return_exceptions=True)
    for channel in channels:
        await channel.close()
    return figures


def scale(sidecars: int = 10_000, per: int = 10, every: float = 10.0, rate: float = 50.0):
    """Where one control stops: ``sidecars`` × ``per`` agents linked, each sidecar sending
    health every ``every`` seconds, 500 infections at ``rate``/s among them."""
    with tempfile.TemporaryDirectory() as folder:
        proc, port = _control(folder)
        try:
            figures = asyncio.run(_scale(proc.pid, port, sidecars, per, every, rate))
            figures |= {"sidecars": sidecars, "agents": sidecars * per}
            figures["control_rss_mb"] = rss_mb(proc.pid)
        finally:
            proc.terminate()
            proc.wait(60)
    return figures


def run() -> dict:
    """Every control benchmark."""
    return {
        "control link fleet": link_fleet(),
        "control approve": approve_latency(),
        "control scale": scale(),
    }
