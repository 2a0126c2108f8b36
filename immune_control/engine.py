"""The engine thread: every change runs here, and work queued together commits together.

Group commit: while one transaction is being written, requests queue up; the
thread then runs all of them inside one outer transaction (each change they
make is a savepoint in it), and answers them only after that transaction committed. A sidecar
is acked, and an API caller answered, only once its change is durable. If the
commit itself fails, each request is run again alone, so one bad request
cannot sink the others.
"""

import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future
from contextlib import AbstractContextManager
from typing import Any, NamedTuple

log = logging.getLogger(__name__)
MAX_BATCH = 256


class _Work(NamedTuple):
    future: Future
    fn: Callable[..., Any]
    args: tuple
    kwargs: dict


class Engine(Executor):
    """A one-thread executor whose batches share one transaction from ``transaction()``."""

    def __init__(
        self, transaction: Callable[[], AbstractContextManager], max_batch: int = MAX_BATCH
    ) -> None:
        self._transaction = transaction
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[_Work | None] = queue.SimpleQueue()
        self._closed = False
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._loop, name="engine", daemon=True)
        self._thread.start()

    def submit(self, fn, /, *args, **kwargs) -> Future:
        """Queue ``fn(*args, **kwargs)``; its future resolves after its transaction committed."""
        with self._lock:
            if self._closed:
                raise RuntimeError("the engine is shut down")
            work = _Work(Future(), fn, args, kwargs)
            self._queue.put(work)
        return work.future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Finish the queued work, then stop the thread."""
        with self._lock:
            if not self._closed:
                self._closed = True
                self._queue.put(None)
        if wait:
            self._thread.join()

    def _loop(self) -> None:
        while True:
            batch, done = self._take()
            if batch:
                self._run(batch)
            if done:
                return

    def _take(self) -> tuple[list[_Work], bool]:
        batch: list[_Work] = []
        work = self._queue.get()
        while work is not None:
            if work.future.set_running_or_notify_cancel():
                batch.append(work)
            if len(batch) >= self._max_batch:
                return batch, False
            try:
                work = self._queue.get_nowait()
            except queue.Empty:
                return batch, False
        return batch, True

    def _run(self, batch: list[_Work]) -> None:
        outcomes: list[tuple[bool, Any]] = []
        try:
            with self._transaction():
                outcomes = [self._call(work) for work in batch]
        except Exception as exc:
            if len(batch) == 1:
                batch[0].future.set_exception(exc)
                return
            log.warning("a batch of %d changes failed to commit (%s); one by one", len(batch), exc)
            for work in batch:
                self._run([work])
            return
        for work, (ok, value) in zip(batch, outcomes, strict=True):
            if ok:
                work.future.set_result(value)
            else:
                work.future.set_exception(value)

    def _call(self, work: _Work) -> tuple[bool, Any]:
        # No savepoint of its own: like a call alone, it keeps the changes it completed
        # (an audit of its own failure among them) and loses the one it was inside.
        try:
            return True, work.fn(*work.args, **work.kwargs)
        except Exception as exc:
            return False, exc
