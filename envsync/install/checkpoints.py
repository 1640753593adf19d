"""Named moments of an apply, where a test can make the process stop itself.

Crash and Ctrl-C tests must stop envsync at a known moment (mid-download, after the
third package, ...), and sleeping before a kill lands anywhere on a loaded machine. So
apply names its steps, and the test-only variable

    ENVSYNC_TEST_STOP_AT=<step>[:<count>][:interrupt]

makes the process stop itself when `step` is reached for the `count`-th time (default 1),
counted over the whole process (all envs). By default it SIGKILLs itself, as `kill -9` or a
power cut would; with `:interrupt` it sends itself SIGINT, as Ctrl-C does, and the worker
that reached the step waits until apply has noticed, so the interrupt lands exactly between
this step and the next. Unset (always, outside tests), each checkpoint is one comparison.
"""

from __future__ import annotations

import os
import signal
import threading
from dataclasses import dataclass

from envsync.errors import EnvsyncError

VARIABLE = "ENVSYNC_TEST_STOP_AT"
STEPS = {
    "downloading": "before the N-th wheel download starts",
    "downloaded": "after the N-th downloaded wheel is unpacked into the cache",
    "fetched": "every wheel is ready, before any env is changed",
    "env-created": "after the N-th env's venv was created or recreated",
    "installed": "after the N-th package was installed",
    "action": "after the N-th planned action was carried out",
}


@dataclass(frozen=True)
class StopAt:
    step: str
    count: int = 1
    interrupt: bool = False


def parse_stop_at(value: str | None) -> StopAt | None:
    """`installed:3:interrupt` -> StopAt("installed", 3, True); None when unset or empty."""
    if not value:
        return None
    step, *rest = value.split(":")
    interrupt = bool(rest) and rest[-1] == "interrupt"
    if interrupt:
        rest = rest[:-1]
    if step not in STEPS or len(rest) > 1 or (rest and not (rest[0].isdigit() and int(rest[0]) > 0)):
        raise EnvsyncError(f"{VARIABLE}={value!r} is not <step>[:<count>][:interrupt]",
                           f"steps: {', '.join(STEPS)}; unset it outside tests")
    return StopAt(step, int(rest[0]) if rest else 1, interrupt)


class Checkpoints:
    """Counts the steps an apply passes, and stops the process at the one the environment names."""

    def __init__(self, stopped: threading.Event, value: str | None = None) -> None:
        self._target = parse_stop_at(os.environ.get(VARIABLE) if value is None else value)
        self._stopped = stopped  # set by apply once it has noticed an interrupt
        self._counts: dict[str, int] = {}
        self._lock = threading.Lock()
        if self._target is not None and self._target.interrupt and signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
            # Started in the background (`cmd &`), a process inherits SIGINT ignored; the test
            # asked for a Ctrl-C, so make sure one arrives.
            signal.signal(signal.SIGINT, signal.default_int_handler)

    def reached(self, step: str) -> None:
        target = self._target
        if target is None or step != target.step:
            return
        with self._lock:
            count = self._counts[step] = self._counts.get(step, 0) + 1
        if count != target.count:
            return
        if not target.interrupt:
            os.kill(os.getpid(), signal.SIGKILL)
        if threading.current_thread() is not threading.main_thread():
            # A worker stops the others first, as apply does once it sees the interrupt: workers
            # run side by side, and the signal may reach the main thread only once they wait.
            self._stopped.set()
        os.kill(os.getpid(), signal.SIGINT)  # in the main thread this raises KeyboardInterrupt here
        self._stopped.wait(timeout=60)  # in a worker: hold still until apply has seen it
