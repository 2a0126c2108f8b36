"""Sidecar state on disk: small JSON documents written atomically."""

import json
import logging
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from immune_common.config import ConfigError

log = logging.getLogger(__name__)
# What restoring a document, or an entry of one, raises when it is not of the shape written.
UNUSABLE = (KeyError, TypeError, ValueError, AttributeError, IndexError)


class StateDir:
    """Reads and writes named JSON documents in one directory; None keeps nothing."""

    def __init__(self, path: str | None) -> None:
        self._path = Path(path) if path else None
        if self._path is not None:
            _check_writable(self._path)

    @property
    def enabled(self) -> bool:
        """Whether state survives a restart."""
        return self._path is not None

    def read(self, name: str, default: Any) -> Any:
        """The document ``name``, or ``default`` when absent; an unreadable one, or one
        not of ``default``'s type, is set aside (renamed, logged) and ``default`` used."""
        if self._path is None:
            return default
        file = self._path / f"{name}.json"
        try:
            data = json.loads(file.read_text())
        except FileNotFoundError:
            return default
        except (OSError, ValueError, RecursionError) as exc:
            return self.set_aside(name, default, str(exc))
        if not isinstance(data, type(default)):
            return self.set_aside(
                name, default, f"a {type(data).__name__}, not a {type(default).__name__}"
            )
        return data

    def restore(self, name: str, default: Any, into: Callable[[Any], None]) -> None:
        """Hand the document ``name`` to ``into``; one ``into`` cannot use is set aside
        and ``into`` gets ``default`` instead (a bad state file never stops start-up)."""
        try:
            into(self.read(name, default))
        except UNUSABLE as exc:
            into(self.set_aside(name, default, f"{type(exc).__name__}: {exc}"))

    def restore_each(
        self, name: str, default: dict | list, into: Callable[[Any, Any], None]
    ) -> None:
        """Hand each entry of the document ``name`` (of ``default``'s type) to ``into``,
        with its key (an object's) or position (a list's); an entry ``into`` cannot use is
        logged and left out, and the others are restored (one agent's damaged record costs
        that agent its record, not the whole fleet theirs)."""
        document = self.read(name, default)
        entries = document.items() if isinstance(document, dict) else enumerate(document)
        for key, entry in entries:
            try:
                into(key, entry)
            except UNUSABLE as exc:
                log.error("state file %s.json: entry %s is unusable (%s: %s); left out",
                          name, key, type(exc).__name__, exc)  # fmt: skip

    def set_aside(self, name: str, default: Any, why: str) -> Any:
        """Move a bad state file out of the way (kept for a look), log it; ``default``."""
        file = self._path / f"{name}.json"
        aside = file.with_name(f"{file.name}.bad-{int(time.time())}")
        try:
            file.rename(aside)
        except OSError:
            aside = file
        log.error("state file %s is unusable (%s); set aside as %s, starting without it",
                  file, why, aside.name)  # fmt: skip
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


def _check_writable(path: Path) -> None:
    """Create the directory and prove a file can be written there, or ConfigError."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        raise ConfigError(f"state_dir: {path} cannot be used: {exc.strerror or exc}") from None
