"""`envsync watch [ENV...]`: apply, then apply again each time the config's inputs change.

One loop in one thread, so applies never overlap. What it watches is the config's own
folder, not recursively, and of that only envs.toml, pyproject.toml and the lock files:
never the envs or the cache, so our own installs wake nothing. Whether anything really
changed is decided by the files' contents, not by the events: several quick saves, a
save made while an apply runs, or our own lock writes all come down to "do the inputs
differ from the ones the last round read?".
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from envsync.errors import EnvsyncError

if TYPE_CHECKING:
    from envsync.cli import Output
    from envsync.events import Event, Report
    from envsync.state.desired import LockMode
    from envsync.state.stamp import Stamp

EXIT_OK, EXIT_INTERRUPTED = 0, 130
STEP_MS = 50  # quiet time that ends a burst of saves: they become one round
DEBOUNCE_MS = 1_000  # the longest a burst is held back before a round starts anyway
WAKE_MS = 250  # how often the loop looks up from waiting (first wake: the watcher is in place)


@dataclass(frozen=True)
class EnvChange:
    """One env a round changed, as one line: what was installed, removed or changed."""

    name: str
    changes: tuple[str, ...]


@dataclass(frozen=True)
class RoundResult:
    """What one plan-and-apply round did: the envs it changed, the locks it wrote, or why it failed."""

    changed: tuple[EnvChange, ...] = ()
    locks_written: tuple[Path, ...] = ()
    error: EnvsyncError | None = None
    seconds: float = 0.0
    # The files the config read besides envs.toml and pyproject.toml (requirements and
    # constraints files, a project's build files elsewhere): watched from then on.
    inputs: tuple[Path, ...] | None = None


def reconcile_once(config_path: Path, names: Sequence[str], mode: LockMode, progress: Callable[[str], None],
                   report: Report, warn: Callable[[str], None] = print) -> RoundResult:
    """Plan and apply once, as `envsync apply` does, with everything it needs made afresh.

    This is the one place watch touches the reconcile stages: a new Session per round, so
    nothing (pending locks, index clients, interpreters) carries over from one round to the next.
    """
    from envsync.state.stamp import still_in_sync

    started = time.monotonic()
    stamp = still_in_sync(config_path, list(names))
    if stamp is not None:
        return RoundResult(seconds=time.monotonic() - started, inputs=stamp_files(stamp))
    from envsync.render.view import short_action
    from envsync.state.reconcile import apply_envs
    from envsync.state.session import open_session

    try:
        session = open_session(config_path, progress=progress, warn=warn, install_pythons=True)
    except EnvsyncError as error:
        return RoundResult(error=error, seconds=time.monotonic() - started)
    inputs = tuple(Path(path) for path, _ in session.config.files)
    try:
        applied = apply_envs(session, names, mode, report)
        changed = tuple(EnvChange(env.name, tuple(short_action(action) for action in env.actions))
                        for env in applied.plan.entries if env.actions)
        return RoundResult(changed, applied.outcome.locks_written, seconds=time.monotonic() - started,
                           inputs=inputs)
    except EnvsyncError as error:
        return RoundResult(error=error, seconds=time.monotonic() - started, inputs=inputs)
    finally:
        session.close()


def stamp_files(stamp: Stamp) -> tuple[Path, ...]:
    """The files besides envs.toml and pyproject.toml that the in-sync config was read from."""
    return tuple(Path(path) for path in stamp.files)


def describe(result: RoundResult) -> list[str]:
    """The lines a round prints: one per env it changed, else one 'in sync' line."""
    lines = [f"{env.name}: {', '.join(env.changes)} ({result.seconds:.2f}s)" for env in result.changed]
    lines += [f"wrote {path.name}" for path in result.locks_written]
    return lines or [f"in sync ({result.seconds:.2f}s)"]


# -- what is watched --------------------------------------------------------------------------


def watched_names(config_path: Path) -> Callable[[str], bool]:
    """Whether a file in the config's folder is one of the inputs: envs.toml, pyproject.toml, a lock."""
    config_name = config_path.name

    def wanted(name: str) -> bool:
        return name in (config_name, "pyproject.toml") or (name.startswith("pylock.") and name.endswith(".toml"))

    return wanted


def snapshot(config_path: Path, extra: Iterable[Path] = ()) -> dict[str, bytes]:
    """The contents of every watched file: in the config's folder by name, the `extra` files the
    config read (requirements files...) by absolute path. Absent files are left out."""
    wanted = watched_names(config_path)
    contents = {}
    try:
        entries = [entry for entry in config_path.parent.iterdir() if wanted(entry.name)]
    except OSError:
        entries = []
    for key, path in [*((entry.name, entry) for entry in entries), *((str(path), path) for path in extra)]:
        try:
            contents[key] = path.read_bytes()
        except OSError:  # vanished (an editor's atomic save) or unreadable: seen as absent
            continue
    return contents


def watched_folders(config_path: Path, extra: Iterable[Path]) -> tuple[Path, ...]:
    """The folders to watch, each on its own (never recursively: the envs and caches live below)."""
    return tuple(dict.fromkeys([config_path.parent, *(path.parent for path in extra)]))


# -- the loop -----------------------------------------------------------------------------------


