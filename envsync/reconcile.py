"""Turn a loaded config into a Plan: find interpreters, resolve pins, survey envs, diff.

This is the only place that strings the stages together for `plan`, `apply` and
`list`; each stage it calls stays testable alone.
"""

from __future__ import annotations

import enum
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from .errors import ConfigError, LockError
from .model import Config, Desired, EnvKind, EnvPlan, EnvSpec, IndexSettings, Interpreter, Plan
from .planner import plan_env, plan_env_removal
from .survey import read_pyvenv_cfg, survey

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    return None


@dataclass
class Session:
    """Shared, lazily built helpers for one command: index clients and interpreters."""

    config: Config
    progress: Progress = _quiet
    refresh: bool = False  # revalidate every index page, however fresh the HTTP cache says it is
    _indexes: dict[IndexSettings, object] = field(default_factory=dict)
    _interpreters: dict[str | None, Interpreter] = field(default_factory=dict)
    pending_locks: dict[Path, str] = field(default_factory=dict)
    inputs: list | None = None  # the stamp's view of the config's inputs, taken before loading it

    def index(self, settings: IndexSettings):
        from .resolve.index import IndexClient

        if settings not in self._indexes:
            self._indexes[settings] = IndexClient(settings, revalidate=self.refresh)
        return self._indexes[settings]

    def interpreter(self, request: str | None) -> Interpreter:
        from .interpreters import find_interpreter

        if request not in self._interpreters:
            self._interpreters[request] = find_interpreter(request, self.config.directory)
        return self._interpreters[request]

    def write_locks(self) -> list[Path]:
        """Write every lock that planning found missing or stale; returns their paths."""
        from .cache import write_atomic
        from .errors import from_os_error

        written = []
        for path, text in self.pending_locks.items():
            try:
                write_atomic(path, text.encode())
            except OSError as exc:
                raise from_os_error(exc, path) from exc
            written.append(path)
        self.pending_locks.clear()
        return written

    def close(self) -> None:
        for client in self._indexes.values():
            client.close()


