"""``immune-sidecar``: run the sidecar until SIGINT or SIGTERM."""

import gc
import os
import signal
import sys
import threading

from immune_common import logs
from immune_common.config import ConfigError

from .config import from_args


def main(argv: list[str] | None = None) -> int:
    """Parse the config, serve, and persist state on the way out."""
    try:
        config = from_args(argv, os.environ)
        from .app import Sidecar

        sidecar = Sidecar(config, environ=os.environ)
    except ConfigError as exc:
        print(f"immune-sidecar: config error: {exc}", file=sys.stderr)
        return 2
    logs.setup(config.log_level, config.log_format)
    try:
        sidecar.start()
    except (OSError, RuntimeError) as exc:
        print(f"immune-sidecar: config error: cannot listen: {exc}", file=sys.stderr)
        return 2
    gc.freeze()  # start-up objects never become garbage; keep them out of collections
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    sidecar.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
