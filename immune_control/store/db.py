"""The DuckDB file: one connection, migrations, and transactions under one local lock."""

import contextlib
import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb

from .schema import MIGRATIONS

log = logging.getLogger(__name__)


class StoreError(RuntimeError):
    """The database could not be read or written (disk full, read-only, corrupt)."""


class Database:
    """Serialised writes in transactions; reads on a cursor per thread."""

    def __init__(self, path: str) -> None:
        self.path = path
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        try:
            self._con = duckdb.connect(path)
        except duckdb.Error as exc:
            raise StoreError(f"cannot open database {path}: {exc}") from exc
        self._lock = threading.RLock()
        self._depth = 0
        self._local = threading.local()
        self.version = self._migrate()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A write transaction; nested uses join the outer one."""
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield self._con
                finally:
                    self._depth -= 1
                return
            self._depth = 1
            try:
                self._con.execute("BEGIN TRANSACTION")
                yield self._con
                self._con.execute("COMMIT")
            except duckdb.Error as exc:
                self._rollback()
                raise StoreError(f"database write failed: {exc}") from exc
            except BaseException:
                self._rollback()
                raise
            finally:
                self._depth = 0

    def query(self, sql: str, params: list[Any] | tuple = ()) -> list[tuple]:
        """Rows of a read-only query, on this thread's own cursor."""
        cursor = getattr(self._local, "cursor", None)
        if cursor is None:
            cursor = self._local.cursor = self._con.cursor()
        try:
            return cursor.execute(sql, params).fetchall()
        except duckdb.Error as exc:
            raise StoreError(f"database read failed: {exc}") from exc

    def close(self) -> None:
        """Checkpoint and close the file."""
        with self._lock:
            with contextlib.suppress(duckdb.Error):
                self._con.execute("CHECKPOINT")
            self._con.close()

    def _rollback(self) -> None:
        with contextlib.suppress(duckdb.Error):
            self._con.execute("ROLLBACK")

    def _migrate(self) -> int:
        with self.transaction() as con:
            con.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER)")
            row = con.execute("SELECT max(version) FROM schema_version").fetchone()
            current = row[0] or 0
            for number, sql in enumerate(MIGRATIONS[current:], start=current + 1):
                log.info("database %s: applying migration %d", self.path, number)
                con.execute(sql)
                con.execute("INSERT INTO schema_version VALUES (?)", [number])
        return len(MIGRATIONS)
