"""Carry out a Plan: fetch every wheel once (in parallel), then change each env in order.

Apply never decides *what* to do — the planner does. Under each env's lock it
re-reads the env and plans it again (a pure, cheap step), because another process
may have changed it between our plan and our lock.

It never writes text either: what happens is reported as values (envsync.events) to a
callback, and the CLI alone turns them into lines.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from envsync.errors import EnvsyncError, from_os_error
from envsync.events import ActionDone, FetchProgress, Progress, Report, StartupHookAdded, WaitingForLock, WheelsFetched
from envsync.files.cache import cache_dir, cache_subdir
from envsync.files.hashes import sha256_of_file
from envsync.install.checkpoints import Checkpoints
from envsync.install.file_plan import PlannedInstall, plan_install
from envsync.install.layout import SiteLayout, layout_for
from envsync.install.link_helpers import LinkHelpers, helper_count
from envsync.install.shared import SharedFiles
from envsync.install.side_by_side import install_side_by_side
from envsync.install.site import (
    HELP_AT,
    Sharing,
    StagedInstall,
    check_against_env,
    install_planned,
    stage_install,
)
from envsync.install.targets import check_plan_fits
from envsync.install.threads import Stopped, run_in_threads
from envsync.install.uninstall import uninstall
from envsync.install.venv import create_venv, recreate_venv, remove_venv
from envsync.install.wheel import UnpackedWheel, cached_wheel, unpack_wheel
from envsync.model import Action, ActionKind, Actual, Artifact, EnvPlan, EnvRemoval, Pin, Plan
from envsync.state.hooks import is_own_project
from envsync.state.planner import plan_env, still_to_remove
from envsync.state.survey import survey
from envsync.state.venv_contents import survey_for

if TYPE_CHECKING:
    from envsync.model import EnvSpec
    from envsync.resolve.index import IndexClient

ENV_ACTIONS = (ActionKind.CREATE_ENV, ActionKind.RECREATE_ENV)
FETCH_WORKERS = 16
ENV_WORKERS = max(2, os.cpu_count() or 1)


@dataclass(frozen=True)
class ApplyResult:
    envs_changed: int
    actions: int
    seconds: float


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

    def fetch_all(self, needed: dict[str, tuple[Pin, EnvPlan]], report: Report) -> None:
        """Get every wheel into the unpacked cache, FETCH_WORKERS at a time, reporting progress."""
        if not needed:
            return
        self._report = report  # builds say where their output went (shown under -v)
        total = len(needed)
        # Wheels already unpacked are looked up here: a marker read each, too little work to
        # share out, and threads that only take turns at the GIL would slow it down.
        missing = [item for item in needed.values() if self._known(item[0]) is None]
        counts = {"cached": total - len(missing), "downloaded": 0, "built": 0, "size": 0}
        report(FetchProgress(total, counts["cached"], 0, 0))

        def fetch(item: tuple[Pin, EnvPlan]) -> None:
            how, size = self._fetch(*item)
            with self._lock:
                counts[how] += 1
                counts["size"] += size
                news = FetchProgress(total, counts["cached"], counts["downloaded"], counts["size"], counts["built"])
            report(news)

        failures = run_in_threads(missing, fetch, FETCH_WORKERS, self._stopped, "envsync-fetch")
        if failures:
            raise failures[0]
        report(WheelsFetched(counts["cached"], counts["downloaded"], counts["size"], counts["built"]))

    def get(self, pin: Pin, env: EnvPlan) -> UnpackedWheel:
        found = self._known(pin)
        if found is None:
            found, _ = self._download(pin, env)
        return found

    def _fetch(self, pin: Pin, env: EnvPlan) -> tuple[str, int]:
        """Make sure the wheel is unpacked in the cache: ("cached", "downloaded" or "built", bytes downloaded)."""
        if self._known(pin) is not None:
            return "cached", 0
        _, size = self._download(pin, env)
        artifact = pin.artifact
        return ("downloaded" if artifact is not None and artifact.filename.endswith(".whl") else "built"), size

    def _known(self, pin: Pin) -> UnpackedWheel | None:
        artifact = pin.artifact
        with self._lock:
            found = self._unpacked.get(wheel_key(pin))
        if found is None and artifact is not None and artifact.sha256 and artifact.filename.endswith(".whl"):
            found = cached_wheel(artifact.sha256, cache_subdir("unpacked"))  # no index client needed
            if found is not None:
                _check_served_metadata(artifact, found)
                with self._lock:  # read once: the checks and the installs ask again
                    self._unpacked[wheel_key(pin)] = found
        return found

    def _download(self, pin: Pin, env: EnvPlan) -> tuple[UnpackedWheel, int]:
        """Download (or build, for an sdist, a project folder or a git commit) and unpack one wheel."""
        self._checkpoints.reached("downloading")
        if self._stopped.is_set():
            raise Stopped
        artifact = pin.artifact
        if artifact is None or not artifact.filename.endswith(".whl"):
            found = self._build(pin, env)
            size = 0
        else:
            index = self._index_for(env)
            index.add_credentials(credentialed_urls(env.desired.spec))
            path = index.download(artifact)
            if self._stopped.is_set():  # the download is safely in its cache; leave the unpacking
                raise Stopped
            found = unpack_wheel(path, artifact.sha256 or sha256_of_file(path), cache_subdir("unpacked"))
            _check_served_metadata(artifact, found)
            size = artifact.size or path.stat().st_size
        with self._lock:
            self._unpacked[wheel_key(pin)] = found
        self._checkpoints.reached("downloaded")
        return found, size

    def _build(self, pin: Pin, env: EnvPlan) -> UnpackedWheel:
        """A wheel built from an sdist, a project folder or a git commit, unpacked into the cache."""
        from envsync.build.pep517 import Builder
        from envsync.build.workspace import work_folder
        from envsync.sources import source_of

        index = self._index_for(env)
        index.add_credentials(credentialed_urls(env.desired.spec))
        report = self._report
        builder = Builder(env.desired.interpreter, index, prereleases=env.desired.spec.index.prereleases,
                          note=(lambda text: report(Progress(text))) if report is not None else None)
        with work_folder("build") as work:
            path = source_of(pin).wheel(pin, builder, work)
            return unpack_wheel(path, sha256_of_file(path), cache_subdir("unpacked"))


def _check_served_metadata(artifact: Artifact, wheel: UnpackedWheel) -> None:
    """The wheel's METADATA must agree with the PEP 658 file a resolve read in its place."""
    from envsync.resolve.served_metadata import check_wheel_metadata

    check_wheel_metadata(artifact.sha256, artifact.filename, wheel.path(f"{wheel.dist_info}/METADATA").read_bytes())


