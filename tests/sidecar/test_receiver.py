"""Bad and odd OTLP input over real gRPC and HTTP: proper answers, nothing lost, no crash."""

import json
import math

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceResponse,
)

from tests.support.agents import Profile, SimAgent
from tests.support.otlp import gauge_request, grpc_export, http_post, json_body
from tests.support.sidecar import get_json, metric, rss_mb, start_sidecar

TOOLS = "gen_ai.invoke_agent.tool_calls"


def good_request(agent="raw-agent", value=3.0):
    return gauge_request([({}, value)], service=agent)


@pytest.fixture
def trained(sidecar):
    """A sidecar with one agent whose baselines are learned, and that agent's view."""
    agent = SimAgent("keeper", "grpc", sidecar.ports["otlp_grpc"])
    for _ in range(10):
        agent.interval(Profile())
    agent.close()
    return sidecar, get_json(sidecar.ports["admin"], "/v1/agents/keeper")[1]


def still_intact(sidecar, before: dict) -> None:
    status, after = get_json(sidecar.ports["admin"], "/v1/agents/keeper")
    assert status == 200
    assert after["baselines"] == before["baselines"]
    assert after["samples"] == before["samples"]
    assert get_json(sidecar.ports["admin"], "/healthz")[0] == 200


def test_empty_request_is_a_success(sidecar):
    assert grpc_export(sidecar.ports["otlp_grpc"], b"")[0] == grpc.StatusCode.OK
    status, headers, body = http_post(sidecar.ports["otlp_http"], b"")
    assert status == 200 and headers["Content-Type"] == "application/x-protobuf"
    assert ExportMetricsServiceResponse.FromString(body) == ExportMetricsServiceResponse()
    status, headers, body = http_post(sidecar.ports["otlp_http"], b"{}", "application/json")
    assert (status, headers["Content-Type"], json.loads(body)) == (200, "application/json", {})


@pytest.mark.parametrize(
    "body",
    [b"\xff\xfe garbage \x00\x01", good_request().SerializeToString()[:-3]],
    ids=["garbage", "truncated"],
)
def test_malformed_protobuf_is_invalid_argument(trained, body):
    sidecar, before = trained
    code, details, _, _ = grpc_export(sidecar.ports["otlp_grpc"], body)
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "protobuf" in details
    status, headers, raw = http_post(sidecar.ports["otlp_http"], body)
    assert status == 400 and headers["Content-Type"] == "application/x-protobuf"
    error = status_pb2.Status.FromString(raw)
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT.value[0] and "protobuf" in error.message
    assert (
        metric(sidecar, "immune_sidecar_requests_total", transport="grpc", outcome="malformed") == 1
    )
    assert (
        metric(sidecar, "immune_sidecar_requests_total", transport="http", outcome="malformed") == 1
    )
    still_intact(sidecar, before)


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"[1, 2]",
        b'{"resourceMetrics": "not a list"}',
        b'{"resourceMetrics": [{"scopeMetrics": [{"metrics": [{"name": "x", '
        b'"gauge": {"dataPoints": [{"asDouble": "lots"}]}}]}]}]}',
    ],
    ids=["syntax", "array", "wrong-type", "wrong-number"],
)
def test_bad_json_is_400_with_a_json_status(trained, body):
    sidecar, before = trained
    status, headers, raw = http_post(sidecar.ports["otlp_http"], body, "application/json")
    assert status == 400 and headers["Content-Type"] == "application/json"
    error = json.loads(raw)
    assert error["code"] == 3 and error["message"]
    still_intact(sidecar, before)


def test_json_accepts_camel_case_string_integers_and_unknown_fields(sidecar):
    doc = json.loads(json_body(good_request("json-agent", 4)))
    point = doc["resourceMetrics"][0]["scopeMetrics"][0]["metrics"][0]["gauge"]["dataPoints"][0]
    point["timeUnixNano"] = "1700000000000000000"  # 64-bit integers as strings
    point["futureField"] = {"nested": True}
    point["exemplars"] = [
        {"asDouble": 1, "traceId": "5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3c1b174"}
    ]
    doc["somethingNew"] = 1
    body, media = json.dumps(doc).encode(), "application/json; charset=utf-8"
    status, _, raw = http_post(sidecar.ports["otlp_http"], body, media)
    assert status == 200 and json.loads(raw) == {}
    _, agent = get_json(sidecar.ports["admin"], "/v1/agents/json-agent")
    assert agent["latest"]["vitals"]["tool_calls"] == 4


