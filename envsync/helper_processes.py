"""A few helper processes that take work off envsync's own process, one job at a time each.

Python threads share one interpreter lock, so CPU-bound work in threads (decoding big index
pages, making thousands of links) runs on one core however many there are. A helper is
another interpreter: it reads jobs from its stdin and answers on its stdout, each a marshal'd
value prefixed by its length. `submit` gives a job to an idle helper, or answers None (do the
job here); asked to, it waits for a busy one, never for one still starting. A helper is only
ever a shortcut: one that cannot start or dies means the caller does the job itself. Helpers ignore Ctrl-C: envsync decides when to stop, and a helper ends when its
pipe closes.
"""

from __future__ import annotations

import contextlib
import marshal
import subprocess
import sys
import threading
from collections.abc import Sequence

# Put at the top of a helper's program: read one job (the helper ends with its input), answer one.
PROTOCOL = """
import marshal, os, signal, sys
signal.signal(signal.SIGINT, signal.SIG_IGN)
_source, _sink = sys.stdin.buffer, sys.stdout.buffer

def next_job():
    head = _source.read(4)
    if len(head) < 4:
        os._exit(0)  # the pipe closed: every answer is flushed, and envsync need not wait for a teardown
    return marshal.loads(_source.read(int.from_bytes(head, "big")))

def answer(value):
    data = marshal.dumps(value)
    _sink.write(len(data).to_bytes(4, "big"))
    _sink.write(data)  # not joined to its length first: that copies a big answer once more
    _sink.flush()
"""


class HelperLost(Exception):
    """The helper died (or answered garbage) before answering: what it did is not known."""


class _Helper:
    def __init__(self, process: subprocess.Popen[bytes], ready: bool) -> None:
        self.process = process
        self.alive = True
        self.ready = ready  # False until the helper says it is ready (see `HelperPool`)

    def is_ready(self) -> bool:
        """Whether the helper has said it is ready, without waiting for it."""
        if not self.ready:
            import select

            assert self.process.stdout is not None
            try:
                if not select.select([self.process.stdout], [], [], 0)[0]:
                    return False
                self.receive()  # the ready answer
            except (OSError, ValueError, HelperLost):
                self.alive = False
                return False
            self.ready = True
        return True

    def send(self, job: object) -> bool:
        assert self.process.stdin is not None
        data = marshal.dumps(job)  # type: ignore[arg-type]  # the caller sends only marshal-able values
        try:
            self.process.stdin.write(len(data).to_bytes(4, "big"))
            self.process.stdin.write(data)  # not joined first: a big page would be copied once more
            self.process.stdin.flush()
        except (OSError, ValueError):
            self.alive = False
        return self.alive

    def receive(self) -> object:
        assert self.process.stdout is not None
        try:
            head = self.process.stdout.read(4)
            if len(head) < 4:
                raise EOFError
            return marshal.loads(self.process.stdout.read(int.from_bytes(head, "big")))
        except (OSError, EOFError, ValueError, TypeError):
            self.alive = False
            raise HelperLost from None


class Pending:
    """A job handed to a helper: `result()` waits for its answer (HelperLost if the helper died)."""

    def __init__(self, pool: HelperPool, helper: _Helper) -> None:
        self._pool, self._helper = pool, helper

    def result(self) -> object:
        try:
            return self._helper.receive()
        finally:
            self._pool.give_back(self._helper)


class HelperPool:
    """Up to `count` helpers running `program` (which starts with PROTOCOL).

    `python_args` are the interpreter's options (`-I -S` for a bare one). With `announces_ready`,
    the program answers once before its first job (after its imports): until then `submit`
    passes it by, so work is done here rather than queued behind a helper still starting.
    """

    def __init__(self, program: str, count: int, *, python_args: Sequence[str] = ("-I", "-S"),
                 program_args: Sequence[str] = (), announces_ready: bool = False) -> None:
        self._command = [sys.executable, *python_args, "-c", PROTOCOL + program, *program_args]
        self._announces_ready = announces_ready
        self._idle: list[_Helper] = []
        self._all: list[_Helper] = []
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)  # a helper was given back
        self._count = count
        self._started = False

    def start(self) -> None:
        """Start the helpers (once); where none can start, every job is done by the caller."""
        with self._lock:
            if self._started:
                return
            self._started = True
            for _ in range(self._count):
                try:
                    process = subprocess.Popen(self._command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                               stderr=subprocess.DEVNULL)
                except OSError:
                    break
                helper = _Helper(process, ready=not self._announces_ready or sys.platform == "win32")
                self._all.append(helper)
                self._idle.append(helper)

    def wait_until_ready(self, timeout: float) -> bool:
        """Wait (at most `timeout` seconds) until every helper started has said it is ready: for
        tests, which need to know a job will go to a helper."""
        import time

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if all(helper.is_ready() for helper in self._idle):
                    return bool(self._idle)
            time.sleep(0.01)
        return False

    def submit(self, job: object, *, wait: bool = False) -> Pending | None:
        """Hand `job` to an idle, ready helper; None when there is none (do the job yourself).
        With `wait`, a job waits for a busy helper rather than being done here, unless no helper
        is up yet (one still starting, or none left)."""
        with self._changed:
            while True:
                helper = next((h for h in reversed(self._idle) if h.is_ready()), None)
                self._idle = [h for h in self._idle if h.alive and h is not helper]
                if helper is not None or not wait:
                    break
                if not any(h.alive and h.ready and h not in self._idle for h in self._all):
                    break  # no helper that is up is busy: nothing to wait for
                self._changed.wait()
        if helper is None:
            return None
        if not helper.send(job):
            self.give_back(helper)  # it died: waiters must look again
            return None
        return Pending(self, helper)

    def give_back(self, helper: _Helper) -> None:
        with self._changed:
            if helper.alive:
                self._idle.append(helper)
            self._changed.notify_all()  # every waiter looks again: a helper that died ends their wait

    def processes(self) -> list[subprocess.Popen[bytes]]:
        """The helper processes started (for diagnostics, and tests that end one)."""
        with self._lock:
            return [helper.process for helper in self._all]

    def close(self) -> None:
        """End every helper: closing its pipe ends its loop."""
        with self._changed:
            helpers, self._all, self._idle = self._all, [], []
            self._changed.notify_all()  # nothing left to wait for
        for helper in helpers:
            with contextlib.suppress(OSError):
                assert helper.process.stdin is not None
                helper.process.stdin.close()
        for helper in helpers:
            try:
                helper.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                helper.process.kill()
                helper.process.wait()
            if helper.process.stdout is not None:
                helper.process.stdout.close()
