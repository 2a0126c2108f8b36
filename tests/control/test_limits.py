"""Limits on control's API and link, over real gRPC: each answered with its code and counted."""

import queue
import time

import grpc
import pytest
from immune.v1 import control_pb2 as api
from immune.v1 import control_pb2_grpc, link_pb2, link_pb2_grpc

from immune_control.access import hash_token
from immune_control.config import Limits
from tests.support.control import scrape, start_control

OPERATOR = [("authorization", "Bearer op-token")]


@pytest.fixture(scope="module")
def control(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("limits")
    (tmp / "tokens").write_text(
        f"op operator {hash_token('op-token')}\nchatty sidecar {hash_token('chatty-token')}\n"
    )
    limits = Limits(
        max_reason_chars=50, max_message_bytes=64 * 1024, max_link_messages_per_second=2
    )
    app = start_control(
        str(tmp / "c.duckdb"), metrics="127.0.0.1:0", token_file=str(tmp / "tokens"), limits=limits
    )
    yield app
    app.stop()


def refused(app, where: str, reason: str) -> float:
    key = ("immune_refused_total", (("reason", reason), ("where", where)))
    return scrape(app).get(key, 0.0)


def test_api_refusals_are_counted_by_limit_and_permission(control):
    with grpc.insecure_channel(f"127.0.0.1:{control.port}") as channel:
        stub = control_pb2_grpc.ControlServiceStub(channel)
        with pytest.raises(grpc.RpcError) as nobody:
            stub.GetStats(api.GetStatsRequest(), timeout=5)
        assert nobody.value.code() == grpc.StatusCode.UNAUTHENTICATED
        with pytest.raises(grpc.RpcError) as long_reason:
            stub.HealAll(api.HealAllRequest(reason="x" * 51), metadata=OPERATOR, timeout=5)
        assert long_reason.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "at most 50 characters" in long_reason.value.details()
        with pytest.raises(grpc.RpcError) as too_big:
            request = api.ApproveAllRequest(reason="r", agent_ids=["a" * 1000] * 100)
            stub.ApproveAll(request, metadata=OPERATOR, timeout=5)
        assert too_big.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert refused(control, "api", "unauthenticated") >= 1
    assert refused(control, "api", "max_reason_chars") == 1


def test_a_sidecar_past_the_message_rate_is_slowed_and_loses_nothing(control):
    requests: queue.Queue = queue.Queue()
    hello = link_pb2.Hello(sidecar_id="chatty", version="test")
    requests.put(link_pb2.ConnectRequest(message_id="h", hello=hello))
    with grpc.insecure_channel(f"127.0.0.1:{control.port}") as channel:
        stream = link_pb2_grpc.SidecarLinkServiceStub(channel).Connect(
            iter(requests.get, None),
            timeout=30,
            metadata=[("authorization", "Bearer chatty-token")],
        )
        assert next(stream).WhichOneof("body") == "welcome"
        assert list(next(stream).ack.message_ids) == ["h"]
        started = time.monotonic()
        sent = [f"m{n}" for n in range(12)]
        for message_id in sent:
            requests.put(link_pb2.ConnectRequest(message_id=message_id, health=link_pb2.Health()))
        acked = [m for _ in sent for m in next(stream).ack.message_ids]
        elapsed = time.monotonic() - started
        requests.put(None)
    assert acked == sent
    assert elapsed >= 4  # 12 messages at 2/s after a burst of 2
    # Each message that had to wait is counted; how many did depends on how fast
    # control handled the others (the token bucket's own arithmetic is unit-tested).
    assert refused(control, "link", "rate") >= 1
