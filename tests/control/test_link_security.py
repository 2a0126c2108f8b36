"""The sidecar link against a hostile client in the cluster, over real gRPC: who may link,
who may hold a sidecar's session, who may speak for an agent, and what a message may hold."""

import math
import queue
import uuid

import grpc
import pytest
from immune.v1 import common_pb2 as pb
from immune.v1 import link_pb2, link_pb2_grpc
from immune_sdk import Client

from immune_common.config import ConfigError
from immune_control.access import hash_token
from immune_control.app import ControlApp
from immune_control.commands import QUARANTINE, Command
from immune_control.config import ControlConfig
from immune_control.store import Database, Store
from immune_sidecar.link import client as link_client
from tests.support.control import rig, scrape, start_control, wait_for

TOKENS = {"op": ("operator", "op-token"), "sc-1": ("sidecar", "sc1-token"),
          "sc-*": ("sidecar", "fleet-token"), "sc-2": ("sidecar", "sc2-token")}  # fmt: skip


@pytest.fixture(scope="module")
def token_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("tokens") / "tokens"
    path.write_text("".join(f"{n} {r} {hash_token(t)}\n" for n, (r, t) in TOKENS.items()))
    return path


@pytest.fixture(scope="module")
def control(token_file, tmp_path_factory):
    db = tmp_path_factory.mktemp("db") / "c.duckdb"
    app = start_control(str(db), threshold=7.0, metrics="127.0.0.1:0", token_file=str(token_file))
    yield app
    app.stop()


def api(app) -> Client:
    return Client(target=f"127.0.0.1:{app.port}", token="op-token", retries=0)


class Link:
    """A raw link session: send messages, read answers, end it."""

    def __init__(self, app, sidecar_id: str, token: str | None, agent_ids=()) -> None:
        self.requests: queue.Queue = queue.Queue()
        self.channel = grpc.insecure_channel(f"127.0.0.1:{app.port}")
        hello = link_pb2.Hello(sidecar_id=sidecar_id, version="test", agent_ids=agent_ids)
        self.send("hello", hello=hello)
        metadata = [("authorization", f"Bearer {token}")] if token else None
        self.stream = link_pb2_grpc.SidecarLinkServiceStub(self.channel).Connect(
            iter(self.requests.get, None), timeout=30, metadata=metadata
        )

    def send(self, message_id: str, **body) -> None:
        self.requests.put(link_pb2.ConnectRequest(message_id=message_id, **body))

    def answers(self, n: int) -> list:
        return [next(self.stream) for _ in range(n)]

    def acks_until(self, message_id: str) -> list[str]:
        """Acked message ids, up to and including ``message_id`` (commands skipped)."""
        acked: list[str] = []
        while message_id not in acked:
            acked += next(self.stream).ack.message_ids
        return acked

    def refusal(self) -> grpc.StatusCode | None:
        try:
            next(self.stream)
        except grpc.RpcError as exc:
            return exc.code()
        return None

    def close(self) -> None:
        self.requests.put(None)
        self.stream.cancel()
        self.channel.close()


def infection(infection_id: str, agent_id: str, severity: float, sigma: float = 6.0):
    anomaly = pb.Anomaly(type=pb.ANOMALY_TYPE_TOOL_EXPLOSION, vital="tool_calls", sigma=sigma)
    body = pb.Infection(id=infection_id, agent_id=agent_id, severity=severity, anomalies=[anomaly])
    return {"infection": link_pb2.InfectionReport(infection=body)}


def linked_sidecar(control, tmp_path):
    """A rig whose sidecar links with sc-1's token file, on the module's control."""
    (tmp_path / "token").write_text("sc1-token\n")
    overrides = {"control_token_file": str(tmp_path / "token")}
    return rig(tmp_path, control=control, sidecar_overrides=overrides)


def close(r) -> None:
    """Stop the rig's sidecar and agent admin (control is the module's)."""
    r.channel.close()
    r.sidecar.stop()
    r.admin.shutdown()


def refused(app, reason: str) -> float:
    return scrape(app).get(("immune_refused_total", (("reason", reason), ("where", "link"))), 0)