def select_envs(config: Config, names: Sequence[str]) -> list[EnvSpec]:
    """The envs named on the command line (all when none), in config order."""
    if not names:
        return list(config.envs)
    known = [env.name for env in config.envs]
    for name in names:
        if name not in known:
            import difflib

            close = difflib.get_close_matches(name, known, n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"declared envs: {', '.join(known) or 'none'}"
            raise ConfigError(f"{config.path.name}: no env named {name!r}", hint)
    return [env for env in config.envs if env.name in names]


class LockMode(enum.Enum):
    """How `plan`/`apply` treat lock files (the README's "Locks" under "How it behaves")."""

    AUTO = "auto"  # use a fresh lock; re-resolve a stale one, keeping its pins where they still fit
    LOCKED = "locked"  # a missing or stale lock is an error (CI)
    FROZEN = "frozen"  # install the lock as it is; never resolve


@dataclass(frozen=True)
class Upgrade:
    """What `lock --upgrade` / `--upgrade-package` frees from the existing pins."""

    everything: bool = False
    packages: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Resolution:
    """An env's desired state, and the lock text to write when the lock on disk differs."""

    desired: Desired
    lock_path: Path
    new_lock: str | None


def desired_state(session: Session, spec: EnvSpec, mode: LockMode = LockMode.AUTO,
                  upgrade: Upgrade = Upgrade()) -> Resolution:
    """The pins for `spec`: from its lock when that is fresh (or frozen), else resolved."""
    from .resolve.lockfile import input_digest, lock_path, pins_from_lock, read_lock

    config = session.config
    interpreter = session.interpreter(spec.python)
    path = lock_path(config, spec.name)
    lock = read_lock(path)
    if mode is LockMode.FROZEN:
        if lock is None:
            raise LockError(f"{path.name} does not exist, and --frozen installs only from a lock",
                            f"run `envsync lock {spec.name}` first, or drop --frozen")
        if not lock.valid_for(interpreter):
            raise LockError(f"{path.name} was not made for Python {interpreter.version} on this platform",
                            f"run `envsync lock {spec.name}` on this machine")
        return Resolution(Desired(spec, interpreter, pins_from_lock(lock, interpreter)), path, None)
    digest = input_digest(spec, interpreter, config.directory)
    upgrading = upgrade.everything or bool(upgrade.packages)
    if lock is not None and lock.is_fresh(digest, interpreter) and not upgrading:
        return Resolution(Desired(spec, interpreter, pins_from_lock(lock, interpreter)), path, None)
    if mode is LockMode.LOCKED:
        state = "does not exist" if lock is None else "is out of date with envs.toml"
        raise LockError(f"{path.name} {state} (env {spec.name}), and --locked forbids changing it",
                        f"run `envsync lock {spec.name}` and commit {path.name}")
    preferred = {}
    if lock is not None and lock.valid_for(interpreter) and not upgrade.everything:
        preferred = {name: v for name, v in lock.versions().items() if name not in upgrade.packages}
    return _resolve(session, spec, interpreter, path, digest, preferred)


def _resolve(session: Session, spec: EnvSpec, interpreter: Interpreter, path: Path, digest: str,
             preferred: dict) -> Resolution:
    from .resolve.lockfile import render_lock
    from .resolve.resolver import resolve

    session.progress(f"resolving {spec.name} for Python {interpreter.version}")
    pins = resolve(spec.requirements, interpreter, session.index(spec.index),
                   prereleases=spec.index.prereleases, preferred=preferred)
    text = render_lock(spec, interpreter, pins, digest, session.config.directory)
    try:
        unchanged = path.read_text(encoding="utf-8") == text
    except OSError:
        unchanged = False
    return Resolution(Desired(spec, interpreter, pins), path, None if unchanged else text)


def make_plan(session: Session, names: Sequence[str] = (), mode: LockMode = LockMode.AUTO) -> Plan:
    """The plan for the selected envs, plus removal of envsync envs no longer declared.

    Locks that need rewriting are remembered in `session.pending_locks` for apply to write.
    """
    config = session.config
    plans: list[EnvPlan] = []
    for spec in select_envs(config, names):
        resolution = desired_state(session, spec, mode)
        plan = plan_env(resolution.desired, survey(spec.path))
        hooks = startup_hooks(plan)
        if hooks:
            plan = replace(plan, startup_hooks=hooks)
        if resolution.new_lock is not None:
            session.pending_locks[resolution.lock_path] = resolution.new_lock
            plan = replace(plan, lock_note=f"{resolution.lock_path.name} will be written")
        plans.append(plan)
    if not names:
        plans += undeclared_envs(config)
    return Plan(config_path=config.path, envs=tuple(plans))


def startup_hooks(plan: EnvPlan) -> tuple[tuple[str, str], ...]:
    """The `.pth` files the plan's installs add, for wheels whose contents the cache already knows.

    (Apply names every hook it installs in any case; the plan can only say what it has seen.)
    """
    from .cache import cache_subdir
    from .install.wheel import cached_wheel
    from .model import ActionKind

    hooks = []
    installing = (ActionKind.INSTALL, ActionKind.UPGRADE, ActionKind.DOWNGRADE, ActionKind.REINSTALL)
    for action in plan.actions:
        if action.kind in installing and plan.desired is not None:
            pin = plan.desired.pins[action.package]
            unpacked = cached_wheel(pin.artifact.sha256, cache_subdir("unpacked")) if pin.artifact.sha256 else None
            hooks += [(hook, f"{pin.name} {pin.version}") for hook in (unpacked.startup_hooks if unpacked else ())]
    return tuple(sorted(hooks))


def undeclared_envs(config: Config) -> list[EnvPlan]:
    """Venvs under the env root that envsync created for this config and it no longer declares."""
    declared = {env.path for env in config.envs}
    try:
        children = sorted(config.root.iterdir())
    except OSError:
        return []
    plans = []
    for child in children:
        if child in declared or child.name.startswith(".") or not child.is_dir():
            continue
        if read_pyvenv_cfg(child).get("envsync-config") != str(config.path):
            continue  # made by hand, by another tool, or for another config sharing this root
        actual = survey(child)
        if actual.kind is EnvKind.VENV:
            shown = os.path.relpath(child, config.directory)
            plans.append(plan_env_removal(child.name, actual, shown))
    return plans



def record_in_sync(session: Session, plan: Plan) -> None:
    """Stamp a whole-config plan that is in sync, so the next no-op run can skip all of this."""
    from .render import plan_document, render_text
    from .stamp import StampedEnv, record
    from .survey import site_packages

    if plan.has_changes or plan.errors or session.pending_locks or session.inputs is None:
        return
    stamped = []
    for env in plan.envs:
        desired = env.desired
        folder = site_packages(env.path, desired.interpreter.version) if desired else None
        if desired is None or folder is None:
            return
        stamped.append(StampedEnv(env.name, str(env.path), env.display_path, env.python or "", str(folder)))
    record(session.config.path, session.inputs, session.config.root, stamped, render_text(plan), plan_document(plan))
