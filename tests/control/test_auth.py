"""Authentication and roles on the real gRPC API: every RPC × every role, and bad tokens."""

import grpc
import pytest
from immune.v1 import common_pb2 as pb
from immune.v1 import control_pb2 as api
from immune.v1 import control_pb2_grpc

from immune_control.access import GRANTS, NEEDS, ROLES, hash_token
from tests.support.control import start_control

SERVICE = api.DESCRIPTOR.services_by_name["ControlService"]
TOKENS = {role: f"token-of-the-{role}" for role in ROLES}
REFUSED = (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED)


@pytest.fixture(scope="module")
def channel(stub):
    return stub.channel


@pytest.fixture(scope="module")
def stub(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("auth")
    tokens = tmp / "tokens"
    tokens.write_text("".join(f"{r}-user {r} {hash_token(t)}\n" for r, t in TOKENS.items()))
    control = start_control(str(tmp / "c.duckdb"), token_file=str(tokens))
    channel = grpc.insecure_channel(f"127.0.0.1:{control.port}")
    stub = control_pb2_grpc.ControlServiceStub(channel)
    stub.channel = channel
    yield stub
    channel.close()
    control.stop()


def call(stub, method, authorization: str | None) -> grpc.StatusCode:
    """Call ``method`` with an empty request; the status it ends with."""
    request = getattr(api, method.input_type.name)()
    metadata = [("authorization", authorization)] if authorization is not None else []
    try:
        # A stream the caller may watch stays open: a short deadline ends it (a refusal
        # comes back at once, long before it).
        timeout = 0.5 if method.server_streaming else 5
        answer = getattr(stub, method.name)(request, metadata=metadata, timeout=timeout)
        if method.server_streaming:
            next(iter(answer), None)
    except grpc.RpcError as exc:
        return exc.code()
    return grpc.StatusCode.OK


@pytest.mark.parametrize("role", ROLES)
def test_each_role_reaches_exactly_the_rpcs_it_is_granted(stub, role):
    for method in SERVICE.methods:
        code = call(stub, method, f"Bearer {TOKENS[role]}")
        allowed = NEEDS[method.name] in GRANTS[role]
        if method.server_streaming and allowed:
            assert code == grpc.StatusCode.DEADLINE_EXCEEDED, method.name  # still streaming
        elif allowed:
            assert code not in REFUSED, (method.name, code)
        else:
            assert code == grpc.StatusCode.PERMISSION_DENIED, (method.name, code)


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer not-a-token", f"Basic {TOKENS['admin']}", "Bearer "],
)
def test_no_token_or_a_bad_one_is_unauthenticated_everywhere(stub, authorization):
    for method in SERVICE.methods:
        assert call(stub, method, authorization) == grpc.StatusCode.UNAUTHENTICATED, method.name


def test_the_audit_names_the_token_owner_and_marks_automation(stub):
    bearer = [("authorization", f"Bearer {TOKENS['automation']}")]
    target = api.Target(incident_id="no-such-incident")
    request = api.ApproveHealingRequest(target=target, reason="nightly job")
    with pytest.raises(grpc.RpcError) as refused:
        stub.ApproveHealing(request, metadata=bearer, timeout=5)
    assert refused.value.code() == grpc.StatusCode.NOT_FOUND
    entries = stub.ListAuditEntries(api.ListAuditEntriesRequest(), metadata=bearer).entries
    mine = [e for e in entries if e.reason == "nightly job"]
    assert [(e.actor, e.role, e.result) for e in mine] == [
        ("automation-user", pb.ROLE_AUTOMATION, "NOT_FOUND")
    ]


def test_a_viewer_is_told_which_roles_may(stub):
    viewer = [("authorization", f"Bearer {TOKENS['viewer']}")]
    with pytest.raises(grpc.RpcError) as refused:
        stub.HealAll(api.HealAllRequest(reason="x"), metadata=viewer, timeout=5)
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "viewer-user (viewer) may not call HealAll" in refused.value.details()
    assert "operator" in refused.value.details()


@pytest.mark.parametrize("role", [r for r in ROLES if r != "sidecar"])
def test_get_caller_names_the_token_owner_and_its_role(stub, role):
    bearer = [("authorization", f"Bearer {TOKENS[role]}")]
    caller = stub.GetCaller(api.GetCallerRequest(), metadata=bearer, timeout=5)
    assert (caller.actor, caller.role) == (f"{role}-user", pb.Role.Value(f"ROLE_{role.upper()}"))


