"""Turn a loaded config into a Plan and carry it out: desired states, surveys, the planner's diff.

This is the only place that strings the stages together for `plan`, `apply`, `list` and
watch mode; each stage it calls stays testable alone.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from envsync.model import Config, EnvPlan, EnvRemoval, GroupPlan, Plan, SkippedEnv
from envsync.state.desired import LockMode, Resolution, desired_states
from envsync.state.hooks import project_hooks
from envsync.state.planner import orphan_locks, plan_env, plan_removals
from envsync.state.session import Session, select_envs
from envsync.state.survey import survey
from envsync.state.venv_contents import survey_for

if TYPE_CHECKING:
    from envsync.events import Report
    from envsync.state.solve_groups import SolveGroup


def make_plan(session: Session, names: Sequence[str] = (), mode: LockMode = LockMode.AUTO) -> Plan:
    """The plan for the selected envs (lock writes included), plus removal of envsync envs
    no longer declared when every env is selected."""
    from envsync.state.solve_groups import SolveGroup, units

    config = session.config
    specs = select_envs(config, names)
    skipped: tuple[SkippedEnv, ...] = ()
    order = tuple(spec.name for spec in specs)
    if session.skip_missing_pythons:
        from envsync.state.missing_pythons import skip_missing_pythons

        specs, skipped = skip_missing_pythons(config, specs, session.interpreter, locked=mode is LockMode.LOCKED)
    states = desired_states(session, specs, mode)
    plans: list[EnvPlan] = []
    for spec in specs:
        resolution = states[spec.name]
        actual = survey_for(resolution.desired, survey(spec.path, verify=session.refresh))
        plan = plan_env(resolution.desired, actual, resolution.lock_write)
        hooks = startup_hooks(plan)
        own = project_hooks(plan, actual, hooks)
        if hooks or own:
            plan = replace(plan, startup_hooks=tuple(hook for hook in hooks if hook not in own), project_hooks=own)
        fetch = to_fetch(plan)
        if fetch[0]:
            plan = replace(plan, to_fetch=fetch)
        plans.append(plan)
    selected = {spec.name for spec in specs}
    group_locks = tuple(state.lock_write for name, state in states.items()
                        if name not in selected and state.lock_write is not None)
    groups = tuple(_group_plan(unit, states) for unit in units(config, specs) if isinstance(unit, SolveGroup))
    removals = undeclared_envs(config) if not names else ()
    stale_locks = orphan_locks((env.name for env in config.envs), lock_files(config)) if not names else ()
    return Plan(config_path=config.path, envs=tuple(plans), removals=removals, solve_groups=groups,
                group_locks=group_locks, lock_removals=stale_locks, skipped=skipped,
                order=order)


def _group_plan(group: SolveGroup, states: dict[str, Resolution]) -> GroupPlan:
    """What a plan says once per solve group: its envs and the versions more than one of them has."""
    seen: dict[str, tuple[str, int]] = {}
    for name in group.names:
        for package, pin in states[name].desired.pins.items():
            version, count = seen.get(package, (str(pin.version), 0))
            seen[package] = (version, count + 1)
    shared = tuple((package, version) for package, (version, count) in sorted(seen.items()) if count > 1)
    return GroupPlan(group.name, group.names, shared)


def lock_files(config: Config) -> list[tuple[Path, str | None]]:
    """Every pylock.*.toml beside the config, with the env its [tool.envsync] names (None if none)."""
    from envsync.errors import LockError
    from envsync.resolve.lockfile import read_lock

    found = []
    for path in config.directory.glob("pylock.*.toml"):
        try:  # the env's own lock was read already, and is not parsed again
            lock = read_lock(path)
        except LockError:
            continue  # not a lock we can read: not ours to delete
        if lock is None:
            continue
        tool = (lock.document.tool or {}).get("envsync", {})
        env = tool.get("env") if isinstance(tool, dict) else None
        found.append((path, env if isinstance(env, str) else None))
    return found


def startup_hooks(plan: EnvPlan) -> tuple[tuple[str, str], ...]:
    """The `.pth` files the plan's installs add, for wheels whose contents the cache already knows.

    (Apply names every hook it installs in any case; the plan can only say what it has seen.)
    """
    from envsync.files.cache import cache_subdir
    from envsync.install.wheel import cached_wheel

    hooks = []
    for action in plan.actions:
        if action.kind.installs and action.package is not None:
            pin = plan.desired.pins[action.package]
            sha256 = pin.artifact.sha256 if pin.artifact is not None else None
            unpacked = cached_wheel(sha256, cache_subdir("unpacked")) if sha256 else None
            hooks += [(hook, f"{pin.name} {pin.version}") for hook in (unpacked.startup_hooks if unpacked else ())]
    return tuple(sorted(hooks))


def to_fetch(plan: EnvPlan) -> tuple[int, int]:
    """The files the plan's installs need that the cache lacks, and their size in bytes (as the
    index or the lock gives it; a file of unknown size counts as 0). A project folder or a git
    checkout is built, not downloaded."""
    from envsync.files.cache import cache_subdir

    count = size = 0
    seen = set()
    for action in plan.actions:
        if not (action.kind.installs and action.package is not None):
            continue
        pin = plan.desired.pins[action.package]
        artifact = pin.artifact  # None for a project folder or a git checkout: built, not downloaded
        if artifact is None or artifact.sha256 is None:
            continue
        digest = artifact.sha256.lower()
        if digest in seen or (cache_subdir("unpacked") / digest).is_dir() or (cache_subdir("built") / digest).is_dir() \
                or (cache_subdir("downloads") / digest / artifact.filename).is_file():
            continue
        seen.add(digest)
        count, size = count + 1, size + (artifact.size or 0)
    return count, size


def undeclared_envs(config: Config) -> tuple[EnvRemoval, ...]:
    """Survey every folder under the env root, and every folder this config's envs were made in
    before (a root since moved, a `path` since dropped); the planner decides which to remove."""
    from envsync.state.known_envs import known_env_paths

    try:
        children = [child for child in config.root.iterdir() if child.is_dir()]
    except OSError:
        children = []
    candidates = dict.fromkeys([*children, *(path for path in known_env_paths(config.path) if path.is_dir())])
    return plan_removals(config.path, (env.path for env in config.envs), (survey(path) for path in candidates))


@dataclass(frozen=True)
class Outcome:
    """What carrying out a plan did."""

    actions: int
    envs_changed: int
    locks_written: tuple[Path, ...]
    locks_removed: tuple[Path, ...] = ()  # locks of envs no longer declared, deleted


def carry_out(session: Session, plan: Plan, report: Report, *, stamp: bool) -> Outcome:
    """Carry out a plan as `apply` does: the envs' changes (reported as events), then the lock
    files, and (with `stamp`, for a plan of the whole config) record the result so the next
    no-op run is fast."""
    from envsync.state.stamp import forget

    forget(session.config.path)  # until this has finished, nothing is proven in sync
    actions = envs_changed = 0
    if plan.errors or any(env.actions for env in plan.entries):
        from envsync.install.apply import apply_plan

        result = apply_plan(plan, lambda env: session.index(env.desired.spec.index), report)
        actions, envs_changed = result.actions, result.envs_changed
    written = []
    for lock in plan.lock_writes:
        from envsync.resolve.lockfile import write_lock

        write_lock(lock)
        written.append(lock.path)
    removed = []
    for path in plan.lock_removals:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            removed.append(path)
    from envsync.state.known_envs import remember_env_paths

    remember_env_paths(session.config.path, (env.path for env in session.config.envs))
    if stamp:
        record_in_sync(session, plan.as_applied())
    return Outcome(actions, envs_changed, tuple(written), tuple(removed))


def record_in_sync(session: Session, plan: Plan) -> None:
    """Stamp a whole-config plan that is in sync, so the next no-op run can skip all of this."""
    from envsync.render.view import plan_view
    from envsync.state.stamp import StampedEnv, record
    from envsync.state.survey import site_packages

    if plan.has_changes or plan.errors or plan.skipped or session.inputs is None:
        return
    view = plan_view(plan)
    stamped = []
    for env, document in zip(plan.envs, view["envs"], strict=True):
        folder = site_packages(env.path, env.desired.interpreter.version)
        if folder is None:
            return
        stamped.append(StampedEnv(env.name, str(env.path), env.display_path, env.python or "", str(folder), document))
    record(session.config.path, session.inputs, session.config.root, stamped, view["summary"], view["solve_groups"])


def lock_mode(*, frozen: bool = False, locked: bool = False) -> LockMode:
    """The LockMode the command line's `--frozen` / `--locked` ask for (the one place that picks it)."""
    if frozen:
        return LockMode.FROZEN
    return LockMode.LOCKED if locked else LockMode.AUTO


@dataclass(frozen=True)
class Applied:
    """What the apply use case did: the plan it made (nothing to do when it has no changes) and its outcome."""

    plan: Plan
    outcome: Outcome

    @property
    def changed(self) -> bool:
        return self.plan.has_changes


def apply_envs(session: Session, names: Sequence[str], mode: LockMode, report: Report) -> Applied:
    """Make the selected envs (every env when `names` is empty) match the config: the apply use case.

    `apply`, `watch`, `run` and `add`/`remove` all come here. A plan of the whole config is
    stamped when it is in sync, or once carried out, so the next no-op run is fast; a plan
    that could not be made for some env changes nothing (carrying it out raises, naming the env).
    """
    whole = not names and mode is not LockMode.FROZEN
    plan = make_plan(session, names, mode)
    if not (plan.has_changes or plan.errors):
        if whole:
            record_in_sync(session, plan)
        return Applied(plan, Outcome(0, 0, ()))
    return Applied(plan, carry_out(session, plan, report, stamp=whole))