def wheel_key(pin: Pin) -> str:
    """Unpacked wheels by file (URL and name), or by source for what is no file: one project
    folder gives an editable and a regular wheel."""
    if pin.artifact is not None:
        return f"{pin.artifact.url} {pin.artifact.filename}"
    assert pin.source is not None
    return pin.source.key


def credentialed_urls(spec: EnvSpec) -> list[str]:
    """The env's direct references' URLs, whose credentials (for their own hosts only) a download
    of a locked archive needs: the lock keeps its URL without them."""
    return [requirement.url for requirement in spec.requirements if requirement.url]


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
    needed = _needed(plan)
    try:
        wheels.fetch_all(needed, report)
    except OSError as exc:
        raise from_os_error(exc, cache_dir()) from exc
    checkpoints.reached("fetched")
    big = _big_installs(plan, wheels)
    helpers = LinkHelpers(helper_count(), big_installs=big)
    if big:
        helpers.start()  # while the envs are made and checked: a bare interpreter starts in ~10 ms
    pending: list[EnvPlan | EnvRemoval] = [env for env in plan.entries if env.actions]
    try:
        done = _apply_side_by_side(pending, wheels, report, str(plan.config_path), stopped, checkpoints, helpers)
    finally:
        helpers.close()
    return ApplyResult(len(pending), done, time.monotonic() - start)


def _big_installs(plan: Plan, wheels: Wheels) -> int:
    """How many installs, over every env of the plan, are of wheels big enough for link helpers."""
    return sum(1 for env in plan.envs for action in env.actions
               if action.kind.installs and action.package is not None
               and len(wheels.get(env.desired.pins[action.package], env).record) >= HELP_AT)