def test_wrong_content_type_is_415(trained):
    sidecar, before = trained
    status, _, raw = http_post(sidecar.ports["otlp_http"], b"abc", "text/plain")
    assert status == 415 and "application/x-protobuf" in json.loads(raw)["message"]
    status, _, _ = http_post(sidecar.ports["otlp_http"], b"abc", headers={"Content-Encoding": "br"})
    assert status == 415
    still_intact(sidecar, before)


def test_wrong_path_and_method(sidecar):
    status, _, body = http_post(sidecar.ports["otlp_http"], b"", path="/v1/profiles")
    assert status == 404
    assert all(path in json.loads(body)["message"] for path in ("/v1/metrics", "/v1/traces"))
    assert get_json(sidecar.ports["otlp_http"], "/v1/metrics")[0] == 405


@pytest.mark.parametrize("value", [math.nan, math.inf, -5.0])
def test_unusable_values_are_a_partial_success(trained, value):
    sidecar, before = trained
    request = gauge_request([({}, value)], service="odd")
    request.resource_metrics.extend(gauge_request([({}, 2.0)], service="fine").resource_metrics)
    code, _, _, raw = grpc_export(sidecar.ports["otlp_grpc"], request.SerializeToString())
    response = ExportMetricsServiceResponse.FromString(raw)
    assert code == grpc.StatusCode.OK
    assert response.partial_success.rejected_data_points == 1
    assert TOOLS in response.partial_success.error_message
    status, _, raw = http_post(sidecar.ports["otlp_http"], json_body(request), "application/json")
    partial = json.loads(raw)["partialSuccess"]
    assert status == 200 and partial["rejectedDataPoints"] == "1" and partial["errorMessage"]
    assert (
        get_json(sidecar.ports["admin"], "/v1/agents/fine")[1]["latest"]["vitals"]["tool_calls"]
        == 2
    )
    assert metric(sidecar, "immune_sidecar_points_total", transport="grpc", outcome="refused") == 1
    still_intact(sidecar, before)


def test_a_defect_in_judging_one_agent_leaves_the_export_s_other_agents_judged(sidecar, caplog):
    """Detection failing on one agent's sample (a defect) is logged with the agent and
    counted; the export is accepted, and the other agents in it are judged."""
    observe = sidecar.detector.observe

    def failing(sample, *args, **kwargs):
        if sample.agent_id == "faulty":
            raise OverflowError("a defect")
        return observe(sample, *args, **kwargs)

    sidecar.detector.observe = failing
    request = gauge_request([({}, 4.0)], service="faulty")
    request.resource_metrics.extend(gauge_request([({}, 2.0)], service="fine").resource_metrics)
    code, _, _, raw = grpc_export(sidecar.ports["otlp_grpc"], request.SerializeToString())
    assert code == grpc.StatusCode.OK
    assert not ExportMetricsServiceResponse.FromString(raw).HasField("partial_success")
    fine = get_json(sidecar.ports["admin"], "/v1/agents/fine")[1]
    assert fine["latest"]["vitals"]["tool_calls"] == 2
    assert metric(sidecar, "immune_sidecar_unjudged_samples_total") == 1
    assert any("faulty" in r.getMessage() and r.exc_info for r in caplog.records)
    sidecar.detector.observe = observe
    grpc_export(
        sidecar.ports["otlp_grpc"], gauge_request([({}, 5.0)], service="faulty").SerializeToString()
    )
    assert (
        get_json(sidecar.ports["admin"], "/v1/agents/faulty")[1]["latest"]["vitals"]["tool_calls"]
        == 5
    )
    assert get_json(sidecar.ports["admin"], "/healthz")[0] == 200


def test_points_without_an_agent_identity_are_refused_by_name():
    sidecar = start_sidecar()
    try:
        request = gauge_request([({}, 1.0)])
        del request.resource_metrics[0].resource.attributes[:]
        _, _, _, raw = grpc_export(sidecar.ports["otlp_grpc"], request.SerializeToString())
        partial = ExportMetricsServiceResponse.FromString(raw).partial_success
        assert partial.rejected_data_points == 1 and "service.name" in partial.error_message
    finally:
        sidecar.stop()


