"""Staged writes, savepoints and group commit on a real DuckDB file."""

import threading

import pytest

from immune_control.engine import Engine
from immune_control.intake import SeenInfections
from immune_control.model import Infection
from immune_control.store import Database, Store, StoreError


def count(db: Database, table: str) -> int:
    return db.query(f"SELECT count(*) FROM {table}")[0][0]


def feedback(db: Database, incident_id: str) -> None:
    db.stage("feedback", (incident_id, False, "x", "y", "z", "me", "", 1.0))


def test_staged_rows_reach_the_file_only_at_commit_and_a_keyed_row_replaces(tmp_path):
    db = Database(str(tmp_path / "c.duckdb"))
    with db.transaction():
        db.stage("policies", ("loop", "[]", "a", 1.0), key="loop", replace=True)
        db.stage("policies", ("loop", '["reset_agent"]', "b", 2.0), key="loop", replace=True)
        feedback(db, "i1")
        assert count(db, "policies") == 0
        assert db.read("SELECT count(*) FROM feedback")[0][0] == 1
    assert db.query("SELECT actions, update_actor FROM policies") == [('["reset_agent"]', "b")]


def test_a_failed_savepoint_drops_only_its_own_rows(tmp_path):
    db = Database(str(tmp_path / "c.duckdb"))
    with db.transaction():
        feedback(db, "kept")
        with pytest.raises(ValueError), db.transaction():
            feedback(db, "dropped")
            raise ValueError("domain error")
        feedback(db, "also kept")
    assert sorted(r[0] for r in db.query("SELECT incident_id FROM feedback")) == [
        "also kept",
        "kept",
    ]


def test_a_savepoint_that_failed_after_writing_sinks_the_transaction(tmp_path):
    db = Database(str(tmp_path / "c.duckdb"))
    with pytest.raises(StoreError, match="already written"), db.transaction():
        feedback(db, "first")
        with pytest.raises(ValueError), db.transaction():
            feedback(db, "flushed")
            db.read("SELECT 1")
            raise ValueError("too late to undo")
    assert count(db, "feedback") == 0


def test_an_engine_batch_commits_once_and_answers_after_the_commit(tmp_path):
    db = Database(str(tmp_path / "c.duckdb"))
    gate, commits = threading.Event(), []

    class Counting:
        def __enter__(self):
            self._tx = db.transaction()
            self._tx.__enter__()

        def __exit__(self, *exc):
            result = self._tx.__exit__(*exc)
            if db._depth == 0 and exc[0] is None:
                commits.append(count(db, "feedback"))
            return result

    engine = Engine(Counting)
    holding = threading.Event()
    engine.submit(lambda: (holding.set(), gate.wait()))  # holds the thread...
    assert holding.wait(10)  # ...once it runs, while the rest queues up
    futures = [engine.submit(feedback, db, f"i{n}") for n in range(20)]
    gate.set()
    for future in futures:
        future.result(timeout=30)
        assert count(db, "feedback") == 20  # answered only once durable
    engine.shutdown()
    assert commits[-1] == 20 and len(commits) <= 3


def test_one_bad_request_does_not_sink_its_batch(tmp_path):
    db = Database(str(tmp_path / "c.duckdb"))
    engine = Engine(db.transaction)

    def duplicate():
        db.stage("sidecars", ("s", "v", 1.0, 1.0, None))  # no key: a second row with this id

    gate = threading.Event()
    engine.submit(gate.wait)
    first = engine.submit(db.stage, "sidecars", ("s", "v", 1.0, 1.0, None), "s", True)
    bad = engine.submit(duplicate)
    good = engine.submit(feedback, db, "i1")
    gate.set()
    first.result(timeout=30)
    good.result(timeout=30)
    with pytest.raises(StoreError):
        bad.result(timeout=30)
    engine.shutdown()
    assert count(db, "sidecars") == 1 and count(db, "feedback") == 1
    with pytest.raises(RuntimeError, match="shut down"):
        engine.submit(print)


def test_seen_infections_fall_back_to_the_store_beyond_memory(tmp_path):
    store = Store(Database(str(tmp_path / "c.duckdb")))
    with store.transaction():
        for n in range(5):
            store.save_infection(f"x{n}", "a", "s", "i", float(n), 1.0, ())
    seen = SeenInfections(store, capacity=3)

    def infection(n: int, time: float | None = None) -> Infection:
        return Infection(f"x{n}", "a", "s", float(n) if time is None else time, 1.0, ())

    assert all(seen.known(infection(n)) for n in range(5))  # 0 and 1 from the database
    assert not seen.known(infection(7))
    seen.add(infection(7))
    assert seen.known(infection(7))
    assert not seen.known(infection(9, time=0.5))  # old enough to ask the store, not there
