"""Work on a few threads that a Ctrl-C or a failure stops promptly: fetching wheels, applying
envs side by side, installing the packages of one env side by side."""

from __future__ import annotations

import collections
import os
import threading
import time
from collections.abc import Callable, Iterable
from typing import TypeVar

# After Ctrl-C, how long work already in flight (a file being linked, a download being
# renamed into the cache) may take to end before we leave without it. Every write that
# matters is atomic or repairable, so leaving mid-way is safe; waiting only tidies up.
GRACE_SECONDS = 0.3
T = TypeVar("T")

# Linking is system calls, but each one gives up and takes back the GIL: with more threads than
# cores they mostly wait for it (a large env on 2 cores: 2 threads 1.7 s, 8 threads 2.0 s, 1 thread 2.2 s).
INSTALL_WORKERS = max(2, min(8, os.cpu_count() or 2))


class Stopped(Exception):
    """Raised inside a worker that saw the stop flag between two steps: it ends quietly."""


def run_in_threads(items: Iterable[T], work: Callable[[T], object], workers: int, stopped: threading.Event,
                   name: str) -> list[BaseException]:
    """Call `work(item)` for every item on up to `workers` threads; return what they raised, in order.

    After a failure no new item starts, and the failures are returned once the running
    items have ended. On Ctrl-C
    (KeyboardInterrupt in this, the main thread) the stop flag is set, queued items are
    dropped at once, items in flight get GRACE_SECONDS to end, and the interrupt goes on.
    The threads are daemons: an interrupted apply never waits at exit for a slow download.
    A worker that raises Stopped has seen the flag and ended cleanly: that is no failure.
    """
    queue, lock = collections.deque(items), threading.Lock()
    failures: list[BaseException] = []

    def worker(ended: threading.Event) -> None:
        try:
            while True:
                with lock:
                    if not queue or stopped.is_set() or failures:
                        return
                    item = queue.popleft()
                try:
                    work(item)
                except Stopped:
                    return
                except BaseException as exc:  # noqa: BLE001 — handed to the caller, which decides
                    with lock:
                        failures.append(exc)
        finally:
            ended.set()

    ends = [threading.Event() for _ in range(max(1, min(workers, len(queue))))]
    threads = [threading.Thread(target=worker, args=(ended,), name=f"{name}-{n}", daemon=True)
               for n, ended in enumerate(ends)]
    for thread in threads:
        thread.start()
    try:
        for thread in threads:
            thread.join()
    except BaseException:
        stopped.set()
        # Not join(): on Python 3.11 a join() cut short by Ctrl-C marks the thread as ended
        # while it still runs, and every later join() returns at once.
        deadline = time.monotonic() + GRACE_SECONDS
        for ended in ends:
            ended.wait(max(0.0, deadline - time.monotonic()))
        raise
    return failures
