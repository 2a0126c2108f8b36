"""The console's HTTPS certificate is reloaded into the live TLS context when its files change."""

import socket
import ssl
import threading
import time

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from immune_console.certs import CertificateWatch
from immune_sdk import certs as devca


def write(tmp_path, pem) -> None:
    (tmp_path / "web.pem").write_bytes(pem[0])
    (tmp_path / "web-key.pem").write_bytes(pem[1])


def presented(context: ssl.SSLContext, ca: str) -> bytes:
    """Handshake once against a server using ``context``; the certificate it showed."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]

        def serve():
            conn, _ = listener.accept()
            with context.wrap_socket(conn, server_side=True):
                pass

        threading.Thread(target=serve, daemon=True).start()
        client = ssl.create_default_context(cafile=ca)
        with (
            socket.create_connection(("127.0.0.1", port)) as raw,
            client.wrap_socket(raw, server_hostname="localhost") as tls,
        ):
            return tls.getpeercert(binary_form=True)


@pytest.fixture
def served(tmp_path):
    """A CA, a server TLS context holding its certificate, and a watch on the files."""
    ca = devca.load_or_create(tmp_path)
    write(tmp_path, devca.issue(ca, "localhost"))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "web.pem", tmp_path / "web-key.pem")
    return ca, context, CertificateWatch(str(tmp_path / "web.pem"), str(tmp_path / "web-key.pem"))


def test_a_changed_certificate_is_served_to_new_connections(tmp_path, served):
    ca, context, watch = served
    first = presented(context, str(tmp_path / "ca.pem"))
    assert not watch.check(context)  # nothing changed yet
    time.sleep(0.01)
    write(tmp_path, devca.issue(ca, "localhost"))
    assert watch.check(context)
    fresh = x509.load_pem_x509_certificate((tmp_path / "web.pem").read_bytes())
    now = presented(context, str(tmp_path / "ca.pem"))
    assert now != first and now == fresh.public_bytes(Encoding.DER)


def test_a_broken_pair_keeps_the_old_certificate(tmp_path, served):
    _, context, watch = served
    before = presented(context, str(tmp_path / "ca.pem"))
    (tmp_path / "web-key.pem").write_text("not a key")
    assert not watch.check(context)
    assert presented(context, str(tmp_path / "ca.pem")) == before
