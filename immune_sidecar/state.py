"""Sidecar state on disk: small JSON documents written atomically."""

import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


class StateDir:
    """Reads and writes named JSON documents in one directory; None keeps nothing."""

    def __init__(self, path: str | None) -> None:
        self._path = Path(path) if path else None
        if self._path is not None:
            self._path.mkdir(parents=True, exist_ok=True)

    @property
    def enabled(self) -> bool:
        """Whether state survives a restart."""
        return self._path is not None

    def read(self, name: str, default: Any) -> Any:
        """The document ``name``, or ``default`` when absent or unreadable."""
        if self._path is None:
            return default
        file = self._path / f"{name}.json"
        try:
            return json.loads(file.read_text())
        except FileNotFoundError:
            return default
        except (OSError, ValueError) as exc:
            log.error("state file %s is unreadable (%s); starting without it", file, exc)
            return default

    def write(self, name: str, data: Any) -> None:
        """Replace the document ``name`` atomically (write, fsync, rename)."""
        if self._path is None:
            return
        fd, tmp = tempfile.mkstemp(dir=self._path, prefix=f".{name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w") as out:
                json.dump(data, out, separators=(",", ":"))
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, self._path / f"{name}.json")
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
