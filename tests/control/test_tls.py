"""TLS on the API, mutual TLS on the sidecar link, certificate rotation, and who may speak
for which agent; all over real gRPC with certificates from the development CA."""

import datetime as dt
import queue
import socket
import ssl
import time

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from immune.v1 import common_pb2 as pb
from immune.v1 import link_pb2, link_pb2_grpc
from immune_sdk import Client, Options, PermissionDenied
from immune_sdk import certs as devca

from immune_control.access import hash_token
from tests.support.control import scrape, start_control, wait_for
from tests.support.sidecar import start_sidecar

TOKEN = "operator-token"
DER = Encoding.DER


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """A CA, control's server certificate, and sidecar certificates (valid, expired, foreign)."""
    d = tmp_path_factory.mktemp("pki")
    ca = devca.load_or_create(d)
    pair(d, "server", devca.issue(ca, "localhost", hosts=["127.0.0.1"]))
    pair(d, "sc-1", devca.issue(ca, "sc-1", client=True))
    past = dt.datetime.now(dt.UTC) - dt.timedelta(days=30)
    expired = devca.issue(ca, "sc-1", client=True, not_before=past, not_after=past)
    pair(d, "expired", expired)
    pair(d, "stranger", devca.issue(devca.new_authority(), "sc-1", client=True))
    return d


def pair(d, stem, pem) -> None:
    (d / f"{stem}.pem").write_bytes(pem[0])
    (d / f"{stem}-key.pem").write_bytes(pem[1])


@pytest.fixture(scope="module")
def control(pki, tmp_path_factory):
    tokens = tmp_path_factory.mktemp("tokens") / "tokens"
    tokens.write_text(f"dana operator {hash_token(TOKEN)}\n")
    app = start_control(
        str(tmp_path_factory.mktemp("db") / "c.duckdb"),
        metrics="127.0.0.1:0",
        token_file=str(tokens),
        tls_cert_file=str(pki / "server.pem"),
        tls_key_file=str(pki / "server-key.pem"),
        link_listen="127.0.0.1:0",
        link_client_ca_file=str(pki / "ca.pem"),
    )
    yield app
    app.stop()


def client(app, pki, **options) -> Client:
    defaults = dict(target=f"localhost:{app.port}", tls=True, ca_file=str(pki / "ca.pem"))
    return Client(Options(**{**defaults, "retries": 0, "timeout_seconds": 5, **options}))


def link_credentials(pki, stem: str | None) -> grpc.ChannelCredentials:
    if stem is None:
        return grpc.ssl_channel_credentials(root_certificates=(pki / "ca.pem").read_bytes())
    return grpc.ssl_channel_credentials(
        root_certificates=(pki / "ca.pem").read_bytes(),
        private_key=(pki / f"{stem}-key.pem").read_bytes(),
        certificate_chain=(pki / f"{stem}.pem").read_bytes(),
    )


def hello(app, credentials, sidecar_id: str, *later: link_pb2.ConnectRequest):
    """Open the link as ``sidecar_id``; the first answer, or the status that refused it."""
    with grpc.secure_channel(f"localhost:{app.link_port}", credentials) as channel:
        requests: queue.Queue = queue.Queue()
        first = link_pb2.Hello(sidecar_id=sidecar_id, version="test")
        requests.put(link_pb2.ConnectRequest(message_id="h", hello=first))
        for message in later:
            requests.put(message)
        stream = link_pb2_grpc.SidecarLinkServiceStub(channel).Connect(
            iter(requests.get, None), timeout=10
        )
        try:
            answers = [next(stream) for _ in range(2 + len(later))]
        except grpc.RpcError as exc:
            return exc.code()
        finally:
            requests.put(None)
            stream.cancel()
        return answers


def test_the_api_speaks_tls_and_plaintext_gets_nowhere(control, pki):
    with client(control, pki, token=TOKEN) as c:
        assert c.stats() is not None
    with (
        grpc.insecure_channel(f"127.0.0.1:{control.port}") as plain,
        pytest.raises(grpc.FutureTimeoutError),
    ):
        grpc.channel_ready_future(plain).result(timeout=2)


def test_a_sidecar_with_its_certificate_links_and_reports(control, pki, tmp_path):
    sidecar = start_sidecar(
        control=f"localhost:{control.link_port}",
        sidecar_id="sc-1",
        state_dir=str(tmp_path / "sc-1"),
        control_ca_file=str(pki / "ca.pem"),
        control_cert_file=str(pki / "sc-1.pem"),
        control_key_file=str(pki / "sc-1-key.pem"),
    )
    try:
        assert sidecar.link.connected.wait(20), "a certified sidecar could not link"
    finally:
        sidecar.stop()