def test_oversized_messages_are_refused_without_retry():
    sidecar = start_sidecar(max_message_bytes=20_000)
    try:
        big = gauge_request([({"gen_ai__agent__id": f"a{i}"}, 1.0) for i in range(2000)])
        raw = big.SerializeToString()
        assert len(raw) > 20_000
        code, details, trailers, _ = grpc_export(sidecar.ports["otlp_grpc"], raw)
        assert code == grpc.StatusCode.RESOURCE_EXHAUSTED and "20000" in details
        assert "google.rpc.retryinfo-bin" not in trailers
        assert not status_pb2.Status.FromString(trailers["grpc-status-details-bin"]).details
        assert http_post(sidecar.ports["otlp_http"], raw)[0] == 413
        # Small on the wire, too large once decompressed: measured after gunzip.
        bomb_status, _, _ = http_post(sidecar.ports["otlp_http"], b"\n" * 5_000_000, gzip=True)
        assert bomb_status == 413
        ok = http_post(sidecar.ports["otlp_http"], good_request().SerializeToString(), gzip=True)
        assert ok[0] == 200
        assert (
            metric(sidecar, "immune_sidecar_requests_total", transport="http", outcome="too_large")
            == 2
        )
    finally:
        sidecar.stop()


def test_overload_is_unavailable_with_retry_info():
    sidecar = start_sidecar(max_in_flight=2, retry_after_seconds=3)
    try:
        for _ in range(2):  # every slot busy, as if two exports were being processed
            sidecar.handler.slots.acquire()
        body = good_request().SerializeToString()
        code, _, trailers, _ = grpc_export(sidecar.ports["otlp_grpc"], body)
        assert code == grpc.StatusCode.UNAVAILABLE
        status = status_pb2.Status.FromString(trailers["grpc-status-details-bin"])
        info = error_details_pb2.RetryInfo()
        assert status.details[0].Unpack(info) and info.retry_delay.seconds == 3
        assert error_details_pb2.RetryInfo.FromString(trailers["google.rpc.retryinfo-bin"]) == info
        status_code, headers, raw = http_post(sidecar.ports["otlp_http"], body)
        assert status_code == 503 and headers["Retry-After"] == "3"
        assert status_pb2.Status.FromString(raw).code == grpc.StatusCode.UNAVAILABLE.value[0]
        sidecar.handler.slots.release()
        assert grpc_export(sidecar.ports["otlp_grpc"], body)[0] == grpc.StatusCode.OK
    finally:
        sidecar.stop()


def test_exports_beyond_the_rate_are_resource_exhausted_or_429_with_a_retry_delay():
    sidecar = start_sidecar(max_requests_per_second=2)
    try:
        body = good_request().SerializeToString()
        codes = [grpc_export(sidecar.ports["otlp_grpc"], body)[0] for _ in range(6)]
        assert codes.count(grpc.StatusCode.OK) in (2, 3)  # the burst, and one more if slow
        assert grpc.StatusCode.RESOURCE_EXHAUSTED in codes
        code, details, trailers, _ = grpc_export(sidecar.ports["otlp_grpc"], body)
        assert code == grpc.StatusCode.RESOURCE_EXHAUSTED and "exports per second" in details
        info = error_details_pb2.RetryInfo.FromString(trailers["google.rpc.retryinfo-bin"])
        assert 0 < info.retry_delay.ToTimedelta().total_seconds() <= 0.5
        status_code, headers, _ = http_post(sidecar.ports["otlp_http"], body)
        assert status_code == 429 and headers["Retry-After"] == "1"
        limited = metric(
            sidecar, "immune_sidecar_requests_total", transport="grpc", outcome="rate_limited"
        )
        assert limited >= 2
        assert (
            metric(
                sidecar, "immune_sidecar_requests_total", transport="http", outcome="rate_limited"
            )
            == 1
        )
    finally:
        sidecar.stop()


