"""A probe for tests showing that a slow step (adopting an audience, replaying a recording) leaves a lock - the
simulator engine's - free for whoever else wants it meanwhile."""

from __future__ import annotations

import threading


def probing_lock(lock, step):
    """``step`` wrapped so that, each time it runs, another thread first tries ``lock`` for up to a second (as the
    engine's tick would) before the step goes on: (the wrapped step, the list of whether the lock was free each
    time)."""
    free: list[bool] = []

    def tick_meanwhile() -> None:  # the engine's tick, on its own thread, wants the lock
        if lock.acquire(timeout=1.0):
            lock.release()
            free.append(True)
        else:
            free.append(False)

    def probed(*args):
        probe = threading.Thread(target=tick_meanwhile)
        probe.start()
        probe.join()
        return step(*args)

    return probed, free
