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

import contextlib
import marshal
import os
import subprocess
import sys
import threading
from dataclasses import dataclass

from envsync.errors import ConfigError
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


# The helper's whole program. Jobs and answers are marshal'd and prefixed by their length.
_PROGRAM = """
import marshal, os, signal, sys
signal.signal(signal.SIGINT, signal.SIG_IGN)
source, sink = sys.stdin.buffer, sys.stdout.buffer

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
    head = source.read(4)
    if len(head) < 4:
        break
    existing, pairs = marshal.loads(source.read(int.from_bytes(head, "big")))
    made, dirs, linked = set(existing), [], 0
    for cached, dest in pairs:
        try:
            make(os.path.dirname(dest), made, dirs)
            os.link(cached, dest)
        except OSError:
            break
        linked += 1
    answer = marshal.dumps((linked, dirs))
    sink.write(len(answer).to_bytes(4, "big") + answer)
    sink.flush()
"""


@dataclass(frozen=True)
class Linked:
    """What a helper did with a job: the first `count` links made (it stops at the first that
    fails), and the folders it made for them. `known` is False when the helper died mid-job:
    then some links may be made that `count` does not include."""

    count: int
    folders: list[str]
    known: bool = True


class _Helper:
    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        self.process = process
        self.alive = True

    def send(self, pairs: list[tuple[str, str]], existing: list[str]) -> bool:
        assert self.process.stdin is not None
        job = marshal.dumps((existing, pairs))
        try:
            self.process.stdin.write(len(job).to_bytes(4, "big") + job)
            self.process.stdin.flush()
        except OSError:
            self.alive = False
        return self.alive

    def receive(self) -> Linked:
        assert self.process.stdout is not None
        try:
            head = self.process.stdout.read(4)
            count, folders = marshal.loads(self.process.stdout.read(int.from_bytes(head, "big")))
            return Linked(int(count), [str(folder) for folder in folders])
        except (OSError, EOFError, ValueError, TypeError):
            self.alive = False  # it died mid-job: what it made is not known, the install redoes it all
            return Linked(0, [], known=False)


class Job:
    """A job handed to a helper: `result()` waits for its answer."""

    def __init__(self, helpers: LinkHelpers, helper: _Helper) -> None:
        self._helpers, self._helper = helpers, helper

    def result(self) -> Linked:
        answer = self._helper.receive()
        self._helpers.give_back(self._helper)
        return answer


class LinkHelpers:
    """A few helper processes, each doing one job at a time; `submit` never waits for a busy one."""

    def __init__(self, count: int) -> None:
        self._idle: list[_Helper] = []
        self._all: list[_Helper] = []
        self._lock = threading.Lock()
        self._count = count
        self._started = False

    def start(self) -> None:
        """Start the helpers (once); where none can start, every install links on its own."""
        with self._lock:
            if self._started:
                return
            self._started = True
            for _ in range(self._count):
                try:
                    process = subprocess.Popen([sys.executable, "-I", "-S", "-c", _PROGRAM], stdin=subprocess.PIPE,
                                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
                except OSError:
                    break
                helper = _Helper(process)
                self._all.append(helper)
                self._idle.append(helper)

    def submit(self, pairs: list[tuple[str, str]], existing: frozenset[str] = frozenset()) -> Job | None:
        """Hand `pairs` (cached file, destination) to an idle helper; None when none is idle.
        `existing` are folders known to exist: the helper makes the others parents first, one
        mkdir each (without them it looks at every parent up to the root once)."""
        with self._lock:
            helper = self._idle.pop() if self._idle else None
        if helper is None:
            return None
        if not helper.send(pairs, sorted(existing)):
            return None
        return Job(self, helper)

    def give_back(self, helper: _Helper) -> None:
        if helper.alive:
            with self._lock:
                self._idle.append(helper)

    def processes(self) -> list[subprocess.Popen[bytes]]:
        """The helper processes started (for diagnostics, and tests that end one)."""
        with self._lock:
            return [helper.process for helper in self._all]

    def close(self) -> None:
        """End every helper: closing its pipe ends its loop."""
        with self._lock:
            helpers, self._all, self._idle = self._all, [], []
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