def test_gzip_from_both_sdk_exporters(sidecar):
    from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter as G
    from opentelemetry.exporter.otlp.proto.http import Compression as HttpCompression
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter as H

    port_g, port_h = sidecar.ports["otlp_grpc"], sidecar.ports["otlp_http"]
    exporters = {
        "gz-grpc": G(
            endpoint=f"127.0.0.1:{port_g}", insecure=True, compression=grpc.Compression.Gzip
        ),
        "gz-http": H(
            endpoint=f"http://127.0.0.1:{port_h}/v1/metrics", compression=HttpCompression.Gzip
        ),
    }
    for name, exporter in exporters.items():
        agent = SimAgent(name, "grpc", port_g, exporter=exporter)
        agent.interval(Profile())
        agent.interval(Profile())
        agent.close()
        # Both intervals count: the agent's streams began after the sidecar started.
        assert get_json(sidecar.ports["admin"], f"/v1/agents/{name}")[1]["samples"] == 2


def test_a_flood_of_agent_ids_stays_bounded():
    # 100,000 ids against a cap of 200: a leak of 300 bytes per forgotten agent would show
    # (60,000 are forgotten between the two readings). The full million runs in
    # `make bench` (agent_flood); here it would take minutes on a slow CI machine.
    # One process naming 20,000 agents on its points (the identity setting lets it).
    sidecar = start_sidecar(max_agents=200, identity=("gen_ai.agent.id", "service.name"))
    # One request of 20,000 ids "id-@@-nnnnn"; each batch rewrites "@@" in the bytes.
    template = gauge_request(
        [({"gen_ai__agent__id": f"id-@@-{i:05d}"}, 1.0) for i in range(20_000)]
    )
    raw = template.SerializeToString()
    try:
        rss = []
        for batch in range(5):
            body = raw.replace(b"@@", b"%02d" % batch)
            code, *_ = grpc_export(sidecar.ports["otlp_grpc"], body, timeout=120)
            assert code == grpc.StatusCode.OK
            if batch in (1, 4):
                rss.append(rss_mb())
        assert len(sidecar.agents) == 200
        assert sidecar.agents.evicted == 99_800
        assert metric(sidecar, "immune_sidecar_agents_evicted_total") == 99_800
        assert len(sidecar.detector.snapshot()) <= 200
        assert rss[1] - rss[0] < 18, f"memory grew from {rss[0]} MB to {rss[1]} MB"
        assert get_json(sidecar.ports["admin"], "/v1/agents/id-04-19999")[0] == 200
        assert get_json(sidecar.ports["admin"], "/v1/agents/id-00-00000")[0] == 404
    finally:
        sidecar.stop()


def raw_http(port: int, head: str, body: bytes = b"", then: bytes = b"") -> list[bytes]:
    """Send a hand-written HTTP/1.1 request (and ``then`` on the same connection); the
    status lines of every answer until the server closes the connection."""
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(head.replace("\n", "\r\n").encode() + b"\r\n" + body + then)
        s.shutdown(socket.SHUT_WR)
        received = b""
        while chunk := s.recv(65536):
            received += chunk
    return [line for line in received.split(b"\r\n") if line.startswith(b"HTTP/1.")]


def chunked(data: bytes, size: int = 1000) -> bytes:
    parts = [data[i : i + size] for i in range(0, len(data), size)]
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts) + b"0\r\n\r\n"


def test_a_chunked_export_is_read_whole_and_the_connection_stays_in_step(sidecar):
    body = good_request("chunked-agent").SerializeToString()
    head = ("POST /v1/metrics HTTP/1.1\nHost: x\nContent-Type: application/x-protobuf\n"
            "Transfer-Encoding: chunked\n")  # fmt: skip
    follow = ("GET /v1/metrics HTTP/1.1\nHost: x\nConnection: close\n\n").replace("\n", "\r\n")
    answers = raw_http(sidecar.ports["otlp_http"], head, chunked(body, 7), follow.encode())
    # The export, then the next request on the connection (not the chunks read as one).
    assert [a.split(b" ")[1] for a in answers] == [b"200", b"405"]
    points = metric(sidecar, "immune_sidecar_points_total", transport="http", outcome="accepted")
    assert points == 1


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ("Content-Length: 10\nContent-Length: 20\n", b"400"),  # conflicting lengths
        ("Content-Length: 10\nTransfer-Encoding: chunked\n", b"400"),  # both framings
        ("Transfer-Encoding: gzip, chunked\n", b"400"),
        ("Content-Length: -5\n", b"400"),
        ("Content-Length: 0x10\n", b"400"),
    ],
)
def test_ambiguous_framing_is_400_and_the_connection_is_closed(sidecar, headers, status):
    head = f"POST /v1/metrics HTTP/1.1\nHost: x\nContent-Type: application/x-protobuf\n{headers}"
    smuggled = b"POST /v1/metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"
    answers = raw_http(sidecar.ports["otlp_http"], head, b"0123456789" * 3, smuggled)
    assert [a.split(b" ")[1] for a in answers] == [status]  # nothing read as a next request


