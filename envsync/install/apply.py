"""Carry out a Plan: fetch every wheel once (in parallel), then change each env in order.

Apply never decides *what* to do — the planner does. Under each env's lock it
re-reads the env and plans it again (a pure, cheap step), because another process
may have changed it between our plan and our lock.

It never writes text either: what happens is reported as values (envsync.events) to a
callback, and the CLI alone turns them into lines.
"""

from __future__ import annotations

import collections
import fcntl
import hashlib
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from envsync.errors import EnvsyncError, from_os_error
from envsync.events import ActionDone, FetchProgress, Progress, Report, StartupHookAdded, WaitingForLock, WheelsFetched
from envsync.files.cache import cache_dir, cache_subdir
from envsync.files.hashes import sha256_of_file
from envsync.install.checkpoints import Checkpoints
from envsync.install.layout import layout_for
from envsync.install.site import install_wheel, replace_wheel
from envsync.install.uninstall import uninstall
from envsync.install.venv import create_venv, recreate_venv, remove_venv
from envsync.install.wheel import UnpackedWheel, cached_wheel, unpack_wheel
from envsync.model import ActionKind, Actual, Artifact, EnvPlan, EnvRemoval, Plan
from envsync.state.hooks import is_own_project
from envsync.state.planner import plan_env, still_to_remove
from envsync.state.survey import survey

if TYPE_CHECKING:
    from envsync.resolve.index import IndexClient

ENV_ACTIONS = (ActionKind.CREATE_ENV, ActionKind.RECREATE_ENV)
FETCH_WORKERS = 16
ENV_WORKERS = max(2, os.cpu_count() or 1)
# After Ctrl-C, how long work already in flight (a file being linked, a download being
# renamed into the cache) may take to end before we leave without it. Every write that
# matters is atomic or repairable, so leaving mid-way is safe; waiting only tidies up.
GRACE_SECONDS = 0.3
T = TypeVar("T")


@dataclass(frozen=True)
class ApplyResult:
    envs_changed: int
    actions: int
    seconds: float


class Stopped(Exception):
    """Raised inside a worker that saw the stop flag between two steps: it ends quietly."""


class Wheels:
    """Unpacked wheels by URL: fetched together up front, or one by one when a re-plan needs more."""

    def __init__(self, index_for: Callable[[EnvPlan], IndexClient], stopped: threading.Event | None = None,
                 checkpoints: Checkpoints | None = None) -> None:
        self._index_for = index_for
        self._unpacked: dict[str, UnpackedWheel] = {}
        self._report: Report | None = None
        self._lock = threading.Lock()
        self._stopped = stopped or threading.Event()
        self._checkpoints = checkpoints or Checkpoints(self._stopped, "")

    def fetch_all(self, needed: dict[str, tuple[Artifact, EnvPlan]], report: Report) -> None:
        """Get every wheel into the unpacked cache, FETCH_WORKERS at a time, reporting progress."""
        if not needed:
            return
        self._report = report  # builds say where their output went (shown under -v)
        total, counts = len(needed), {"cached": 0, "downloaded": 0, "built": 0, "size": 0}
        report(FetchProgress(total, 0, 0, 0))

        def fetch(item: tuple[Artifact, EnvPlan]) -> None:
            how, size = self._fetch(*item)
            with self._lock:
                counts[how] += 1
                counts["size"] += size
                news = FetchProgress(total, counts["cached"], counts["downloaded"], counts["size"], counts["built"])
            report(news)

        failures = run_in_threads(needed.values(), fetch, FETCH_WORKERS, self._stopped, "envsync-fetch")
        if failures:
            raise failures[0]
        report(WheelsFetched(counts["cached"], counts["downloaded"], counts["size"], counts["built"]))

    def get(self, artifact: Artifact, env: EnvPlan) -> UnpackedWheel:
        found = self._known(artifact)
        if found is None:
            found, _ = self._download(artifact, env)
        return found

    def _fetch(self, artifact: Artifact, env: EnvPlan) -> tuple[str, int]:
        """Make sure the wheel is unpacked in the cache: ("cached", "downloaded" or "built", bytes downloaded)."""
        from envsync.build.wheels import needs_build

        if self._known(artifact) is not None:
            return "cached", 0
        _, size = self._download(artifact, env)
        return ("built" if needs_build(artifact) else "downloaded"), size

    def _known(self, artifact: Artifact) -> UnpackedWheel | None:
        from envsync.build.wheels import needs_build

        with self._lock:
            found = self._unpacked.get(_key(artifact))
        if found is None and artifact.sha256 and not needs_build(artifact):
            found = cached_wheel(artifact.sha256, cache_subdir("unpacked"))  # no index client needed
        return found

    def _download(self, artifact: Artifact, env: EnvPlan) -> tuple[UnpackedWheel, int]:
        """Download (or build, for an sdist, a project folder or a git commit) and unpack one wheel."""
        from envsync.build.wheels import needs_build

        self._checkpoints.reached("downloading")
        if self._stopped.is_set():
            raise Stopped
        if needs_build(artifact):
            found = self._build(artifact, env)
            size = 0
        else:
            path = self._index_for(env).download(artifact)
            if self._stopped.is_set():  # the download is safely in its cache; leave the unpacking
                raise Stopped
            found = unpack_wheel(path, artifact.sha256 or sha256_of_file(path), cache_subdir("unpacked"))
            size = artifact.size or path.stat().st_size
        with self._lock:
            self._unpacked[_key(artifact)] = found
        self._checkpoints.reached("downloaded")
        return found, size

    def _build(self, artifact: Artifact, env: EnvPlan) -> UnpackedWheel:
        """A wheel built from an sdist, a project folder or a git commit, unpacked into the cache."""
        import tempfile

        from envsync.build.pep517 import Builder
        from envsync.build.wheels import wheel_for

        source = next((pin.source for pin in env.desired.pins.values() if pin.artifact == artifact), None)
        report = self._report
        builder = Builder(env.desired.interpreter, self._index_for(env), prereleases=env.desired.spec.index.prereleases,
                          note=(lambda text: report(Progress(text))) if report is not None else None)
        with tempfile.TemporaryDirectory(prefix="envsync-build-") as work:
            path = wheel_for(artifact, source, builder, Path(work))
            return unpack_wheel(path, sha256_of_file(path), cache_subdir("unpacked"))


