"""Property-based fuzzing of the sidecar link over real gRPC: hostile Hellos, acks for
anything, infections with any numbers and evidence sizes, random bytes. Every session ends
in an ack, a refusal or a proper status; control stays up, answers, and stays bounded."""

import queue
import resource

import grpc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from immune.v1 import common_pb2 as pb
from immune.v1 import link_pb2, link_pb2_grpc
from immune_sdk import Client

from immune_control.access import hash_token
from tests.support.control import start_control

FUZZ = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
ENDINGS = {
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.PERMISSION_DENIED,
    grpc.StatusCode.UNAUTHENTICATED,
    grpc.StatusCode.INTERNAL,
    grpc.StatusCode.UNKNOWN,
}  # fmt: skip  (the last two: bytes that are no message)
ids = st.text(max_size=300)
numbers = st.floats(allow_nan=True, allow_infinity=True)


@pytest.fixture(scope="module")
def control(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("link-fuzz")
    (tmp / "tokens").write_text(
        f"fuzz-* sidecar {hash_token('fuzz-token')}\nop operator {hash_token('op')}\n"
    )
    app = start_control(str(tmp / "c.duckdb"), token_file=str(tmp / "tokens"))
    app.rss_at_start = _rss_mb()
    yield app
    app.stop()


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def session(app, hello: link_pb2.Hello, *later: link_pb2.ConnectRequest) -> list:
    """Send a Hello and later messages; the answers until the stream ends or goes quiet."""
    requests: queue.Queue = queue.Queue()
    requests.put(link_pb2.ConnectRequest(message_id="hello", hello=hello))
    for message in later:
        requests.put(message)
    requests.put(link_pb2.ConnectRequest(message_id="probe", health=link_pb2.Health()))
    metadata = [("authorization", "Bearer fuzz-token")]
    with grpc.insecure_channel(f"127.0.0.1:{app.port}") as channel:
        stream = link_pb2_grpc.SidecarLinkServiceStub(channel).Connect(
            iter(requests.get, None), timeout=20, metadata=metadata
        )
        answers = []
        try:
            for answer in stream:
                answers.append(answer)
                if "probe" in answer.ack.message_ids:
                    break
        except grpc.RpcError as exc:
            assert exc.code() in ENDINGS, (exc.code(), exc.details())
        finally:
            requests.put(None)
            stream.cancel()
    return answers


hellos = st.builds(
    link_pb2.Hello,
    sidecar_id=st.one_of(st.just("fuzz-1"), ids),
    version=st.text(max_size=50),
    agent_ids=st.lists(ids, max_size=30),
    quarantined_agent_ids=st.lists(ids, max_size=30),
    applied_command_ids=st.lists(ids, max_size=30),
)
anomalies = st.builds(pb.Anomaly, type=st.integers(0, 20), vital=st.text(max_size=20),
                      observed=numbers, baseline=numbers, sigma=numbers)  # fmt: skip
samples = st.builds(pb.VitalSample, agent_id=ids, interval_seconds=numbers, operations=numbers,
                    values=st.dictionaries(st.text(max_size=10), numbers, max_size=5))  # fmt: skip
infections = st.builds(
    pb.Infection,
    id=ids,
    agent_id=ids,
    severity=numbers,
    anomalies=st.lists(anomalies, max_size=80),
    evidence=st.lists(samples, max_size=150),
    quarantined=st.booleans(),
    shared_shift=st.booleans(),
)
L = link_pb2
reports = st.one_of(
    st.builds(lambda i: {"infection": L.InfectionReport(infection=i)}, infections),
    st.builds(lambda m: {"ack": L.Ack(message_ids=m)}, st.lists(ids, max_size=1500)),
    st.builds(lambda a: {"agent_seen": L.AgentSeen(agent=pb.Agent(id=a, tools=[a] * 3))}, ids),
    st.builds(lambda i, a, ok: {"action_result": L.ActionResult(incident_id=i, agent_id=a, ok=ok)},
              ids, ids, st.booleans()),
    st.builds(lambda i, a, h: {"probation_result": L.ProbationResult(incident_id=i, agent_id=a,
                                                                     healthy=h)},
              ids, ids, st.booleans()),
)  # fmt: skip


@FUZZ
@given(hellos)
def test_hostile_hellos_get_a_welcome_or_a_proper_refusal(control, hello):
    answers = session(control, hello)
    if answers:
        assert answers[0].WhichOneof("body") == "welcome"


@FUZZ
@given(st.lists(st.tuples(ids, reports), min_size=1, max_size=5))
def test_any_reports_are_acked_refused_or_dropped_and_the_session_goes_on(control, messages):
    later = [link_pb2.ConnectRequest(message_id=f"m{n}-{i[:50]}", **body)
             for n, (i, body) in enumerate(messages)]  # fmt: skip
    answers = session(control, link_pb2.Hello(sidecar_id="fuzz-2", version="fuzz"), *later)
    assert answers and "probe" in answers[-1].ack.message_ids
    kinds = {a.WhichOneof("body") for a in answers}
    assert kinds <= {"welcome", "ack", "refused", "quarantine", "release", "apply_action"}


@FUZZ
@given(st.binary(max_size=2048))
def test_random_bytes_on_the_link_get_a_status(control, body):
    with grpc.insecure_channel(f"127.0.0.1:{control.port}") as channel:
        call = channel.stream_stream("/immune.v1.SidecarLinkService/Connect")
        stream = call(iter([body]), timeout=10, metadata=[("authorization", "Bearer fuzz-token")])
        try:
            for _ in stream:
                break
        except grpc.RpcError as exc:
            assert exc.code() in ENDINGS, (exc.code(), exc.details())
        finally:
            stream.cancel()


def test_control_is_up_answering_and_bounded_after_the_fuzzing(control):
    """Runs last in this module."""
    with Client(target=f"127.0.0.1:{control.port}", token="op", retries=0) as client:
        assert client.stats() is not None
        assert all(len(i.agent_id) <= 256 for i in client.incidents())
    assert _rss_mb() - control.rss_at_start < 300