def test_a_chunked_body_past_the_limit_is_413_without_reading_it_all():
    sidecar = start_sidecar(max_message_bytes=20_000)
    try:
        head = ("POST /v1/metrics HTTP/1.1\nHost: x\nContent-Type: application/x-protobuf\n"
                "Transfer-Encoding: chunked\n")  # fmt: skip
        answers = raw_http(sidecar.ports["otlp_http"], head, chunked(b"\n" * 50_000, 4096))
        assert [a.split(b" ")[1] for a in answers] == [b"413"]
    finally:
        sidecar.stop()


def test_json_nested_a_hundred_thousand_deep_is_400(sidecar):
    deep = b"[" * 100_000 + b"]" * 100_000
    for body in (deep, b'{"resourceMetrics": ' + deep + b"}"):
        status, _, answer = http_post(sidecar.ports["otlp_http"], body, "application/json")
        assert status == 400 and b"nested too deep" in answer
    assert get_json(sidecar.ports["admin"], "/healthz")[0] == 200


def export_tool_calls(sidecar, service: str, value: float) -> None:
    """One export of ``service``'s tool calls, taken whole."""
    request = gauge_request([({}, value)], service=service)
    code = grpc_export(sidecar.ports["otlp_grpc"], request.SerializeToString())[0]
    assert code == grpc.StatusCode.OK


def test_an_agent_whose_baselines_fail_every_judgement_learns_afresh(sidecar, caplog):
    """Baselines that fail every judgement (a state file of another version: a variance
    fit of one number, not five) leave three samples unjudged, then are dropped: the agent
    learns afresh and is judged again, and a loop of tool calls is caught."""

    def export(value: float) -> None:
        export_tool_calls(sidecar, "hurt", value)

    for at in range(12):
        export(2.0 + at % 3)
    entry = sidecar.detector.snapshot()["hurt"]
    entry["vitals"]["tool_calls"]["fit"] = [1.0]
    sidecar.detector.restore_agent("hurt", entry)
    for at in range(4):
        export(2.0 + at % 3)
    assert metric(sidecar, "immune_sidecar_unjudged_samples_total") == 3
    assert any("hurt" in r.getMessage() and "learned afresh" in r.getMessage()
               for r in caplog.records)  # fmt: skip
    for at in range(30):
        export(2.0 + at % 3)
    assert metric(sidecar, "immune_sidecar_unjudged_samples_total") == 3
    assert sidecar.detector.baselines("hurt")["tool_calls"]["learned"]
    export(40.0)
    export(40.0)  # (a young baseline's lone excursion waits an interval: a first burst?)
    held = get_json(sidecar.ports["admin"], "/readyz")[1]["quarantined"]
    assert [q["agent_id"] for q in held] == ["hurt"]


def test_a_figure_past_any_agent_s_leaves_its_sample_unjudged_and_the_agent_as_it_was(
    sidecar, caplog
):
    """A finite count past any agent's (1e300 tool calls: it overflowed the detector) is
    taken, its sample left unjudged with a warning naming it, the agent's baselines kept."""

    def export(value: float) -> None:
        export_tool_calls(sidecar, "wild", value)

    for at in range(40):
        export(2.0 + at % 3)
    before = sidecar.detector.baselines("wild")
    for _ in range(4):
        export(1e300)
    assert metric(sidecar, "immune_sidecar_unjudged_samples_total") == 4
    assert sidecar.detector.baselines("wild") == before  # not dropped: the data was at fault
    warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any("wild" in m and "tool_calls is 1e+300" in m for m in warned), warned
    export(40.0)
    export(40.0)
    held = get_json(sidecar.ports["admin"], "/readyz")[1]["quarantined"]
    assert [q["agent_id"] for q in held] == ["wild"]