@pytest.mark.parametrize(
    ("token", "code", "reason"),
    [
        (None, grpc.StatusCode.UNAUTHENTICATED, "credential"),
        ("not-issued", grpc.StatusCode.UNAUTHENTICATED, "credential"),
        ("op-token", grpc.StatusCode.PERMISSION_DENIED, "identity"),  # an API token
        ("sc2-token", grpc.StatusCode.PERMISSION_DENIED, "identity"),  # another sidecar's
    ],
)
def test_the_link_needs_a_sidecar_token_bound_to_the_id_it_claims(control, token, code, reason):
    before = refused(control, reason)
    link = Link(control, "sc-1", token)
    link.send("forged", **infection("forged-1", "intruded", 9.0))
    try:
        assert link.refusal() == code
    finally:
        link.close()
    assert refused(control, reason) == before + 1
    with api(control) as c:
        assert c.incidents(agent_id="intruded") == []
        assert [a.id for a in c.agents() if a.id == "intruded"] == []


def test_a_real_sidecar_links_with_its_token_file_and_nobody_else_takes_its_session(
    control, tmp_path
):
    r = linked_sidecar(control, tmp_path)
    try:
        before = refused(control, "session_taken")
        impostor = Link(control, "sc-1", "fleet-token")  # valid for sc-1, but not its credential
        try:
            assert impostor.refusal() == grpc.StatusCode.PERMISSION_DENIED
        finally:
            impostor.close()
        assert refused(control, "session_taken") == before + 1
        assert r.sidecar.link.connected.is_set()
        agent = r.agent("served-by-sc-1")
        with api(control) as c:
            assert r.drive(agent, lambda: c.incidents(agent_id="served-by-sc-1"))
        agent.close()
    finally:
        close(r)


def test_a_squatter_delays_an_infection_but_cannot_make_it_lost(control, tmp_path, monkeypatch):
    monkeypatch.setattr(link_client, "REFUSED_RETRY_SECONDS", 0.5)
    squatter = Link(control, "sc-2", "sc2-token")
    squatter.send("claim", agent_seen=link_pb2.AgentSeen(agent=pb.Agent(id="victim")))
    assert [a.WhichOneof("body") for a in squatter.answers(3)] == ["welcome", "ack", "ack"]
    r = linked_sidecar(control, tmp_path)
    try:
        agent = r.agent("victim")
        r.drive(agent, lambda: r.sidecar.book.held(r.sidecar.clock()), intervals=10)
        with api(control) as c:
            assert not wait_for(lambda: c.incidents(agent_id="victim"), timeout=2)
            assert len(r.sidecar.link.outbox) >= 1  # refused, so kept
            squatter.close()
            assert wait_for(lambda: c.incidents(agent_id="victim"), timeout=20)
        assert wait_for(lambda: len(r.sidecar.link.outbox) == 0)
        agent.close()
    finally:
        squatter.close()
        close(r)


@pytest.mark.parametrize("severity", [math.nan, -50.0, math.inf, 11.0])
def test_a_severity_outside_0_to_10_is_dropped_not_healed(control, severity):
    link = Link(control, "sc-2", "sc2-token")
    agent = f"sev-{severity}"
    link.send("bad", **infection(f"inf-{severity}", agent, severity))
    try:
        assert link.acks_until("bad") == ["hello", "bad"]
    finally:
        link.close()
    with api(control) as c:
        assert c.incidents(agent_id=agent) == []


def test_an_understated_severity_is_raised_to_what_its_anomalies_show(control):
    link = Link(control, "sc-2", "sc2-token")
    link.send("low", **infection("understated", "understater", 0.5, sigma=40.0))
    try:
        link.acks_until("low")
    finally:
        link.close()
    with api(control) as c:
        found = wait_for(lambda: c.incidents(agent_id="understater"))
        assert found[0].severity >= 7.0
        assert found[0].state == pb.INCIDENT_STATE_PENDING_APPROVAL  # a human decides


