"""A development CA and the certificates Immune's TLS needs: control's server and each sidecar.

For trying TLS and mutual TLS locally; production certificates come from the
operator's own CA (cert-manager, Vault, …) in the same PEM files.
"""

import dataclasses
import datetime as dt
import ipaddress
import os
from collections.abc import Iterable
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_NAME = "Immune development CA"
SKEW = dt.timedelta(minutes=5)


@dataclasses.dataclass(frozen=True)
class Authority:
    """A CA's certificate and key."""

    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey


def new_authority(days: int = 365) -> Authority:
    """A fresh self-signed CA."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, CA_NAME)])
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - SKEW)
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_ca_usage(), critical=True)
        .sign(key, hashes.SHA256())
    )
    return Authority(cert, key)


def issue(
    ca: Authority,
    name: str,
    *,
    hosts: Iterable[str] = (),
    client: bool = False,
    days: int = 365,
    not_before: dt.datetime | None = None,
    not_after: dt.datetime | None = None,
) -> tuple[bytes, bytes]:
    """A leaf certificate for ``name`` (server, or client when ``client``) as PEM (cert, key)."""
    key = ec.generate_private_key(ec.SECP256R1())
    start = not_before or _now() - SKEW
    usage = ExtendedKeyUsageOID.CLIENT_AUTH if client else ExtendedKeyUsageOID.SERVER_AUTH
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(not_after or start + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    )
    sans = [_san(h) for h in (name, *hosts)] if not client else [x509.DNSName(name)]
    builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    cert = builder.sign(ca.key, hashes.SHA256())
    return cert.public_bytes(serialization.Encoding.PEM), _key_pem(key)


def load_or_create(directory: Path, days: int = 365) -> Authority:
    """The CA kept in ``directory`` (ca.pem, ca-key.pem), made there on first use."""
    cert_path, key_path = directory / "ca.pem", directory / "ca-key.pem"
    if cert_path.exists() and key_path.exists():
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        key = serialization.load_pem_private_key(key_path.read_bytes(), None)
        return Authority(cert, key)
    directory.mkdir(parents=True, exist_ok=True)
    ca = new_authority(days)
    write(key_path, _key_pem(ca.key), secret=True)
    write(cert_path, ca.cert.public_bytes(serialization.Encoding.PEM))
    return ca


def write(path: Path, data: bytes, secret: bool = False) -> None:
    """Write a PEM file; keys are readable by their owner only."""
    path.write_bytes(data)
    if secret:
        os.chmod(path, 0o600)


def _san(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def _ca_usage() -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        key_cert_sign=True,
        crl_sign=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        encipher_only=False,
        decipher_only=False,
    )


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