def _key(artifact: Artifact) -> str:
    """Unpacked wheels by URL and file name: one project folder gives an editable and a regular wheel."""
    return f"{artifact.url} {artifact.filename}"


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

    def worker() -> None:
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

    threads = [threading.Thread(target=worker, name=f"{name}-{n}", daemon=True)
               for n in range(max(1, min(workers, len(queue))))]
    for thread in threads:
        thread.start()
    try:
        for thread in threads:
            thread.join()
    except BaseException:
        stopped.set()
        deadline = time.monotonic() + GRACE_SECONDS
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        raise
    return failures


def apply_plan(plan: Plan, index_for: Callable[[EnvPlan], IndexClient], report: Report) -> ApplyResult:
    """Make every env in `plan` match its desired state, reporting each action as it is done.

    Envs are applied side by side on threads: installing is mostly hard links and small
    writes, syscalls that run outside the GIL, and threads share the fetched wheels and the
    index clients without the hazards of fork(). Every wheel is fetched before any env is
    touched, so a download that fails changes nothing.
    """
    start = time.monotonic()
    if plan.errors:
        first = plan.errors[0]
        raise EnvsyncError(f"env {first.name}: {first.error}", "nothing was changed")
    stopped = threading.Event()
    checkpoints = Checkpoints(stopped)
    wheels = Wheels(index_for, stopped, checkpoints)
    try:
        wheels.fetch_all(_needed(plan), report)
    except OSError as exc:
        raise from_os_error(exc, cache_dir()) from exc
    checkpoints.reached("fetched")
    pending: list[EnvPlan | EnvRemoval] = [env for env in plan.entries if env.actions]
    done = _apply_side_by_side(pending, wheels, report, str(plan.config_path), stopped, checkpoints)
    return ApplyResult(len(pending), done, time.monotonic() - start)


def _apply_side_by_side(envs: list[EnvPlan | EnvRemoval], wheels: Wheels, report: Report, owner: str,
                        stopped: threading.Event, checkpoints: Checkpoints) -> int:
    """Apply the envs, ENV_WORKERS at a time. After a failure no new env is started; every
    failure is reported once the envs already started have finished."""
    counts: list[int] = []

    def one(env: EnvPlan | EnvRemoval) -> None:
        try:
            counts.append(_apply_locked(env, wheels, report, owner, stopped, checkpoints))
        except (EnvsyncError, Stopped):
            raise
        except Exception as exc:  # a bug: say which env it hit, and let the others finish
            raise EnvsyncError(f"env {env.name}: internal error (a bug in envsync, please report it): "
                               f"{type(exc).__name__}: {exc}") from exc

    errors = [error if isinstance(error, EnvsyncError) else EnvsyncError(f"{type(error).__name__}: {error}")
              for error in run_in_threads(envs, one, ENV_WORKERS, stopped, "envsync-apply")]
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise EnvsyncError("; ".join(error.message for error in errors),
                           "fix the causes above, then run `envsync apply` again: it repairs what was left")
    return sum(counts)


def _apply_locked(planned: EnvPlan | EnvRemoval, wheels: Wheels, report: Report, owner: str,
                  stopped: threading.Event, checkpoints: Checkpoints) -> int:
    """One env, under its lock, re-planned against what is on disk now."""
    with env_lock(planned.path, report):
        try:
            if isinstance(planned, EnvRemoval):
                return _remove_env(planned, report)
            env, actual = _replan(planned)
            return apply_env(env, actual, wheels, report, owner, stopped=stopped, checkpoints=checkpoints)
        except OSError as exc:  # a full disk, a read-only folder: name the env, not a traceback
            raise from_os_error(exc, planned.path) from exc


def _remove_env(removal: EnvRemoval, report: Report) -> int:
    """Delete an undeclared env, if the planner still says so for what is there now."""
    if not still_to_remove(removal, survey(removal.path)):
        return 0
    remove_venv(removal.path)
    (action,) = removal.actions
    report(ActionDone(removal.name, action))
    return 1