def _apply_side_by_side(envs: list[EnvPlan | EnvRemoval], wheels: Wheels, report: Report, owner: str,
                        stopped: threading.Event, checkpoints: Checkpoints, helpers: LinkHelpers) -> int:
    """Apply the envs, ENV_WORKERS at a time. After a failure no new env is started; every
    failure is reported once the envs already started have finished."""
    counts: list[int] = []

    def one(env: EnvPlan | EnvRemoval) -> None:
        try:
            counts.append(_apply_locked(env, wheels, report, owner, stopped, checkpoints, helpers))
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
                  stopped: threading.Event, checkpoints: Checkpoints, helpers: LinkHelpers) -> int:
    """One env, under its lock, re-planned against what is on disk now."""
    with env_lock(planned.path, report):
        try:
            if isinstance(planned, EnvRemoval):
                return _remove_env(planned, report)
            env, actual = _replan(planned)
            return apply_env(env, actual, wheels, report, owner, stopped=stopped, checkpoints=checkpoints,
                             helpers=helpers)
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


def _needed(plan: Plan) -> dict[str, tuple[Pin, EnvPlan]]:
    """Each wheel some env must install, once, keyed by its file or source."""
    needed: dict[str, tuple[Pin, EnvPlan]] = {}
    for env in plan.envs:
        for action in env.actions:
            if action.kind.installs or action.kind in ENV_ACTIONS:
                pins = env.desired.pins.values() if action.package is None else [env.desired.pins[action.package]]
                for pin in pins:
                    needed.setdefault(wheel_key(pin), (pin, env))
    return needed


def _replan(planned: EnvPlan) -> tuple[EnvPlan, Actual]:
    """The env's plan against what is on disk now that we hold its lock."""
    actual = survey_for(planned.desired, survey(planned.path, verify=planned.verified))
    fresh = plan_env(planned.desired, actual)
    if fresh.error:
        raise EnvsyncError(f"env {fresh.name}: {fresh.error}")
    return fresh, actual


def apply_env(env: EnvPlan, actual: Actual, wheels: Wheels, report: Report, owner: str | None = None, *,
              stopped: threading.Event | None = None, checkpoints: Checkpoints | None = None,
              helpers: LinkHelpers | None = None) -> int:
    """Carry out one env's actions in plan order. Returns how many were done.

    `owner` is the config that declares the env, recorded in the venvs it creates. Between
    two actions it looks at `stopped` (set on Ctrl-C) and ends with Stopped: each action
    either completes or, cut short by a kill, is repaired by the next apply. Consecutive
    installs of new packages are placed side by side (side_by_side.py) and still complete,
    and are reported, in plan order.
    """
    stopped = stopped or threading.Event()
    checkpoints = checkpoints or Checkpoints(stopped, "")
    roots = root_names(env)
    layout = layout_for(env.path, env.desired.interpreter.short_version)
    sharing = _sharing(env, actual, layout)
    planned = _check_fits(env, actual, wheels, layout, roots, sharing.overwritable)
    actions = env.actions
    position = 0
    while position < len(actions):
        if stopped.is_set():
            raise Stopped
        batch = _new_installs_from(actions, position, sharing)
        if len(batch) > 1:
            _install_batch(env, batch, planned, layout, sharing, report, stopped, checkpoints, helpers)
            position += len(batch)
            continue
        _apply_action(env, actions[position], actual, planned, layout, sharing, report, owner, helpers)
        _reached(checkpoints, actions[position].kind)
        position += 1
    return len(actions)


def _apply_action(env: EnvPlan, action: Action, actual: Actual, planned: dict[str, PlannedInstall],
                  layout: SiteLayout, sharing: Sharing, report: Report, owner: str | None,
                  helpers: LinkHelpers | None) -> None:
    kind = action.kind
    if kind is ActionKind.CREATE_ENV:
        create_venv(env.path, env.desired.interpreter, prompt=env.name, owner=owner)
    elif kind is ActionKind.RECREATE_ENV:
        recreate_venv(env.path, env.desired.interpreter, prompt=env.name, owner=owner)
    else:
        old = actual.installed.get(action.package) if kind.replaces and action.package else None
        if kind.installs and action.package is not None:
            pin = env.desired.pins[action.package]
            install = planned[pin.name]  # the old version, if any, stays until the new one is in place
            install_planned(install, layout, old=old.dist_info if old is not None else None, sharing=sharing,
                            helpers=helpers)
            _report_hooks(env, pin, install.unpacked, report)
        elif old is not None:
            uninstall(old.dist_info, layout, sharing.files)
    report(ActionDone(env.name, action))