@pytest.mark.parametrize(
    ("stem", "why"),
    [(None, "no certificate"), ("expired", "expired"), ("stranger", "another CA")],
)
def test_a_sidecar_without_a_valid_certificate_cannot_link(control, pki, stem, why):
    assert hello(control, link_credentials(pki, stem), "sc-1") == grpc.StatusCode.UNAVAILABLE, why


def test_a_certificate_cannot_speak_as_another_sidecar(control, pki):
    assert hello(control, link_credentials(pki, "sc-1"), "sc-2") == (
        grpc.StatusCode.PERMISSION_DENIED
    )
    refused = scrape(control)[("immune_refused_total", (("reason", "identity"), ("where", "link")))]
    assert refused >= 1


def test_tls_without_tokens_lets_anonymous_callers_read_but_not_decide(pki, tmp_path):
    app = start_control(
        str(tmp_path / "c.duckdb"),
        tls_cert_file=str(pki / "server.pem"),
        tls_key_file=str(pki / "server-key.pem"),
    )
    try:
        with client(app, pki) as c:
            assert c.stats() is not None
            with pytest.raises(PermissionDenied, match="viewer"):
                c.approve("no-such-incident", reason="try")
    finally:
        app.stop()


def presented(port: int, ca: str) -> bytes:
    """The DER certificate a TLS handshake with ``port`` presents now."""
    context = ssl.create_default_context(cafile=ca)
    context.set_alpn_protocols(["h2"])
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname="localhost") as tls,
    ):
        return tls.getpeercert(binary_form=True)


def test_a_rotated_server_certificate_is_served_without_a_restart(pki, tmp_path):
    ca = devca.load_or_create(pki)
    pair(tmp_path, "server", devca.issue(ca, "localhost"))
    app = start_control(
        str(tmp_path / "c.duckdb"),
        tls_cert_file=str(tmp_path / "server.pem"),
        tls_key_file=str(tmp_path / "server-key.pem"),
    )
    try:
        before = presented(app.port, str(pki / "ca.pem"))
        time.sleep(0.05)  # a distinct modification time
        pair(tmp_path, "server", devca.issue(ca, "localhost"))
        fresh = x509.load_pem_x509_certificate((tmp_path / "server.pem").read_bytes())
        after = wait_for(lambda: presented(app.port, str(pki / "ca.pem")) != before, timeout=10)
        assert after and presented(app.port, str(pki / "ca.pem")) == fresh.public_bytes(DER)
        assert app.reloaders[0].reloads == 1
    finally:
        app.stop()


def test_a_sidecar_may_not_speak_for_another_live_sidecars_agent(control, pki):
    owner = start_sidecar_stream(control, pki)
    try:
        infection = pb.Infection(id="forged", agent_id="agent-of-sc-1", severity=9.0)
        forged = link_pb2.ConnectRequest(
            message_id="f", infection=link_pb2.InfectionReport(infection=infection)
        )
        second = devca.issue(devca.load_or_create(pki), "sc-2", client=True)
        pair(pki, "sc-2", second)
        answers = hello(control, link_credentials(pki, "sc-2"), "sc-2", forged)
        # Refused, not acked: a report refused now is kept by its sender and offered later.
        assert [a.WhichOneof("body") for a in answers] == ["welcome", "ack", "refused"]
        assert "served by sidecar sc-1" in answers[2].refused.reason
        with client(control, pki, token=TOKEN) as c:
            assert c.incidents(agent_id="agent-of-sc-1") == []
        key = ("immune_refused_total", (("reason", "foreign_agent"), ("where", "link")))
        assert scrape(control)[key] >= 1
    finally:
        owner.cancel()


def start_sidecar_stream(app, pki):
    """sc-1 linked and holding its stream, having reported agent-of-sc-1."""
    requests: queue.Queue = queue.Queue()
    channel = grpc.secure_channel(f"localhost:{app.link_port}", link_credentials(pki, "sc-1"))
    first = link_pb2.Hello(sidecar_id="sc-1", version="test", agent_ids=["agent-of-sc-1"])
    requests.put(link_pb2.ConnectRequest(message_id="h1", hello=first))
    seen = link_pb2.AgentSeen(agent=pb.Agent(id="agent-of-sc-1"))
    requests.put(link_pb2.ConnectRequest(message_id="s1", agent_seen=seen))
    stream = link_pb2_grpc.SidecarLinkServiceStub(channel).Connect(iter(requests.get, None))
    assert [next(stream).WhichOneof("body") for _ in range(3)] == ["welcome", "ack", "ack"]
    stream.add_done_callback(lambda _: channel.close())
    return stream
