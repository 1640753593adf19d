"""Install the new packages of one env side by side, and complete them in plan order.

Linking a wheel from the unpacked cache is mostly mkdir and link calls, which run outside the
GIL, so a few threads install one env in a fraction of the time one does. Two rules keep it
as exact as installing one package after another:

- Wheels that write a common file (every nvidia-*-cu12 wheel ships `nvidia/__init__.py`) go
  one after another, in plan order, on one thread: the later one finds the earlier one's file
  and shares it (same bytes) exactly as it would have alone.
- A package counts as installed only when its INSTALLER is written, and those are written in
  plan order: after the N-th completion (what `ENVSYNC_TEST_STOP_AT=installed:N` stops at)
  exactly the first N packages of the plan are installed, and a stop or a failure takes out
  the files of the later ones already placed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Sequence

from envsync.install.site import InstallStopped, StagedInstall
from envsync.install.threads import INSTALL_WORKERS, Stopped, run_in_threads


def chains(destinations: Sequence[Collection[str]]) -> list[list[int]]:
    """Indices of the installs grouped so that two that write a common path share a group, each
    group in plan order, the groups ordered by their first install."""
    parent = list(range(len(destinations)))

    def root(index: int) -> int:
        while parent[index] != index:
            parent[index] = parent[parent[index]]
            index = parent[index]
        return index

    first_writer: dict[str, int] = {}
    for index, paths in enumerate(destinations):
        for path in paths:
            other = first_writer.setdefault(path, index)
            if other != index:
                parent[root(index)] = root(other)
    groups: dict[int, list[int]] = {}
    for index in range(len(destinations)):
        groups.setdefault(root(index), []).append(index)
    return sorted(groups.values(), key=lambda group: group[0])


def longest_first(groups: list[list[int]], destinations: Sequence[Collection[str]]) -> list[list[int]]:
    """The chains with the most files first: the biggest wheel (Django's 3,700 files among 31 small
    packages) sets how long the batch takes, so it starts at once and the small ones fill the other
    threads around it, rather than it starting last and finishing alone."""
    return sorted(groups, key=lambda group: -sum(len(destinations[index]) for index in group))


class _InOrder:
    """Completes staged installs in index order, whichever thread staged them."""

    def __init__(self, completed: Callable[[int], None], stopped: threading.Event) -> None:
        self._completed = completed
        self._stopped = stopped
        self._ready: dict[int, StagedInstall] = {}
        self._next = 0
        self._lock = threading.Lock()

    def ready(self, index: int, staged: StagedInstall) -> None:
        with self._lock:
            self._ready[index] = staged
            while self._next in self._ready and not self._stopped.is_set():
                self._ready.pop(self._next).complete()
                self._next += 1
                self._completed(self._next - 1)  # may stop the process here (a test's checkpoint)
            if self._stopped.is_set():
                self._undo_waiting()
                raise Stopped

    def abandon(self) -> None:
        """Take out every install still waiting for an earlier one (which failed or was stopped)."""
        with self._lock:
            self._undo_waiting()

    def _undo_waiting(self) -> None:
        for index in sorted(self._ready, reverse=True):
            self._ready.pop(index).undo()


def install_side_by_side(destinations: Sequence[Collection[str]], stage: Callable[[int, Callable[[], bool]], StagedInstall],
                         completed: Callable[[int], None], stopped: threading.Event) -> None:
    """Stage install `i` (0 <= i < len(destinations), writing the given paths) with `stage(i, stop)`
    on INSTALL_WORKERS threads, complete each in order and call `completed(i)` right after.

    On a failure no further install starts, those still waiting for an earlier one are undone, and
    the first failure is raised; on a stop, Stopped is raised once no thread is placing files."""
    order = _InOrder(completed, stopped)

    def run_chain(chain: list[int]) -> None:
        for index in chain:
            try:
                staged = stage(index, stopped.is_set)
            except InstallStopped:
                raise Stopped from None
            order.ready(index, staged)

    failures = run_in_threads(longest_first(chains(destinations), destinations), run_chain, INSTALL_WORKERS, stopped,
                              "envsync-install")
    order.abandon()
    if stopped.is_set():
        raise Stopped
    if failures:
        raise failures[0]
