"""immunectl certs: a development CA kept across runs, and certificates that chain to it."""

import io
import stat

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID
from immune_sdk.cli import main as immunectl


def load(path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def test_certs_makes_a_ca_a_server_and_sidecar_certificates(tmp_path):
    out = io.StringIO()
    argv = ["certs", str(tmp_path), "--host", "control.immune", "--sidecar", "sc-1"]
    assert immunectl(argv, out) == 0
    ca, server, sidecar = (load(tmp_path / n) for n in ("ca.pem", "server.pem", "sidecar-sc-1.pem"))
    for leaf in (server, sidecar):
        leaf.verify_directly_issued_by(ca)
    names = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert {"localhost", "control.immune"} <= set(names.get_values_for_type(x509.DNSName))
    usage = sidecar.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    assert sidecar.subject.rfc4514_string() == "CN=sc-1"
    for key in tmp_path.glob("*-key.pem"):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600, key
    assert str(tmp_path / "sidecar-sc-1-key.pem") in out.getvalue().split()


def test_a_second_run_keeps_the_ca_so_earlier_certificates_stay_valid(tmp_path):
    immunectl(["certs", str(tmp_path), "--sidecar", "sc-1"], io.StringIO())
    first = load(tmp_path / "ca.pem")
    immunectl(["certs", str(tmp_path), "--sidecar", "sc-2"], io.StringIO())
    assert load(tmp_path / "ca.pem") == first
    load(tmp_path / "sidecar-sc-1.pem").verify_directly_issued_by(first)
    load(tmp_path / "sidecar-sc-2.pem").verify_directly_issued_by(first)