@pytest.mark.parametrize(
    "body",
    [
        lambda: infection("x" * 1_000_000, "a", 5.0),
        lambda: infection("big-evidence", "a", 5.0)
        | {"infection": link_pb2.InfectionReport(infection=pb.Infection(
            id="big-evidence", agent_id="a", severity=5.0,
            evidence=[pb.VitalSample(agent_id="a")] * 10_000))},
        lambda: {"infection": link_pb2.InfectionReport(infection=pb.Infection(
            id="many-anomalies", agent_id="a", severity=5.0,
            anomalies=[pb.Anomaly(sigma=1.0)] * 10_000))},
        lambda: {"ack": link_pb2.Ack(message_ids=[f"never-{i}" for i in range(5000)])},
    ],
    ids=["1MB id", "10k evidence", "10k anomalies", "5k acks"],
)  # fmt: skip
def test_oversized_link_messages_are_dropped_and_counted(control, body):
    before = refused(control, "invalid")
    link = Link(control, "sc-2", "sc2-token")
    big, probe = uuid.uuid4().hex, uuid.uuid4().hex  # a repeated message id is a no-op
    link.send(big, **body())
    link.send(probe, health=link_pb2.Health())
    try:
        acked = link.acks_until(probe)  # the session goes on
        assert (big in acked) == ("infection" in body())
    finally:
        link.close()
    assert refused(control, "invalid") == before + 1
    with api(control) as c:
        assert c.incidents(agent_id="a") == []


def test_a_hello_naming_too_many_agents_is_refused(control):
    link = Link(control, "sc-2", "sc2-token", agent_ids=[f"a{i}" for i in range(20_000)])
    try:
        assert link.refusal() == grpc.StatusCode.INVALID_ARGUMENT
    finally:
        link.close()


def test_two_infections_under_one_message_id_are_one(control):
    link = Link(control, "sc-2", "sc2-token")
    link.send("same", **infection("first", "twice-sent", 5.0))
    link.send("same", **infection("second", "twice-sent-too", 5.0))
    link.send("after", health=link_pb2.Health())
    try:
        assert link.acks_until("after") == ["hello", "same", "same", "after"]
    finally:
        link.close()
    with api(control) as c:
        concerned = lambda: {a for i in c.incidents() for a in (i.agent_id, *i.affected_agent_ids)}  # noqa: E731
        assert "twice-sent" in wait_for(lambda: "twice-sent" in concerned() and concerned())
        assert "twice-sent-too" not in concerned()


def test_acks_count_only_for_commands_sent_to_that_sidecar_and_survive_a_restart(tmp_path):
    from immune_control.control import Control
    from immune_control.link.reports import SidecarReports

    config = ControlConfig(db=str(tmp_path / "acks.duckdb"))

    def open_control() -> SidecarReports:
        store = Store(Database(config.db_path))
        return SidecarReports(Control(config, store, Courierless(), lambda: 5.0))

    control = open_control()
    with control.ledger.change():
        control.ledger.keep(Command(QUARANTINE, "sc-1", "a", "i-1", id="cmd-1"))
    control.acked("sc-2", ["cmd-1", "never-sent"])  # not sc-2's, and unknown
    assert [c.id for c in control.ledger.unacked.of("sc-1")] == ["cmd-1"]
    assert control.store.count("SELECT count(*) FROM command_acks") == 0
    control.store.db.close()
    control = open_control()  # a restart: still waiting
    assert [c.id for c in control.hello("sc-1", "t", [], [])] == ["cmd-1"]
    control.acked("sc-1", ["cmd-1"])
    control.store.db.close()
    control = open_control()
    assert control.hello("sc-1", "t", [], []) == []
    control.store.db.close()


class Courierless:
    def deliver(self, command) -> None:
        pass


def test_an_open_link_beyond_loopback_is_a_config_error_unless_insecure_is_said(tmp_path):
    config = ControlConfig(listen="0.0.0.0:0", metrics="", db=str(tmp_path / "c.duckdb"))
    with pytest.raises(ConfigError, match="issue sidecar tokens"):
        ControlApp(config)
    ControlApp(ControlConfig(**{**config.__dict__, "insecure_open_link": True}))
    ControlApp(config, environ={"IMMUNE_API_TOKEN_SC1": f"sidecar:{'t' * 20}"})


def test_two_authorization_headers_are_refused(control):
    metadata = [("authorization", "Bearer sc2-token"), ("authorization", "Bearer sc1-token")]
    link = Link(control, "sc-2", None)
    link.close()
    with grpc.insecure_channel(f"127.0.0.1:{control.port}") as channel:
        requests = iter(
            [link_pb2.ConnectRequest(message_id="h", hello=link_pb2.Hello(sidecar_id="sc-2"))]
        )
        stream = link_pb2_grpc.SidecarLinkServiceStub(channel).Connect(
            requests, metadata=metadata, timeout=10
        )
        with pytest.raises(grpc.RpcError) as refusal:
            next(stream)
    assert refusal.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "more than one authorization header" in refusal.value.details()
