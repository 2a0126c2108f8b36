"""TLS for gRPC servers: certificates from PEM files, reloaded when the files change."""

import dataclasses
import logging
import os
import threading

import grpc

from .config import ConfigError

log = logging.getLogger(__name__)
# The auth-context keys gRPC fills from a verified client certificate.
_PEER_NAME_KEYS = ("x509_common_name", "x509_subject_alternative_name")


@dataclasses.dataclass(frozen=True)
class TlsFiles:
    """A server's certificate chain and key, and the CA its clients' certificates must chain to."""

    cert_file: str = ""
    key_file: str = ""
    # With a client CA, every client must present a certificate it signed (mutual TLS).
    client_ca_file: str = ""

    def __post_init__(self) -> None:
        if bool(self.cert_file) != bool(self.key_file):
            raise ConfigError("tls: cert_file and key_file go together")
        if self.client_ca_file and not self.cert_file:
            raise ConfigError("tls.client_ca_file: mutual TLS needs cert_file and key_file too")
        for path in (self.cert_file, self.key_file, self.client_ca_file):
            check_pem(path)

    @property
    def enabled(self) -> bool:
        """Whether the server speaks TLS at all."""
        return bool(self.cert_file)

    @property
    def mutual(self) -> bool:
        """Whether clients must present a certificate."""
        return bool(self.client_ca_file)


class FileStamps:
    """Notices when any of some files changes on disk (modification time or size)."""

    def __init__(self, paths: tuple[str, ...]) -> None:
        self._paths = tuple(p for p in paths if p)
        self._seen = self._read()

    def changed(self) -> bool:
        """Whether a file changed since the last look (a missing file is a change too)."""
        now = self._read()
        changed, self._seen = now != self._seen, now
        return changed

    def _read(self) -> tuple:
        stamps = []
        for path in self._paths:
            try:
                st = os.stat(path)
            except OSError:
                stamps.append(None)
                continue
            stamps.append((st.st_mtime_ns, st.st_size))
        return tuple(stamps)


class CertificateReloader:
    """Serves the current PEM files to gRPC, re-reading them when one changes on disk.

    gRPC asks before each new handshake; an answer of None keeps what it has,
    so a rotated certificate takes effect for new connections without a restart.
    """

    def __init__(self, files: TlsFiles) -> None:
        self._files = files
        self._lock = threading.Lock()
        self._stamps = FileStamps((files.cert_file, files.key_file, files.client_ca_file))
        self.current = self._configuration()
        self.reloads = 0

    def __call__(self) -> grpc.ServerCertificateConfiguration | None:
        with self._lock:
            if not self._stamps.changed():
                return None
            try:
                self.current = self._configuration()
            except (OSError, ValueError) as exc:
                log.warning("TLS files changed but cannot be read (%s); keeping the old ones", exc)
                return None
            self.reloads += 1
        log.info("TLS certificate reloaded from %s", self._files.cert_file)
        return self.current

    def _configuration(self) -> grpc.ServerCertificateConfiguration:
        f = self._files
        pair = (_read(f.key_file), _read(f.cert_file))
        if b"PRIVATE KEY" not in pair[0] or b"CERTIFICATE" not in pair[1]:
            raise ValueError(f"{f.cert_file} and {f.key_file} must be a PEM certificate and key")
        client_ca = _read(f.client_ca_file) if f.client_ca_file else None
        return grpc.ssl_server_certificate_configuration([pair], root_certificates=client_ca)


def server_credentials(files: TlsFiles) -> tuple[grpc.ServerCredentials, CertificateReloader]:
    """Credentials that follow the files, and the reloader behind them; raises ConfigError."""
    try:
        reloader = CertificateReloader(files)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"tls: {exc}") from None
    credentials = grpc.dynamic_ssl_server_credentials(
        reloader.current, reloader, require_client_authentication=files.mutual
    )
    return credentials, reloader


def check_pem(path: str, key: str = "tls") -> None:
    """Raise ConfigError unless ``path`` (when set) is a readable PEM file."""
    if not path:
        return
    try:
        head = _read(path)[:65536]
    except OSError as exc:
        raise ConfigError(f"{key}: cannot read {path}: {exc.strerror or exc}") from None
    if b"-----BEGIN " not in head:
        raise ConfigError(f"{key}: {path} is not a PEM file (no '-----BEGIN' line)")


def channel_credentials(ca_file: str, cert_file: str = "", key_file: str = ""):
    """Client TLS credentials read from PEM files now (system roots without a CA file)."""
    return grpc.ssl_channel_credentials(
        root_certificates=_read(ca_file) if ca_file else None,
        private_key=_read(key_file) if key_file else None,
        certificate_chain=_read(cert_file) if cert_file else None,
    )


def peer_names(context) -> frozenset[str]:
    """The names on the client's verified certificate (common name and SANs); empty without one."""
    auth = context.auth_context() or {}
    return frozenset(v.decode() for key in _PEER_NAME_KEYS for v in auth.get(key, ()))


def _read(path: str) -> bytes:
    with open(path, "rb") as fh:
        return fh.read()