def _report_hooks(env: EnvPlan, pin: Pin, unpacked: UnpackedWheel, report: Report) -> None:
    for hook in unpacked.startup_hooks:
        if is_own_project(pin):  # the env's own project's path hook: no warning, named under -v
            report(Progress(f"{env.name}: {pin.name} {pin.version} (this env's own project) "
                            f"installed startup hook {hook}"))
        else:
            report(StartupHookAdded(env.name, pin.name, str(pin.version), hook))


def _new_installs_from(actions: tuple[Action, ...] | list[Action], position: int, sharing: Sharing) -> list[Action]:
    """The run of installs of packages not installed yet that starts at `position` (none when the
    apply also swaps packages whose files these installs may write over)."""
    if sharing.overwritable:
        return []
    end = position
    while end < len(actions) and actions[end].kind is ActionKind.INSTALL and actions[end].package is not None:
        end += 1
    return list(actions[position:end])


def _install_batch(env: EnvPlan, batch: list[Action], planned: dict[str, PlannedInstall], layout: SiteLayout,
                   sharing: Sharing, report: Report, stopped: threading.Event, checkpoints: Checkpoints,
                   helpers: LinkHelpers | None) -> None:
    """Install new packages side by side; each is reported, and counted, when it completes in plan order."""
    pins = [env.desired.pins[action.package] for action in batch if action.package is not None]
    installs = [planned[pin.name] for pin in pins]

    def stage(index: int, stop: Callable[[], bool]) -> StagedInstall:
        return stage_install(installs[index], layout, sharing=sharing, stopped=stop, helpers=helpers)

    def completed(index: int) -> None:
        _report_hooks(env, pins[index], installs[index].unpacked, report)
        report(ActionDone(env.name, batch[index]))
        _reached(checkpoints, batch[index].kind)

    install_side_by_side([[target.dest for target in install.targets] for install in installs], stage, completed,
                         stopped)


def _sharing(env: EnvPlan, actual: Actual, layout: SiteLayout) -> Sharing:
    """The env's shared-file index, and the files of the packages this apply removes or replaces,
    which its installs may write over (swapping opencv-python for opencv-python-headless)."""
    files = SharedFiles(layout)
    if any(kind in ENV_ACTIONS for kind in (action.kind for action in env.actions)):
        return Sharing(files)
    changed = [str(actual.installed[action.package].dist_info) for action in env.actions
               if action.kind.replaces and action.package in actual.installed]
    if not changed or not any(action.kind.installs for action in env.actions):
        return Sharing(files)
    return Sharing(files, files.listed_by(changed))


def _check_fits(env: EnvPlan, actual: Actual, wheels: Wheels, layout: SiteLayout, roots: set[str],
                overwritable: frozenset[str]) -> dict[str, PlannedInstall]:
    """Plan every install of the env, and refuse, before the env is touched, any that would
    overwrite a file with other contents: one another package keeps, or one a second wheel of
    this apply writes too. Returns the installs by package name."""
    fresh = any(action.kind in ENV_ACTIONS for action in env.actions)  # the old files all go
    planned: dict[str, PlannedInstall] = {}
    for action in env.actions:
        if not (action.kind.installs and action.package is not None):
            continue
        pin = env.desired.pins[action.package]
        install = plan_install(wheels.get(pin, env), layout, requested=pin.name in roots,
                               direct_url=direct_url_json(pin))
        if not fresh:
            old = actual.installed.get(action.package) if action.kind.replaces else None
            check_against_env(install, layout, old=old.dist_info if old else None, overwritable=overwritable)
        planned[pin.name] = install
    check_plan_fits([(install.label, install.targets) for install in planned.values()])
    return planned


def _reached(checkpoints: Checkpoints, kind: ActionKind) -> None:
    if kind in ENV_ACTIONS:
        checkpoints.reached("env-created")
    elif kind.installs:
        checkpoints.reached("installed")
    checkpoints.reached("action")


def direct_url_json(pin: Pin) -> bytes | None:
    """PEP 610's direct_url.json for a package from a direct source (without credentials, as PEP 610
    asks); None for an index's file."""
    import json

    found = pin.source.direct_url() if pin.source is not None else None
    if found is None:
        return None
    # Sources keep no password in their URL (an ssh URL keeps its user, `git@`, which is no secret):
    # the file records the URL exactly as the source does, so the planner can compare the two.
    return json.dumps(found.to_dict(strip_user_password=False), sort_keys=True).encode()


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