class Watcher:
    """Runs rounds when the inputs change, and keeps the terminal's status line up to date."""

    def __init__(self, config_path: Path, names: Sequence[str], mode: LockMode, out: Output) -> None:
        self.config_path, self.names, self.mode, self.out = config_path, list(names), mode, out
        self.seen: dict[str, bytes] | None = None  # the inputs the last round read
        self.extra: tuple[Path, ...] = ()  # the files besides envs.toml the config read (last we knew)
        self.last = "starting"
        self.busy = False  # inside a plan-and-apply: an interrupt now is exit 130
        self.failing = False  # the last round ended in an error: the next good one says it is fixed

    def round(self, before: dict[str, bytes] | None = None) -> None:
        """Plan and apply what changed since the last round, and say what happened."""
        before = self.snapshot() if before is None else before
        if not before.get(self.config_path.name):
            # Empty or gone: an editor between truncating and writing, or renaming a new copy into
            # place. Applying it would remove every env, so wait for the save to finish.
            self.seen = before
            self.out.info(f"{self.config_path.name} is empty or missing; waiting for the next save")
            return
        self.busy = True
        result = reconcile_once(self.config_path, self.names, self.mode, self.out.progress, self._report,
                                self.out.warn)
        self.busy = False  # from here on, an interrupt finds every env as the round left it
        if result.inputs is not None and result.inputs != self.extra:
            self.extra = result.inputs  # a requirements file added or dropped: watch what the config reads now
            before = snapshot(self.config_path, self.extra)
        after = self.snapshot()
        # Our own lock writes are not a change to react to; anything else that moved meanwhile is.
        for path in result.locks_written:
            if path.name in after:
                before[path.name] = after[path.name]
        self.seen = before
        clock = time.strftime("%H:%M:%S")
        if result.error is not None:
            self.out.error(result.error)
            self.last = f"error at {clock}; watching for the next save"
            self.failing = True
        else:
            lines = describe(result)
            if self.failing:  # the save that mended the error: say so, with what it changed
                lines = [f"fixed: {lines[0]}", *lines[1:]]
                self.failing = False
            for line in lines:
                self.out.info(line)
            self.last = f"{'applied' if result.changed else 'in sync'} at {clock}"
        self.status()

    def _report(self, event: Event) -> None:
        """Apply reports every action; watch sums them up per env afterwards. What a user must see
        stays a line: a startup hook added, or another process holding an env."""
        from envsync.events import StartupHookAdded, WaitingForLock
        from envsync.render.view import event_text

        if isinstance(event, (StartupHookAdded, WaitingForLock)):
            self.out.info(event_text(event))
        else:
            self.out.progress(event_text(event))

    def snapshot(self) -> dict[str, bytes]:
        return snapshot(self.config_path, self.extra)

    def settled(self) -> dict[str, bytes]:
        """The inputs once they have stopped changing: a save still being written is waited out."""
        current = self.snapshot()
        if current == self.seen:
            return current
        while True:
            time.sleep(STEP_MS / 1000)
            again = self.snapshot()
            if again == current:
                return current
            current = again

    def _wanted(self, _change: object, path: str) -> bool:
        return Path(path) in self.extra or (Path(path).parent == self.config_path.parent
                                            and watched_names(self.config_path)(Path(path).name))

    def status(self) -> None:
        self.out.progress(f"watching {self.config_path.name}, pyproject.toml and the lock files in "
                          f"{self.config_path.parent} · last: {self.last} · Ctrl-C to stop")

    def run(self) -> int:
        import signal

        import watchfiles

        # Ctrl-C and SIGTERM both stop the loop the same clean way, even when this was started in the
        # background by a shell that set SIGINT to be ignored.
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, _interrupt)
        try:
            self.round()  # before the watcher exists; anything saved meanwhile is caught at its first wake
            announced = False
            while True:  # once per set of watched folders: a new requirements file elsewhere restarts it
                folders = watched_folders(self.config_path, self.extra)
                for events in watchfiles.watch(*folders, watch_filter=self._wanted, recursive=False, step=STEP_MS,
                                               debounce=DEBOUNCE_MS, rust_timeout=WAKE_MS, yield_on_timeout=True):
                    if announced and not events:
                        continue  # a wake with nothing to look at
                    if not announced:
                        announced = True
                        if not self.out.live:
                            self.out.info(f"watching {self.config_path} (Ctrl-C to stop)")
                    # watchfiles has already waited for the burst of events to end; after a round, a save
                    # made while it ran is waited out by content, then applied right away.
                    current = self.snapshot()
                    while current != self.seen:
                        self.round(current)
                        current = self.settled()
                    if watched_folders(self.config_path, self.extra) != folders:
                        break
        except KeyboardInterrupt:
            self.out.info("interrupted; the next `envsync apply` repairs any env left half-changed"
                          if self.busy else "stopped")
            return EXIT_INTERRUPTED if self.busy else EXIT_OK


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def cmd_watch(args: argparse.Namespace, out: Output) -> int:
    from envsync.config.paths import find_config
    from envsync.state.reconcile import lock_mode

    mode = lock_mode(frozen=args.frozen, locked=args.locked)
    return Watcher(find_config(args.config), args.envs, mode, out).run()