def test_tokens_never_reach_the_logs_or_the_answers(stub, caplog):
    caplog.set_level("DEBUG")
    secret = "Bearer very-secret-unknown-token"
    with pytest.raises(grpc.RpcError) as refused:
        stub.GetStats(api.GetStatsRequest(), metadata=[("authorization", secret)], timeout=5)
    assert "very-secret" not in refused.value.details()
    good = [("authorization", f"Bearer {TOKENS['operator']}")]
    stub.GetStats(api.GetStatsRequest(), metadata=good, timeout=5)
    assert "very-secret" not in caplog.text and TOKENS["operator"] not in caplog.text


def test_a_refused_change_is_audited_with_whoever_could_be_told(stub):
    viewer = [("authorization", f"Bearer {TOKENS['viewer']}")]
    admin = [("authorization", f"Bearer {TOKENS['admin']}")]
    request = api.HealNowRequest(target=api.Target(agent_id="any"), reason="not mine to do")
    for metadata in (viewer, [("authorization", "Bearer forged")]):
        with pytest.raises(grpc.RpcError):
            stub.HealNow(request, metadata=metadata, timeout=5)
    entries = stub.ListAuditEntries(api.ListAuditEntriesRequest(), metadata=admin).entries
    mine = [(e.actor, e.method, e.result) for e in entries if e.method == "HealNow"]
    assert ("viewer-user", "HealNow", "PERMISSION_DENIED") in mine
    assert ("unknown caller", "HealNow", "UNAUTHENTICATED") in mine


def test_two_authorization_headers_are_refused_even_when_both_are_valid(stub):
    both = [("authorization", f"Bearer {TOKENS['viewer']}"),
            ("authorization", f"Bearer {TOKENS['operator']}")]  # fmt: skip
    with pytest.raises(grpc.RpcError) as refused:
        stub.GetCaller(api.GetCallerRequest(), metadata=both, timeout=5)
    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "more than one authorization header" in refused.value.details()


def test_an_oversized_id_is_refused_without_an_echo_and_the_audit_stays_readable(stub):
    admin = [("authorization", f"Bearer {TOKENS['admin']}")]
    huge = "i" * 5_000_000
    request = api.ApproveHealingRequest(target=api.Target(incident_id=huge), reason="x")
    for _ in range(3):
        with pytest.raises(grpc.RpcError) as refused:
            stub.ApproveHealing(request, metadata=admin, timeout=10)
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert len(refused.value.details()) < 200
    entries = stub.ListAuditEntries(api.ListAuditEntriesRequest(), metadata=admin).entries
    assert all(len(e.target) <= 256 for e in entries)


@pytest.mark.parametrize(
    ("method", "request_"),
    [
        ("ListIncidents", api.ListIncidentsRequest(page_token="9" * 30)),
        ("ListAuditEntries", api.ListAuditEntriesRequest(page_token="99999999999999999999")),
        ("ListAgents", api.ListAgentsRequest(page_token="١٢")),  # digits, not ASCII ones
        ("GetAgent", api.GetAgentRequest(agent_id="a", sample_limit=-1)),
    ],
)
def test_out_of_range_paging_is_invalid_argument_not_a_retryable_error(stub, method, request_):
    admin = [("authorization", f"Bearer {TOKENS['admin']}")]
    with pytest.raises(grpc.RpcError) as refused:
        getattr(stub, method)(request_, metadata=admin, timeout=5)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "SELECT" not in refused.value.details()


@pytest.mark.parametrize("method", ["GetAgent", "WatchEvents"])
def test_invalid_utf8_is_invalid_argument_not_unknown(channel, method, caplog):
    admin = [("authorization", f"Bearer {TOKENS['admin']}")]
    path = f"/immune.v1.ControlService/{method}"
    call = (channel.unary_stream if method == "WatchEvents" else channel.unary_unary)(path)
    with pytest.raises(grpc.RpcError) as refused:
        field = b"\x12" if method == "WatchEvents" else b"\x0a"  # the agent_id field
        answer = call(field + b"\x02\xff\xfe", metadata=admin, timeout=5)  # bad UTF-8
        next(iter(answer)) if method == "WatchEvents" else None
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "UTF-8" in refused.value.details()
    assert not [r for r in caplog.records if r.levelname == "ERROR"]
