"""Carry out a Plan: fetch every wheel once (in parallel), then change each env in order.

Apply never decides *what* to do — the planner does. Under each env's lock it
re-reads the env and plans it again (a pure, cheap step), because another process
may have changed it between our plan and our lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ..cache import cache_dir, cache_subdir
from ..errors import EnvsyncError, from_os_error
from ..hashes import sha256_of_file
from ..model import ActionKind, Actual, Artifact, EnvPlan, EnvRemoval, Plan
from ..planner import plan_env, still_to_remove
from ..survey import survey
from .layout import layout_for
from .site import install_wheel, replace_wheel
from .uninstall import uninstall
from .venv import create_venv, recreate_venv, remove_venv
from .wheel import UnpackedWheel, cached_wheel, unpack_wheel

ENV_ACTIONS = (ActionKind.CREATE_ENV, ActionKind.RECREATE_ENV)
Report = Callable[[str], None]


@dataclass(frozen=True)
class ApplyResult:
    envs_changed: int
    actions: int
    seconds: float


class Wheels:
    """Unpacked wheels by URL: fetched together up front, or one by one when a re-plan needs more."""

    def __init__(self, index_for: Callable[[EnvPlan], object]) -> None:
        self._index_for = index_for
        self._unpacked: dict[str, UnpackedWheel] = {}
        self._lock = threading.Lock()

    def fetch_all(self, needed: dict[str, tuple[Artifact, EnvPlan]], progress: Report) -> None:
        if not needed:
            return
        total, done, size = len(needed), 0, 0
        progress(f"fetching {total} wheel{'s' if total != 1 else ''}")
        with ThreadPoolExecutor(max_workers=min(16, total), thread_name_prefix="envsync-fetch") as pool:
            for (artifact, _), _ in zip(needed.values(), pool.map(lambda item: self.get(*item), needed.values()),
                                        strict=True):
                done, size = done + 1, size + (artifact.size or 0)
                progress(f"fetched {done}/{total} wheels ({size / 1e6:.1f} MB)")

    def get(self, artifact: Artifact, env: EnvPlan) -> UnpackedWheel:
        from ..build.wheels import needs_build

        key = f"{artifact.url} {artifact.filename}"  # one project folder: an editable and a regular wheel
        with self._lock:
            found = self._unpacked.get(key)
        if found is None and artifact.sha256 and not needs_build(artifact):
            found = cached_wheel(artifact.sha256, cache_subdir("unpacked"))  # no index client needed
        if found is None:
            if needs_build(artifact):
                found = self._build(artifact, env)
            else:
                path = self._index_for(env).download(artifact)
                found = unpack_wheel(path, artifact.sha256 or sha256_of_file(path), cache_subdir("unpacked"))
            with self._lock:
                self._unpacked[key] = found
        return found

    def _build(self, artifact: Artifact, env: EnvPlan) -> UnpackedWheel:
        """A wheel built from an sdist, a project folder or a git commit, unpacked into the cache."""
        import tempfile

        from ..build.pep517 import Builder
        from ..build.wheels import wheel_for

        source = next((pin.source for pin in env.desired.pins.values() if pin.artifact == artifact), None)
        builder = Builder(env.desired.interpreter, self._index_for(env), prereleases=env.desired.spec.index.prereleases)
        with tempfile.TemporaryDirectory(prefix="envsync-build-") as work:
            path = wheel_for(artifact, source, builder, Path(work))
            return unpack_wheel(path, sha256_of_file(path), cache_subdir("unpacked"))


def apply_plan(plan: Plan, index_for: Callable[[EnvPlan], object], report: Report,
               progress: Report | None = None) -> ApplyResult:
    """Make every env in `plan` match its desired state; report each action as it is done,
    and pass transient news (downloads) to `progress`."""
    start = time.monotonic()
    if plan.errors:
        first = plan.errors[0]
        raise EnvsyncError(f"env {first.name}: {first.error}", "nothing was changed")
    wheels = Wheels(index_for)
    try:
        wheels.fetch_all(_needed(plan), progress or (lambda _: None))
    except OSError as exc:
        raise from_os_error(exc, cache_dir()) from exc
    pending: list[EnvPlan | EnvRemoval] = [env for env in plan.entries if env.actions]
    owner = str(plan.config_path)
    if len(pending) > 1 and hasattr(os, "fork") and (os.cpu_count() or 1) > 1:
        done = _apply_side_by_side(pending, wheels, report, owner)
    else:
        done = sum(_apply_locked(env, wheels, report, owner) for env in pending)
    return ApplyResult(len(pending), done, time.monotonic() - start)


def _apply_locked(planned: EnvPlan | EnvRemoval, wheels: Wheels, report: Report, owner: str) -> int:
    """One env, under its lock, re-planned against what is on disk now."""
    with env_lock(planned.path, report):
        try:
            if isinstance(planned, EnvRemoval):
                return _remove_env(planned, report)
            env, actual = _replan(planned)
            return apply_env(env, actual, wheels, report, owner)
        except OSError as exc:  # a full disk, a read-only folder: name the env, not a traceback
            raise from_os_error(exc, planned.path) from exc


def _remove_env(removal: EnvRemoval, report: Report) -> int:
    """Delete an undeclared env, if the planner still says so for what is there now."""
    from ..render import SYMBOLS, describe_action

    if not still_to_remove(removal, survey(removal.path)):
        return 0
    remove_venv(removal.path)
    (action,) = removal.actions
    report(f"{removal.name}: {SYMBOLS[action.kind][0]} {describe_action(action)}")
    return 1


def _apply_side_by_side(envs: list[EnvPlan | EnvRemoval], wheels: Wheels, report: Report, owner: str) -> int:
    """Apply several envs at once, one child process each, as many at a time as there are CPUs.

    Installing is CPU- and syscall-bound Python, so threads would queue on the GIL; forked
    children share the fetched wheels and the plan for free. After a failure no new env is
    started; every failure is reported once all children have finished, and if we are
    interrupted, the children are stopped and waited for before we leave.
    """
    import signal
    import sys

    workers = min(len(envs), os.cpu_count() or 1)
    queue, running, done, failures = list(envs), {}, 0, []
    try:
        while queue or running:
            while queue and len(running) < workers and not failures:
                env = queue.pop(0)
                sys.stdout.flush()
                sys.stderr.flush()
                read_end, write_end = os.pipe()
                pid = os.fork()
                if pid == 0:  # the child: apply one env, send back a count or an error, never return
                    os.close(read_end)
                    _child(env, wheels, report, owner, write_end)
                os.close(write_end)
                running[pid] = (read_end, env)
            if not running:
                break
            pid, status = os.wait()
            if pid not in running:
                continue
            read_end, env = running.pop(pid)
            outcome = _outcome(read_end, env, status)
            if isinstance(outcome, int):
                done += outcome
            else:
                failures.append(outcome)
    except BaseException:
        for pid in running:  # Ctrl-C or a bug here: stop the children, reap them, then leave
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGTERM)
        for pid in running:
            with contextlib.suppress(OSError):
                os.waitpid(pid, 0)
        raise
    if len(failures) == 1:
        raise failures[0]
    if failures:
        raise EnvsyncError("; ".join(failure.message for failure in failures),
                           "fix the causes above, then run `envsync apply` again: it repairs what was left")
    return done


def _outcome(read_end: int, env: EnvPlan | EnvRemoval, status: int) -> object:
    """What a child sent back: its count of actions, or the EnvsyncError it ended with."""
    import pickle

    with os.fdopen(read_end, "rb") as pipe:
        payload = pipe.read()
    try:
        return pickle.loads(payload)
    except Exception:  # noqa: BLE001 — a child killed mid-write sends half a message
        code = os.waitstatus_to_exitcode(status)
        return EnvsyncError(f"env {env.name}: the process applying it ended with status {code}",
                            "run `envsync apply` again: it repairs what was left")


def _child(env: EnvPlan | EnvRemoval, wheels: Wheels, report: Report, owner: str, write_end: int) -> None:
    import pickle
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides what an interrupt means
    code = 0
    try:
        outcome: object = _apply_locked(env, wheels, report, owner)
    except EnvsyncError as exc:
        outcome, code = exc, 1
    except BaseException as exc:  # noqa: BLE001 — reported to the parent, which decides
        outcome, code = EnvsyncError(f"env {env.name}: internal error (a bug in envsync, please report it): "
                                     f"{type(exc).__name__}: {exc}"), 1
    try:
        with os.fdopen(write_end, "wb") as pipe:
            pipe.write(pickle.dumps(outcome))
    finally:
        os._exit(code)

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


def apply_env(env: EnvPlan, actual: Actual, wheels: Wheels, report: Report, owner: str | None = None) -> int:
    """Carry out one env's actions in plan order. Returns how many were done.

    `owner` is the config that declares the env, recorded in the venvs it creates."""
    from ..render import SYMBOLS, describe_action

    roots = root_names(env)
    layout = layout_for(env.path, env.desired.interpreter.short_version)
    for action in env.actions:
        kind = action.kind
        if kind is ActionKind.CREATE_ENV:
            create_venv(env.path, env.desired.interpreter, prompt=env.name, owner=owner)
        elif kind is ActionKind.RECREATE_ENV:
            recreate_venv(env.path, env.desired.interpreter, prompt=env.name, owner=owner)
        else:
            old = actual.installed.get(action.package) if kind.replaces and action.package else None
            if kind.installs:
                pin = env.desired.pins[action.package]
                unpacked = wheels.get(pin.artifact, env)
                direct_url = direct_url_json(pin)
                if old is None:
                    install_wheel(unpacked, layout, requested=pin.name in roots, direct_url=direct_url)
                else:  # the old version stays until the new one is in place
                    replace_wheel(old.dist_info, unpacked, layout, requested=pin.name in roots, direct_url=direct_url)
                for hook in unpacked.startup_hooks:
                    report(f"{env.name}: ! {pin.name} {pin.version} added startup hook {hook}")
            elif old is not None:
                uninstall(old.dist_info, layout)
        report(f"{env.name}: {SYMBOLS[kind][0]} {describe_action(action)}")
    return len(env.actions)


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
            report(f"waiting for {holder} to finish with {path}")
            fcntl.flock(handle, fcntl.LOCK_EX)
        handle.seek(0)
        handle.truncate()
        handle.write(f"envsync (pid {os.getpid()})")
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
