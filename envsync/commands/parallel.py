"""`envsync run --parallel[=N]`: a matrix's runs side by side, each one's output printed whole when it ends.

Each run's steps get no terminal: stdin is /dev/null, stdout and stderr are captured, and
when the run ends its header, its stdout and its stderr are written in one go under a
lock, so two runs' lines never mix. The summary line comes last, in matrix order.

Each step runs in a session (process group) of its own, so a Ctrl-C typed at the terminal
reaches envsync alone; envsync then stops every run itself: SIGINT to each step's process
group, and SIGKILL to whatever still runs after a grace period. The summary so far is
printed and the exit code is 130. SIGTERM does the same.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import subprocess
import sys
import threading
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait

from envsync.commands.jobs import Job, describe, exit_code, result_word, summary_line
from envsync.errors import EnvsyncError

TYPE_CHECKING = False  # not `typing.TYPE_CHECKING`: annotations only, no import at run time
if TYPE_CHECKING:
    from envsync.cli import Output

GRACE_SECONDS = 5.0  # after SIGINT, how long a run may take to stop before it is killed
WAKE_SECONDS = 0.2  # how often the main thread looks up from waiting (a Ctrl-C is handled there)


class Runs:
    """The jobs running now: their live processes, and whether Ctrl-C has asked every run to stop."""

    def __init__(self, out: Output) -> None:
        self.out = out
        self.stopping = threading.Event()
        self._lock = threading.Lock()  # guards `_live`
        self._print = threading.Lock()  # one run's block at a time
        self._live: set[subprocess.Popen[bytes]] = set()

    def run(self, job: Job) -> str:
        """Run the job's steps in order, capturing their output, then print it whole; the result word."""
        chunks: list[tuple[str, bytes]] = []  # ("out" | "err", bytes), in the order the steps ran
        try:
            result = self._steps(job, chunks)
        except EnvsyncError as error:
            chunks.append(("err", f"envsync: error: {error}\n".encode()))
            result = "not run"
        self._show(job, chunks)
        return result

    def _steps(self, job: Job, chunks: list[tuple[str, bytes]]) -> str:
        for step in job.steps:
            if self.stopping.is_set():
                return "interrupted"
            if len(job.steps) > 1:
                chunks.append(("err", f"$ {'- ' if step.may_fail else ''}{shlex.join(step.argv)}\n".encode()))
            program = job.program(step.argv)
            try:
                process = subprocess.Popen(list(step.argv), executable=program, env=dict(job.environ), cwd=job.cwd,
                                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                           start_new_session=True)
            except OSError as exc:
                raise EnvsyncError(f"cannot run {step.argv[0]!r} ({program}): {exc.strerror or exc}",
                                   "check that it is an executable file") from exc
            with self._lock:  # a Ctrl-C between the check above and now still reaches this step
                self._live.add(process)
                if self.stopping.is_set():
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.killpg(process.pid, signal.SIGINT)
            try:
                stdout, stderr = process.communicate()
            finally:
                with self._lock:
                    self._live.discard(process)
            chunks += [("out", stdout), ("err", stderr)]
            code = process.returncode
            if self.stopping.is_set() and code != 0:
                return "interrupted"
            if code != 0 and step.may_fail:
                chunks.append(("err", f"{step.argv[0]} failed ({describe(code)}); going on: its line starts "
                                      "with `- `\n".encode()))
            elif code != 0:
                return result_word(code)
        return "ok"

    def _show(self, job: Job, chunks: list[tuple[str, bytes]]) -> None:
        with self._print:
            self.out.info(f"==> {job.env}: {job.shown}")
            for stream, data in ((sys.stdout, b"".join(d for s, d in chunks if s == "out")),
                                 (sys.stderr, b"".join(d for s, d in chunks if s == "err"))):
                if data:
                    with contextlib.suppress(OSError, ValueError):  # a closed pipe: the runs go on
                        stream.flush()
                        binary = getattr(stream, "buffer", None)  # None: a text-only stream (a test's capture)
                        if binary is None:
                            stream.write(data.decode(errors="replace"))
                        else:
                            binary.write(data)
                        (binary or stream).flush()

    def signal_all(self, signum: int) -> None:
        """Send `signum` to the process group of every step running now."""
        with self._lock:
            live = list(self._live)
        for process in live:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signum)


def run_parallel(jobs: Sequence[Job], workers: int, out: Output) -> int:
    """Run `jobs` with at most `workers` at once; print each whole as it ends, then the summary.
    Exit 0 when every run succeeded, 1 when any did not, 130 after Ctrl-C."""
    runs = Runs(out)
    # SIGTERM (a CI job's timeout) stops the runs as Ctrl-C does: they are in sessions of their own,
    # so nothing else would reach them once envsync is gone.
    previous = signal.signal(signal.SIGTERM, _interrupt)
    pool = ThreadPoolExecutor(max_workers=max(1, min(workers, len(jobs))), thread_name_prefix="envsync-run")
    futures: list[Future[str]] = [pool.submit(runs.run, job) for job in jobs]
    interrupted = False
    try:
        _wait_all(futures)
    except KeyboardInterrupt:
        interrupted = True
        runs.stopping.set()
        for future in futures:
            future.cancel()  # the runs not started yet never start
        _stop(runs, futures)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        signal.signal(signal.SIGTERM, previous)
    results = [(job.env, future.result()) for job, future in zip(jobs, futures, strict=True)
               if not future.cancelled()]
    out.result(summary_line(results))
    return exit_code(results, interrupted)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _wait_all(futures: Sequence[Future[str]], timeout: float | None = None) -> bool:
    """Wait for every future, waking often so that a signal is handled; False if `timeout` passed first."""
    import time

    deadline = None if timeout is None else time.monotonic() + timeout
    pending = [future for future in futures if not future.done()]
    while pending:
        if deadline is not None and time.monotonic() >= deadline:
            return False
        pending = list(wait(pending, timeout=WAKE_SECONDS).not_done)
    return True


def _stop(runs: Runs, futures: Sequence[Future[str]]) -> None:
    """Ask every running step to stop (SIGINT), then kill what still runs after the grace period
    or at a second Ctrl-C."""
    runs.signal_all(signal.SIGINT)
    try:
        stopped = _wait_all(futures, GRACE_SECONDS)
    except KeyboardInterrupt:
        stopped = False
    if not stopped:
        runs.signal_all(signal.SIGKILL)
        _wait_all(futures)
