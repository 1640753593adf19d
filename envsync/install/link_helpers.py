"""Hard links made by helper processes, beside the thread that makes the rest.

Placing a wheel is one system call per file, and Python threads making them take turns at
the GIL: on two cores, two threads link a large env's 24,000 files more slowly than one
(0.18 s against 0.14 s), while two processes take 0.08 s. So an apply that places big wheels
starts a few helpers, each a bare interpreter (`-I -S`, no site, nothing of envsync) that
reads jobs from a pipe, and hands them part of each big wheel: files that do not exist yet,
linked from the unpacked cache, in folders the helper makes as it needs them.

A helper answers how many links it made and which folders, so a rollback takes out exactly
what was made; at the first failure it stops and says where, and the install places the rest
itself, meeting the same error (or falling back to copying, across filesystems) with
everything it knows. A helper that cannot be started or dies only means the install does
its own linking. Helpers ignore Ctrl-C: the apply decides when to stop, and a helper ends
when its pipe closes.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from typing import Any

from envsync.errors import ConfigError
from envsync.helper_processes import HelperLost, HelperPool, Pending
from envsync.install.threads import INSTALL_WORKERS

HELPERS_VARIABLE = "ENVSYNC_LINK_HELPERS"


def helper_count() -> int:
    """ENVSYNC_LINK_HELPERS, else one helper per thread that installs side by side (so none waits)."""
    raw = os.environ.get(HELPERS_VARIABLE, "").strip()
    if not raw:
        return INSTALL_WORKERS
    if not raw.isdigit() or int(raw) > 64:
        raise ConfigError(f"{HELPERS_VARIABLE}={raw!r} is not a number of processes from 0 to 64",
                          "set it to 0 (link in envsync's own process only) or a small number, or unset it")
    return int(raw)


# The helper's program, after helper_processes.PROTOCOL: a job is (existing folders, pairs).
_PROGRAM = """
import os

def make(folder, made, dirs):
    if folder in made:
        return
    parent = os.path.dirname(folder)
    if parent != folder and parent not in made:
        make(parent, made, dirs)
    try:
        os.mkdir(folder)
        dirs.append(folder)
    except FileExistsError:
        if not os.path.isdir(folder):
            raise
    made.add(folder)

while True:
    job = next_job()  # the helper ends when its input does
    existing, pairs = job
    made, dirs, linked = set(existing), [], 0
    for cached, dest in pairs:
        try:
            make(os.path.dirname(dest), made, dirs)
            os.link(cached, dest)
        except OSError:
            break
        linked += 1
    answer((linked, dirs))
"""


@dataclass(frozen=True)
class Linked:
    """What a helper did with a job: the first `count` links made (it stops at the first that
    fails), and the folders it made for them. `known` is False when the helper died mid-job:
    then some links may be made that `count` does not include."""

    count: int
    folders: list[str]
    known: bool = True


class Job:
    """A job handed to a helper: `result()` waits for its answer."""

    def __init__(self, pending: Pending) -> None:
        self._pending = pending

    def result(self) -> Linked:
        try:
            answer: Any = self._pending.result()
            return Linked(int(answer[0]), [str(folder) for folder in answer[1]])
        except (HelperLost, TypeError, ValueError, IndexError):
            return Linked(0, [], known=False)  # it died mid-job: the install redoes it all


class LinkHelpers:
    """A few bare interpreters (`-I -S`, nothing of envsync) linking files; `submit` never waits
    for a busy one."""

    def __init__(self, count: int, *, big_installs: int = 1) -> None:
        # How many helpers one big wheel may use (it is cut into that many parts and one of its
        # own): every one when it is the apply's only big wheel (Django among small packages:
        # nothing else would use them); else a thread's share, or the first would take them all
        # and the next place all its files alone (the large workload's apply: 0.68 -> 0.76 s).
        self.per_wheel = count if big_installs <= 1 else min(count, max(1, count // INSTALL_WORKERS))
        self._pool = HelperPool(_PROGRAM, count)

    def start(self) -> None:
        """Start the helpers (once); where none can start, every install links on its own."""
        self._pool.start()

    def submit(self, pairs: list[tuple[str, str]], existing: frozenset[str] = frozenset()) -> Job | None:
        """Hand `pairs` (cached file, destination) to an idle helper; None when none is idle.
        `existing` are folders known to exist: the helper makes the others parents first, one
        mkdir each (without them it looks at every parent up to the root once)."""
        pending = self._pool.submit((sorted(existing), pairs))
        return None if pending is None else Job(pending)

    def processes(self) -> list[subprocess.Popen[bytes]]:
        """The helper processes started (for diagnostics, and tests that end one)."""
        return self._pool.processes()

    def close(self) -> None:
        """End every helper: closing its pipe ends its loop."""
        self._pool.close()
