"""``immune-control``: serve the control API and the sidecar link until SIGINT or SIGTERM."""

import os
import signal
import sys

from immune_common import logs
from immune_common.config import ConfigError

from .config import from_args


def main(argv: list[str] | None = None) -> int:
    """Parse the config, serve, and stop gracefully on a signal."""
    try:
        config = from_args(argv, os.environ)
    except ConfigError as exc:
        print(f"immune-control: config error: {exc}", file=sys.stderr)
        return 2
    logs.setup(config.log_level, config.log_format)
    from .app import ControlApp
    from .store import StoreError

    try:
        app = ControlApp(config, environ=os.environ)
    except ConfigError as exc:
        print(f"immune-control: config error: {exc}", file=sys.stderr)
        return 2
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: app.stop())
    try:
        app.run()
    except ConfigError as exc:
        print(f"immune-control: config error: {exc}", file=sys.stderr)
        return 2
    except (OSError, StoreError) as exc:
        print(f"immune-control: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