def _needed(plan: Plan) -> dict[str, tuple[Artifact, EnvPlan]]:
    """Each artifact some env must install, once, keyed by its URL."""
    needed: dict[str, tuple[Artifact, EnvPlan]] = {}
    for env in plan.envs:
        for action in env.actions:
            if action.kind.installs or action.kind in ENV_ACTIONS:
                pins = env.desired.pins.values() if action.package is None else [env.desired.pins[action.package]]
                for pin in pins:
                    needed.setdefault(pin.artifact.url, (pin.artifact, env))
    return needed


def _replan(planned: EnvPlan) -> tuple[EnvPlan, Actual]:
    """The env's plan against what is on disk now that we hold its lock."""
    actual = survey(planned.path, verify=planned.verified)
    fresh = plan_env(planned.desired, actual)
    if fresh.error:
        raise EnvsyncError(f"env {fresh.name}: {fresh.error}")
    return fresh, actual


def apply_env(env: EnvPlan, actual: Actual, wheels: Wheels, report: Report, owner: str | None = None, *,
              stopped: threading.Event | None = None, checkpoints: Checkpoints | None = None) -> int:
    """Carry out one env's actions in plan order. Returns how many were done.

    `owner` is the config that declares the env, recorded in the venvs it creates. Between
    two actions it looks at `stopped` (set on Ctrl-C) and ends with Stopped: each action
    either completes or, cut short by a kill, is repaired by the next apply.
    """
    stopped = stopped or threading.Event()
    checkpoints = checkpoints or Checkpoints(stopped, "")
    roots = root_names(env)
    layout = layout_for(env.path, env.desired.interpreter.short_version)
    for action in env.actions:
        if stopped.is_set():
            raise Stopped
        kind = action.kind
        if kind is ActionKind.CREATE_ENV:
            create_venv(env.path, env.desired.interpreter, prompt=env.name, owner=owner)
        elif kind is ActionKind.RECREATE_ENV:
            recreate_venv(env.path, env.desired.interpreter, prompt=env.name, owner=owner)
        else:
            old = actual.installed.get(action.package) if kind.replaces and action.package else None
            if kind.installs and action.package is not None:
                pin = env.desired.pins[action.package]
                unpacked = wheels.get(pin.artifact, env)
                direct_url = direct_url_json(pin)
                if old is None:
                    install_wheel(unpacked, layout, requested=pin.name in roots, direct_url=direct_url)
                else:  # the old version stays until the new one is in place
                    replace_wheel(old.dist_info, unpacked, layout, requested=pin.name in roots, direct_url=direct_url)
                for hook in unpacked.startup_hooks:
                    if is_own_project(pin):  # the env's own project's path hook: no warning, named under -v
                        report(Progress(f"{env.name}: {pin.name} {pin.version} (this env's own project) "
                                        f"installed startup hook {hook}"))
                    else:
                        report(StartupHookAdded(env.name, pin.name, str(pin.version), hook))
            elif old is not None:
                uninstall(old.dist_info, layout)
        report(ActionDone(env.name, action))
        _reached(checkpoints, kind)
    return len(env.actions)


def _reached(checkpoints: Checkpoints, kind: ActionKind) -> None:
    if kind in ENV_ACTIONS:
        checkpoints.reached("env-created")
    elif kind.installs:
        checkpoints.reached("installed")
    checkpoints.reached("action")


def direct_url_json(pin) -> bytes | None:
    """PEP 610's direct_url.json for a package from a direct source; None for an index's file."""
    import json

    source = pin.source
    if source is None:
        return None
    document: dict[str, object] = {"url": source.url}
    if source.kind == "directory":
        document["dir_info"] = {"editable": True} if source.editable else {}
    elif source.kind == "vcs":
        info = {"vcs": "git", "commit_id": source.commit_id}
        if source.requested_revision:
            info["requested_revision"] = source.requested_revision
        document["vcs_info"] = info
        _, _, fragment = pin.artifact.url.partition("#subdirectory=")
        if fragment:
            document["subdirectory"] = fragment
    else:
        document["archive_info"] = {"hashes": {"sha256": source.sha256}} if source.sha256 else {}
    return json.dumps(document, sort_keys=True).encode()




def root_names(env: EnvPlan) -> set[str]:
    """Packages the user asked for by name: they get a REQUESTED file, as pip writes."""
    from packaging.utils import canonicalize_name

    return {canonicalize_name(r.name) for r in env.desired.spec.requirements}


@contextmanager
def env_lock(path: Path, report: Report) -> Iterator[None]:
    """Hold an exclusive lock for the env at `path`, kept in the cache (outside the env,
    so recreating the env can't delete it). A second process waits, and says for whom."""
    key = hashlib.sha256(str(path).encode()).hexdigest()[:24]
    lock_path = cache_subdir("locks") / f"{key}.lock"
    with open(lock_path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            report(WaitingForLock(path, holder))
            fcntl.flock(handle, fcntl.LOCK_EX)
        handle.seek(0)
        handle.truncate()
        handle.write(f"envsync (pid {os.getpid()})")
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
