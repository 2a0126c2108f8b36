"""The console's HTTPS certificate, reloaded when its files change (no restart)."""

import asyncio
import logging
import ssl
from collections.abc import Callable

from immune_common.tls import FileStamps

log = logging.getLogger(__name__)
CHECK_SECONDS = 5.0


class CertificateWatch:
    """Loads a changed certificate and key into the running server's TLS context."""

    def __init__(self, cert_file: str, key_file: str) -> None:
        self.cert_file, self.key_file = cert_file, key_file
        self._stamps = FileStamps((cert_file, key_file))
        self.reloads = 0

    async def run(self, context: Callable[[], ssl.SSLContext | None]) -> None:
        """Check every few seconds until cancelled; ``context`` is the server's, when it has one."""
        while True:
            await asyncio.sleep(CHECK_SECONDS)
            self.check(context())

    def check(self, context: ssl.SSLContext | None) -> bool:
        """Reload into ``context`` if the files changed since the last check; whether it did."""
        return self._stamps.changed() and self.reload(context)

    def reload(self, context: ssl.SSLContext | None) -> bool:
        """New handshakes present the files' certificate; a bad pair keeps the old one."""
        if context is None:
            return False
        try:
            context.load_cert_chain(self.cert_file, self.key_file)
        except (OSError, ssl.SSLError) as exc:
            log.warning("console certificate changed but cannot be loaded (%s)", exc)
            return False
        self.reloads += 1
        log.info("console certificate reloaded from %s", self.cert_file)
        return True
