"""Tokens, roles and the permission every ControlService RPC needs."""

import io
import json

import pytest
from immune.v1 import control_pb2
from immune_sdk import cli

from immune_control.access import (
    ADMIN,
    AUTOMATION,
    NEEDS,
    OPERATOR,
    ROLES,
    SIDECAR,
    VIEWER,
    PermissionDenied,
    Principal,
    TokenBook,
    Unauthenticated,
    authorize,
    from_environ,
    hash_token,
    new_token,
    parse_token_file,
)
from immune_control.errors import InvalidArgument

SERVICE = control_pb2.DESCRIPTOR.services_by_name["ControlService"]
READS = {"ListAgents", "GetAgent", "GetStats", "WatchEvents", "ListAuditEntries"}
DECISIONS = {"ApproveHealing", "RejectHealing", "HealNow", "ApproveAll", "HealAll"}


def test_every_rpc_of_the_service_needs_a_named_permission():
    assert set(NEEDS) == {m.name for m in SERVICE.methods}


@pytest.mark.parametrize("role", [r for r in ROLES if r != SIDECAR])
def test_the_role_matrix(role):
    who = Principal("someone", role)
    assert all(_may(who, m) for m in READS)
    assert (role != VIEWER) == all(_may(who, m) for m in DECISIONS)
    assert (role != VIEWER) == _may(who, "RecordFeedback")
    assert (role == ADMIN) == _may(who, "UpsertPolicy")
    if role != ADMIN:
        with pytest.raises(PermissionDenied, match=rf"someone \({role}\) may not call Upsert"):
            authorize(who, "UpsertPolicy")


def test_a_sidecar_token_opens_no_api_method_and_links_only_as_its_name():
    exact, deployment = Principal("sc-1", SIDECAR), Principal("checkout-*", SIDECAR)
    assert not any(_may(p, m) for p in (exact, deployment) for m in NEEDS)
    assert exact.may_link_as("sc-1") and not exact.may_link_as("sc-10")
    assert deployment.may_link_as("checkout-7f9c") and not deployment.may_link_as("billing-1")
    assert not Principal("sc-1", ADMIN).may_link_as("sc-1")
    with pytest.raises(InvalidArgument, match="only a sidecar token may end in"):
        parse_token_file(f"ops* admin {hash_token('x')}\n")


def test_an_unknown_method_is_refused():
    with pytest.raises(PermissionDenied, match="not an API method"):
        authorize(Principal("root", ADMIN), "DropDatabase")


def test_a_token_file_names_its_owners_and_refuses_strangers():
    token = new_token()
    book = parse_token_file(f"# who role hash\n\nci-bot automation {hash_token(token)}  # CI\n")
    assert book.identify(token) == Principal("ci-bot", AUTOMATION)
    with pytest.raises(Unauthenticated, match="unknown bearer token"):
        book.identify(token + "x")
    with pytest.raises(Unauthenticated, match="no bearer token"):
        book.identify("")


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("dana operator", "line 1: expected 'name role sha256'"),
        (f"dana root {'a' * 64}", "role 'root' is not one of"),
        ("dana operator s3cret", "expected a hex SHA-256"),
    ],
)
def test_a_bad_token_file_line_is_named(line, problem):
    with pytest.raises(InvalidArgument, match=problem):
        parse_token_file(line)


def test_tokens_from_the_environment_join_the_file():
    book = parse_token_file(f"dana operator {hash_token('t-dana')}")
    from_environ({"IMMUNE_API_TOKEN_GRAFANA": "viewer:t-graf", "HOME": "/root"}, book)
    assert len(book) == 2
    assert book.identify("t-graf") == Principal("grafana", VIEWER)
    with pytest.raises(InvalidArgument, match="IMMUNE_API_TOKEN_X: expected"):
        from_environ({"IMMUNE_API_TOKEN_X": "no-role-here"})


def test_only_hashes_are_kept():
    token = new_token()
    book = TokenBook([("dana", OPERATOR, hash_token(token))])
    assert token not in repr(vars(book))
    assert len(token) > 40 and token != new_token()


def _may(who: Principal, method: str) -> bool:
    try:
        authorize(who, method)
    except PermissionDenied:
        return False
    return True


def test_a_token_made_by_immunectl_is_one_control_accepts():
    out = io.StringIO()
    assert cli.main(["-o", "json", "token", "ci-bot", "automation"], out) == 0
    made = json.loads(out.getvalue())
    book = parse_token_file(made["token_file_line"])
    assert book.identify(made["token"]) == Principal("ci-bot", AUTOMATION)
    assert made["token"] not in made["token_file_line"]
