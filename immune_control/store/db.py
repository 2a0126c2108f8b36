"""The DuckDB file: one connection, migrations, and transactions under one local lock.

Writes are staged: rows queue per table inside a transaction and go to DuckDB
as one statement per table just before COMMIT. DuckDB pays a fixed
cost per statement, so a change that touches five tables costs five
statements however many rows it writes. A nested transaction is a savepoint:
if it fails, an undo log puts its staged rows back as they were and the outer
one goes on.
"""

import contextlib
import logging
import threading
from collections.abc import Hashable, Iterator
from pathlib import Path
from typing import Any

import duckdb

from .schema import MIGRATIONS

log = logging.getLogger(__name__)
_ABSENT = object()


class StoreError(RuntimeError):
    """The database could not be read or written (disk full, read-only, corrupt)."""


class Database:
    """Serialised, staged writes in transactions; reads on a cursor per thread."""

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
        self._staged: dict[tuple[str, bool], dict[Hashable, tuple]] = {}
        self._undo: list[tuple[dict, Hashable, object]] = []
        self._columns_of: dict[str, tuple[list[str], list[str]]] = {}
        self._flushes = 0
        self._broken = False
        self._local = threading.local()
        self.version = self._migrate()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A write transaction; a nested one is a savepoint inside the outer one."""
        with self._lock:
            if self._depth:
                with self._savepoint():
                    yield self._con
                return
            self._depth = 1
            try:
                self._con.execute("BEGIN TRANSACTION")
                yield self._con
                self._commit()
            except duckdb.Error as exc:
                self._rollback()
                raise StoreError(f"database write failed: {exc}") from exc
            except BaseException:
                self._rollback()
                raise
            finally:
                self._depth = 0

    def stage(self, table: str, row: tuple, key: Hashable = None, replace: bool = False) -> None:
        """Queue a row for the current transaction; a keyed row replaces one staged earlier."""
        with self.transaction():
            rows = self._staged.setdefault((table, replace), {})
            key = key if key is not None else ("#", len(rows))
            self._undo.append((rows, key, rows.get(key, _ABSENT)))
            rows[key] = row

    def read(self, sql: str, params: list[Any] | tuple = ()) -> list[tuple]:
        """Rows of a query that sees the current transaction's own writes."""
        with self.transaction() as con:
            self._flush()
            return con.execute(sql, params).fetchall()

    def query(self, sql: str, params: list[Any] | tuple = ()) -> list[tuple]:
        """Rows of a read-only query of committed data, on this thread's own cursor."""
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

    @contextlib.contextmanager
    def _savepoint(self) -> Iterator[None]:
        undo, flushes = len(self._undo), self._flushes
        self._depth += 1
        try:
            yield
        except BaseException:
            # Rows already sent to DuckDB cannot be taken back alone: the outer one must fail.
            self._broken = self._broken or self._flushes != flushes
            while len(self._undo) > undo:
                rows, key, old = self._undo.pop()
                if old is _ABSENT:
                    del rows[key]
                else:
                    rows[key] = old
            raise
        finally:
            self._depth -= 1

    def _commit(self) -> None:
        if self._broken:
            raise StoreError("a failed part of this transaction had already written rows")
        self._flush()
        self._con.execute("COMMIT")

    def _flush(self) -> None:
        staged, self._staged = self._staged, {}
        self._undo.clear()
        self._flushes += bool(staged)
        for (table, replace), rows in staged.items():
            # One list per column, unnested together: binding a few lists is far cheaper
            # for DuckDB than parsing a VALUES list with a parameter per cell.
            columns = [list(c) for c in zip(*rows.values(), strict=True)]
            names, types = self._columns(table)
            if replace:
                # Every table's key is its first column. DELETE then INSERT costs DuckDB
                # about half of what INSERT OR REPLACE does.
                self._con.execute(
                    f"DELETE FROM {table} WHERE {names[0]} IN (SELECT unnest(?::{types[0]}[]))",
                    [columns[0]],
                )
            select = ", ".join(f"unnest(?::{t}[])" for t in types)
            self._con.execute(f"INSERT INTO {table} SELECT {select}", columns)

    def _columns(self, table: str) -> tuple[list[str], list[str]]:
        if table not in self._columns_of:
            rows = self._con.execute(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_name = ? ORDER BY ordinal_position",
                [table],
            ).fetchall()
            self._columns_of[table] = ([r[0] for r in rows], [r[1] for r in rows])
        return self._columns_of[table]

    def _rollback(self) -> None:
        self._staged.clear()
        self._undo.clear()
        self._broken = False
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
