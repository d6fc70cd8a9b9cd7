"""Redis writes that no request waits for, run from one background worker in pipelined batches, in order.

A Redis round trip per event was the largest single cost of a chat message: first the event's publish, then the
floor alerts' bookkeeping (who is awaiting a reply, clearing a response-SLA alert), up to three round trips for
an agent's line. Both go through here instead: the socket handler queues its commands and returns, and the
worker sends whatever has queued up meanwhile as one pipeline. Commands run in the order they were submitted
(one worker, one queue), so a customer's "awaiting a reply" can never land after the agent's answer cleared it.

Readers in this process that must see these writes call ``flush()`` first (the alert board does): it waits until
everything submitted before the call has run. Other processes see the writes a few milliseconds later, as they
would see a pub/sub message.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)

BATCH = 500


class RedisWriter:
    """One worker per process (started on first use, and again in a forked child)."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue | None = None
        self._pid: int | None = None
        self._lock = threading.Lock()
        self._cond = threading.Condition()
        self._submitted = 0
        self._done = 0
        self._worker_ident: int | None = None

    def _ensure(self) -> None:
        if self._pid != os.getpid():  # first use, or a forked child (whose worker thread did not survive)
            with self._lock:
                if self._pid != os.getpid():
                    self._queue = queue.SimpleQueue()
                    self._cond = threading.Condition()
                    self._submitted = self._done = 0
                    threading.Thread(target=self._run, args=(self._queue,), name="redis-writer", daemon=True).start()
                    self._pid = os.getpid()

    def submit(self, client, commands: list[tuple[str, tuple]], on_result: Callable[[list], None] | None = None):
        """Queue ``commands`` (``(redis-py method name, args)`` pairs) for ``client``. ``on_result`` is called on
        the worker with these commands' results (an exception object in place of a failed command's result); it is
        not called when the whole batch failed (that is logged)."""
        self._ensure()
        with self._cond:
            self._submitted += 1
            seq = self._submitted
        self._queue.put((seq, client, commands, on_result))

    def publish(self, client, channel: str, message: str) -> None:
        self.submit(client, [("publish", (channel, message))])

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until everything submitted before this call has run; False if that took over ``timeout``."""
        if self._pid != os.getpid() or threading.get_ident() == self._worker_ident:
            return True  # nothing submitted in this process, or called back from the worker itself
        with self._cond:
            target = self._submitted
            return self._cond.wait_for(lambda: self._done >= target, timeout)

    def _run(self, q: queue.SimpleQueue) -> None:
        self._worker_ident = threading.get_ident()
        while True:
            batch = [q.get()]
            while len(batch) < BATCH:
                try:
                    batch.append(q.get_nowait())
                except queue.Empty:
                    break
            by_client: dict[int, tuple] = {}
            for item in batch:
                by_client.setdefault(id(item[1]), (item[1], []))[1].append(item)
            for client, items in by_client.values():
                self._execute(client, items)
            with self._cond:
                self._done = batch[-1][0]
                self._cond.notify_all()

    @staticmethod
    def _execute(client, items: list[tuple]) -> None:
        try:
            pipe = client.pipeline(transaction=False)
            for _, _, commands, _ in items:
                for name, args in commands:
                    getattr(pipe, name)(*args)
            results = pipe.execute(raise_on_error=False)
        except Exception:
            log.exception("redis writes of %d events failed", len(items))
            return
        i = 0
        for _, _, commands, on_result in items:
            mine = results[i : i + len(commands)]
            i += len(commands)
            if on_result is not None:
                try:
                    on_result(mine)
                except Exception:
                    log.exception("a redis write's follow-up failed")


redis_writer = RedisWriter()
