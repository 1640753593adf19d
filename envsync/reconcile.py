"""Turn a loaded config into a Plan: find interpreters, resolve pins, survey envs, diff.

This is the only place that strings the stages together for `plan`, `apply` and
`list`; each stage it calls stays testable alone.
"""

from __future__ import annotations

import contextlib
import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from .config.paths import lock_path
from .errors import ConfigError, LockError
from .model import (
    Config,
    Desired,
    EnvPlan,
    EnvRemoval,
    EnvSpec,
    GroupPlan,
    IndexSettings,
    Interpreter,
    LockWrite,
    Plan,
)
from .planner import orphan_locks, plan_env, plan_removals
from .survey import survey

if TYPE_CHECKING:
    from packaging.utils import NormalizedName
    from packaging.version import Version

    from .events import Report
    from .resolve.index import IndexClient

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    return None


@dataclass
class Session:
    """Shared, lazily built helpers for one command: index clients and interpreters.

    It caches what is costly to make and the same for every plan (clients, interpreter probes);
    it holds no results, so one session can plan many times (watch mode) without leftovers.
    """

    config: Config
    progress: Progress = _quiet
    refresh: bool = False  # revalidate every index page, however fresh the HTTP cache says it is
    inputs: list | None = None  # the stamp's view of the config's inputs, taken before loading it
    warn: Progress = _quiet  # what is worth telling the user but stops nothing (an unknown extra)
    _indexes: dict[IndexSettings, IndexClient] = field(default_factory=dict)
    _interpreters: dict[str | None, Interpreter] = field(default_factory=dict)

    def index(self, settings: IndexSettings) -> IndexClient:
        from .resolve.index import IndexClient

        if settings not in self._indexes:
            self._indexes[settings] = IndexClient(settings, revalidate=self.refresh)
        return self._indexes[settings]

    def interpreter(self, request: str | None) -> Interpreter:
        from .interpreters import find_interpreter

        if request not in self._interpreters:
            self._interpreters[request] = find_interpreter(request, self.config.directory)
        return self._interpreters[request]

    def builder(self, spec: EnvSpec, interpreter: Interpreter):
        """The builder of `spec`'s sources (project, sdists, direct references) for `interpreter`."""
        from .build.pep517 import Builder

        return Builder(interpreter, self.index(spec.index), prereleases=spec.index.prereleases)

    def close(self) -> None:
        for client in self._indexes.values():
            client.close()


def open_session(config_path: Path, *, progress: Progress = _quiet, warn: Progress = _quiet,
                 refresh: bool = False) -> Session:
    """Load the config into a Session. The stamp's view of its inputs is taken before the config
    is read (an edit made meanwhile voids any stamp this run records) and then extended by the
    requirements files and variables the config read, so an edit to any of them is seen."""
    from .config.load import load
    from .stamp import extend_inputs, inputs_digest

    inputs = inputs_digest(config_path)
    config = load(config_path)
    return Session(config, progress=progress, refresh=refresh, inputs=extend_inputs(inputs, config), warn=warn)


def select_envs(config: Config, names: Sequence[str]) -> list[EnvSpec]:
    """The envs named on the command line (all when none), in config order. A matrix env's
    declared name (`test`) stands for all its expansions (test-py310, test-py311, ...)."""
    if not names:
        return list(config.envs)
    known = list(dict.fromkeys(name for env in config.envs for name in (env.matrix_of, env.name) if name))
    for name in names:
        if name not in known:
            import difflib

            close = difflib.get_close_matches(name, known, n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"declared envs: {', '.join(known) or 'none'}"
            raise ConfigError(f"{config.path.name}: no env named {name!r}", hint)
    return [env for env in config.envs if env.name in names or env.matrix_of in names]


class LockMode(enum.Enum):
    """How `plan`/`apply` treat lock files: `--locked`, `--frozen`, or neither."""

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
    """An env's desired state, and the lock to write when the lock on disk differs from it."""

    desired: Desired
    lock_path: Path
    lock_write: LockWrite | None
    platforms: tuple[str, ...] = ()  # a lock for several platforms: the ones it was resolved for


def desired_state(session: Session, spec: EnvSpec, mode: LockMode = LockMode.AUTO,
                  upgrade: Upgrade = Upgrade(), *, here: bool = True) -> Resolution:
    """The pins for `spec`: from its lock when that is fresh (or frozen), else resolved.

    An env of a solve group is resolved with its group (see `desired_states`, which also
    returns the other envs' lock writes: prefer it wherever locks are written). An env whose
    lock serves several platforms (`environments`) must be applied on one of them; with
    `here=False` (writing locks only) this machine may be any, and the pins are left empty.
    """
    from .resolve.lockfile import check_hashes, input_digest, pins_from_lock, read_lock

    if spec.solve_group is not None:
        return desired_states(session, [spec], mode, upgrade, here=here)[spec.name]

    config = session.config
    interpreter = session.interpreter(spec.python)
    path = lock_path(config.path, spec.name)
    lock = read_lock(path)
    if mode is LockMode.FROZEN:
        return _frozen(spec, interpreter, path, lock)
    local = {}
    if spec.project is not None or any(r.url for r in spec.requirements):
        from .resolve.direct import local_dists

        local = local_dists(spec, config.directory, lambda: session.builder(spec, interpreter))
    digest = input_digest(spec, interpreter, config.directory, local)
    upgrading = upgrade.everything or bool(upgrade.packages)
    # A lock for several platforms is judged by its inputs alone: it is the same lock on all of them.
    usable = lock is not None and (lock.valid_for(interpreter) or bool(spec.environments))
    if lock is not None and usable and lock.digest == digest and not upgrading:
        labels: tuple[str, ...] = ()
        if spec.environments:
            from .resolve.platforms import labels_of

            labels = labels_of(lock.platforms)
            if not lock.valid_for(interpreter):
                return replace(_unserved(spec, interpreter, path, here), platforms=labels)
        pins = check_hashes(spec, lock, pins_from_lock(lock, interpreter))
        pins.update((name, dist.pin()) for name, dist in local.items() if name in pins)
        return Resolution(Desired(spec, interpreter, pins), path, None, labels)
    if mode is LockMode.LOCKED:
        state = "does not exist" if lock is None else stale_reason(spec, locked_roots(lock), interpreter.markers)
        raise LockError(f"{path.name} {state} (env {spec.name}), and --locked forbids changing it",
                        f"run `envsync lock {spec.name}` and commit {path.name}")
    preferred: dict[NormalizedName, Version] = {}
    locked = {}
    if lock is not None and usable and not upgrade.everything:
        preferred = {name: v for name, v in lock.versions().items() if name not in upgrade.packages}
        locked = {name: pin for name, pin in _lock_pins(lock, interpreter).items() if name in preferred}
    if spec.environments:
        return _resolve_platforms(session, spec, interpreter, path, digest, preferred, local,
                                  lock if usable else None, here)
    return _resolve(session, spec, interpreter, path, digest, preferred, local, locked)


def _unserved(spec: EnvSpec, interpreter: Interpreter, path: Path, here: bool) -> Resolution:
    """An env whose lock does not serve this machine: an error where it would be installed."""
    if not here:
        return Resolution(Desired(spec, interpreter, {}), path, None)
    from .resolve.platforms import platform_of

    platform = platform_of(interpreter)
    machine = platform.label if platform else (f"{interpreter.markers.get('sys_platform')} "
                                               f"{interpreter.markers.get('platform_machine')}")
    raise LockError(f"env {spec.name}: this machine ({machine}, Python {interpreter.short_version}) is not one of the "
                    f"platforms {path.name} is made for: {'; '.join(spec.environments)} ({spec.environments_key} "
                    "in envs.toml)", f"add a marker for this machine to {spec.environments_key} (for example "
                    f"{_marker_here(interpreter)!r}) and run `envsync lock {spec.name}`")


def _marker_here(interpreter: Interpreter) -> str:
    return (f"sys_platform == '{interpreter.markers.get('sys_platform')}' and "
            f"platform_machine == '{interpreter.markers.get('platform_machine')}'")


def _resolve_platforms(session: Session, spec: EnvSpec, interpreter: Interpreter, path: Path, digest: str,
                       preferred: dict[NormalizedName, Version], local: dict, lock, here: bool) -> Resolution:
    """Resolve the env for every platform its `environments` name and write one lock for them all.

    The platforms are resolved in declared order, each preferring the version the first platform
    that needed a package chose (then the old lock's), so they share one version wherever it fits.
    The pins for this machine are read back from the lock's text, exactly as a later run reads it.
    """
    from .errors import EnvsyncError
    from .resolve.lockfile import check_hashes, lock_from_document, pins_from_lock, render_platform_lock
    from .resolve.platforms import targets

    where = f"{session.config.path.name}: {spec.environments_key}"
    chosen = targets(spec.environments, interpreter, where)
    index = session.index(spec.index)
    index.serve(tag for target in chosen for tag in target.interpreter.tags)  # one page filter for every platform
    preferences = dict(preferred)
    first_choice: dict[NormalizedName, Version] = {}  # the version the first platform to need a package chose
    resolved = []
    for target in chosen:
        label = f"{target.platform.label} ({target.environment!r} in {spec.environments_key})"
        locked = {}
        if lock is not None:
            locked = {name: pin for name, pin in _lock_pins(lock, target.interpreter).items()
                      if preferences.get(name) == pin.version}
        try:
            resolution = _resolve(session, spec, target.interpreter, path, digest, preferences, local, locked,
                                  builder_interpreter=interpreter, platform=target.platform.label)
        except EnvsyncError as error:
            raise type(error)(f"env {spec.name} on {label}: {error.message}", error.hint) from None
        pins = resolution.desired.pins
        for name, pin in pins.items():
            first_choice.setdefault(name, pin.version)
        preferences = {**preferred, **first_choice}
        resolved.append((target, pins))
    text = render_platform_lock(spec, interpreter, resolved, digest, session.config.directory)
    write = lock_write_if_changed(path, text)
    import tomllib

    from packaging.pylock import Pylock

    written = lock_from_document(path, Pylock.from_dict(tomllib.loads(text)))
    labels = tuple(target.platform.label for target in chosen)
    if not written.valid_for(interpreter):
        return replace(_unserved(spec, interpreter, path, here), lock_write=write, platforms=labels)
    pins = check_hashes(spec, written, pins_from_lock(written, interpreter))
    pins.update((name, dist.pin()) for name, dist in local.items() if name in pins)
    return Resolution(Desired(spec, interpreter, pins), path, write, labels)


def _lock_pins(lock, interpreter: Interpreter) -> dict:
    """The old lock's pins, to be kept without asking the index while they fit; none if it can't give them
    (a lock without a wheel for this interpreter is simply re-resolved, as before)."""
    from .resolve.lockfile import pins_from_lock

    try:
        return pins_from_lock(lock, interpreter)
    except LockError:
        return {}


def _frozen(spec: EnvSpec, interpreter: Interpreter, path: Path, lock) -> Resolution:
    """The env's pins from its lock as it is (--frozen): never resolved, never rewritten."""
    from .resolve.lockfile import check_hashes, pins_from_lock

    if lock is None:
        raise LockError(f"{path.name} does not exist, and --frozen installs only from a lock",
                        f"run `envsync lock {spec.name}` first, or drop --frozen")
    if spec.environments and not lock.valid_for(interpreter):
        return _unserved(spec, interpreter, path, here=True)
    if not lock.valid_for(interpreter):
        raise LockError(f"{path.name} was not made for Python {interpreter.version} on this platform",
                        f"run `envsync lock {spec.name}` on this machine")
    return Resolution(Desired(spec, interpreter, check_hashes(spec, lock, pins_from_lock(lock, interpreter))), path, None)


def desired_states(session: Session, specs: Sequence[EnvSpec], mode: LockMode = LockMode.AUTO,
                   upgrade: Upgrade = Upgrade(), *, here: bool = True) -> dict[str, Resolution]:
    """The desired state of every env in `specs`, and of every other env of their solve groups.

    Envs without a group are resolved alone (`desired_state`); a group is resolved once for all
    its envs, selected or not, because its locks are made and written together. Every group is
    checked (one interpreter, one set of index settings) before anything is resolved.
    """
    from .solve_groups import SolveGroup, check_group, units

    todo = units(session.config, specs)
    for unit in todo:
        if isinstance(unit, SolveGroup):
            check_group(session.config, unit, {m.name: session.interpreter(m.python) for m in unit.members})
    states: dict[str, Resolution] = {}
    for unit in todo:
        if isinstance(unit, SolveGroup):
            states.update(_group_state(session, unit, mode, upgrade))
        else:
            states[unit.name] = desired_state(session, unit, mode, upgrade, here=here)
    return states


def _group_state(session: Session, group, mode: LockMode, upgrade: Upgrade) -> dict[str, Resolution]:
    """A solve group's envs: from their locks when every one of them is fresh, else resolved together."""
    from .resolve.lockfile import check_hashes, input_digest, pins_from_lock, read_lock
    from .solve_groups import group_digest

    config = session.config
    interpreters = {m.name: session.interpreter(m.python) for m in group.members}
    paths = {m.name: lock_path(config.path, m.name) for m in group.members}
    locks = {m.name: read_lock(paths[m.name]) for m in group.members}
    if mode is LockMode.FROZEN:
        return {m.name: _frozen(m, interpreters[m.name], paths[m.name], locks[m.name]) for m in group.members}
    digest = group_digest(group, {m.name: input_digest(m, interpreters[m.name], config.directory)
                                  for m in group.members})
    fresh = {m.name: lock for m in group.members
             if (lock := locks[m.name]) is not None and lock.is_fresh(digest, interpreters[m.name])}
    stale = [name for name in group.names if name not in fresh]
    if not stale and not (upgrade.everything or upgrade.packages):
        return {m.name: Resolution(Desired(m, interpreters[m.name], check_hashes(
            m, fresh[m.name], pins_from_lock(fresh[m.name], interpreters[m.name]))), paths[m.name], None)
            for m in group.members}
    if mode is LockMode.LOCKED:
        described = ", ".join(f"{paths[name].name} ({'missing' if locks[name] is None else 'out of date'})"
                              for name in stale)
        raise LockError(f"solve group {group.name!r} ({', '.join(group.names)}): {described}; the group's locks "
                        "are made together from all its envs' inputs, and --locked forbids changing them",
                        f"run `envsync lock {' '.join(group.names)}` and commit "
                        f"{', '.join(paths[name].name for name in group.names)}")
    preferred: dict[NormalizedName, Version] = {}
    locked: dict = {}
    if not upgrade.everything:
        for m in group.members:
            lock = locks[m.name]
            if lock is not None and lock.valid_for(interpreters[m.name]):
                for name, version in lock.versions().items():
                    if name not in upgrade.packages:
                        preferred.setdefault(name, version)
                for name, pin in _lock_pins(lock, interpreters[m.name]).items():
                    if preferred.get(name) == pin.version:
                        locked.setdefault(name, pin)
    return _resolve_group(session, group, interpreters, paths, digest, preferred, locked)


def _resolve_group(session: Session, group, interpreters: dict[str, Interpreter], paths: dict[str, Path],
                   digest: str, preferred: dict[NormalizedName, Version],
                   locked: dict | None = None) -> dict[str, Resolution]:
    """Resolve the union of the group's roots once, then give each env the pins its own roots reach."""
    from packaging.metadata import parse_email
    from packaging.requirements import InvalidRequirement, Requirement

    from .build.wheels import sdist_metadata
    from .errors import ResolutionConflict
    from .group_conflicts import Tracer, explain_conflict
    from .resolve.lockfile import render_lock
    from .resolve.resolver import MARKER_ERRORS, resolve
    from .solve_groups import env_pins, roots_of, union_constraints, union_roots

    first = group.members[0]
    interpreter = interpreters[first.name]
    index = session.index(first.index)
    roots = union_roots(group)
    tracer = Tracer()
    session.progress(f"resolving solve group {group.name} ({', '.join(group.names)}) for Python {interpreter.version}")
    try:
        builder = session.builder(first, interpreter)
        pins = resolve(list(roots.requirements), interpreter, index, prereleases=first.index.prereleases,
                       preferred=preferred, constraints=union_constraints(group), reporter=tracer, locked=locked,
                       hashes=None if first.hashes is None else {name: (ok, at) for name, ok, at in first.hashes},
                       sdist_metadata=lambda artifact: sdist_metadata(artifact, builder))
    except ResolutionConflict as error:
        raise explain_conflict(group, error, tracer, roots) from None

    def requires(pin) -> list[Requirement]:
        # The resolver recorded each pin's Requires-Dist (from its metadata or the old lock): no second read.
        lines = pin.requires if pin.requires is not None else parse_email(index.metadata(pin.artifact))[0].get(
            "requires_dist", [])
        found = []
        for text in lines:
            try:
                found.append(Requirement(text))
            except InvalidRequirement:
                continue  # as the resolver does: a malformed line in someone's metadata is skipped
        return found

    def applies(requirement: Requirement, extra: str) -> bool:
        if requirement.marker is None:
            return True
        try:
            return requirement.marker.evaluate({**interpreter.markers, "extra": extra})
        except MARKER_ERRORS:
            return False

    states = {}
    for member in group.members:
        own = env_pins(roots_of(member), pins, requires, applies)
        text = render_lock(member, interpreters[member.name], own, digest, session.config.directory)
        path = paths[member.name]
        states[member.name] = Resolution(Desired(member, interpreters[member.name], own), path,
                                         lock_write_if_changed(path, text))
    return states


def locked_roots(lock) -> set[str]:
    """The root requirements a lock was made from, as envsync records them (who-required-what)."""
    from collections.abc import Mapping

    roots: set[str] = set()
    for package in lock.document.packages:
        tool = (package.tool or {}).get("envsync")
        required_by = tool.get("required-by") if isinstance(tool, Mapping) else None
        if isinstance(required_by, Mapping) and isinstance(required_by.get("<root>"), str):
            roots.update(text.strip() for text in required_by["<root>"].split(", "))
    return roots


def stale_reason(spec: EnvSpec, locked: set[str], markers: dict[str, str]) -> str:
    """Why a lock is out of date, naming the file to look at: which requirements were added or
    dropped since it was made, and where the added ones are written (envs.toml, pyproject.toml,
    a requirements file); else the inputs in general."""
    from packaging.markers import UndefinedComparison, UndefinedEnvironmentName

    def applies(requirement) -> bool:
        try:
            return requirement.marker is None or requirement.marker.evaluate({**markers, "extra": ""})
        except (UndefinedComparison, UndefinedEnvironmentName):
            return True

    current = {str(r) for r in spec.requirements}
    added = [(str(r), origin) for r, origin in zip(spec.requirements, spec.origins or [""] * len(spec.requirements),
                                                  strict=False) if str(r) not in locked and applies(r)]
    dropped = sorted(locked - current) if locked else []
    if added or dropped:
        changes = [f"{text} was added ({origin})" if origin else f"{text} was added" for text, origin in added]
        changes += [f"{text} was removed" for text in dropped]
        files = sorted({_file_of(origin) for _, origin in added}) or ["the config"]
        shown = "; ".join(changes[:4]) + ("; ..." if len(changes) > 4 else "")
        return f"is out of date with {' and '.join(files)}: {shown}"
    inputs = ["envs.toml"]
    if any(origin.endswith("in pyproject.toml") for origin in spec.origins):
        inputs.append("pyproject.toml")
    inputs += [file for file, _ in spec.files]
    return f"is out of date with {', '.join(inputs)} (settings, interpreter or files changed)"


def _file_of(origin: str) -> str:
    """The file an origin is in: "group 'test' in pyproject.toml" -> pyproject.toml, "req.txt:3" -> req.txt."""
    if origin.startswith("envs."):
        return "envs.toml"
    if origin.endswith(" in pyproject.toml") or origin == "pyproject.toml":
        return "pyproject.toml"
    return origin.rpartition(":")[0] or origin or "envs.toml"


def similar_to(session: Session, spec: EnvSpec) -> Callable[[str], list[str]]:
    """Did-you-mean for a package no index has: the env's installed packages and the config's
    names first, then the index's project list (fetched only now, when a name was not found)."""
    def similar(name: str) -> list[str]:
        from .resolve.suggest import suggest

        known = {r.name for env in session.config.envs for r in env.requirements}
        known |= set(survey(spec.path).installed)
        return suggest(name, known, spec.index.search_order(), session.index(spec.index).client)

    return similar


def _resolve(session: Session, spec: EnvSpec, interpreter: Interpreter, path: Path, digest: str,
             preferred: dict[NormalizedName, Version], local: dict, locked: dict | None = None, *,
             builder_interpreter: Interpreter | None = None, platform: str | None = None) -> Resolution:
    """Resolve `spec` for `interpreter` (a platform's, when `platform` names one: sources are still
    built by `builder_interpreter`, this machine's)."""
    from packaging.requirements import Requirement

    from .build.wheels import sdist_metadata
    from .resolve.direct import project_requirement, remote_dists
    from .resolve.lockfile import render_lock
    from .resolve.resolver import resolve

    on = f" on {platform}" if platform else ""
    session.progress(f"resolving {spec.name} for Python {interpreter.version}{on}")
    builder = session.builder(spec, builder_interpreter or interpreter)
    direct = {**local, **remote_dists(spec, session.config.directory, lambda: builder, local)}
    requirements = list(spec.requirements)
    if spec.project is not None:
        from packaging.utils import canonicalize_name

        project = next(dist for dist in local.values() if dist.source.url == spec.project.path.as_uri())
        requirements = [r for r in requirements if canonicalize_name(r.name) != project.name]
        requirements.append(project_requirement(spec.project, project))
    requirements += [Requirement(name) for name in spec.seed]
    pins = resolve(requirements, interpreter, session.index(spec.index),
                   prereleases=spec.index.prereleases, preferred=preferred, constraints=spec.constraints,
                   hashes=None if spec.hashes is None else {name: (ok, at) for name, ok, at in spec.hashes},
                   direct=direct, sdist_metadata=lambda artifact: sdist_metadata(artifact, builder), locked=locked,
                   env=spec.name, origins=spec.origins, warn=session.warn, similar=similar_to(session, spec))
    if platform:
        return Resolution(Desired(spec, interpreter, pins), path, None)
    text = render_lock(spec, interpreter, pins, digest, session.config.directory)
    return Resolution(Desired(spec, interpreter, pins), path, lock_write_if_changed(path, text))


def lock_write_if_changed(path: Path, text: str) -> LockWrite | None:
    """The lock to write, or None when the file already holds exactly this text."""
    try:
        unchanged = path.read_text(encoding="utf-8") == text
    except OSError:
        unchanged = False
    return None if unchanged else LockWrite(path, text)


def make_plan(session: Session, names: Sequence[str] = (), mode: LockMode = LockMode.AUTO) -> Plan:
    """The plan for the selected envs (lock writes included), plus removal of envsync envs
    no longer declared when every env is selected."""
    from .solve_groups import SolveGroup, units

    config = session.config
    specs = select_envs(config, names)
    states = desired_states(session, specs, mode)
    plans: list[EnvPlan] = []
    for spec in specs:
        resolution = states[spec.name]
        plan = plan_env(resolution.desired, survey(spec.path, verify=session.refresh), resolution.lock_write)
        hooks = startup_hooks(plan)
        if hooks:
            plan = replace(plan, startup_hooks=hooks)
        plans.append(plan)
    selected = {spec.name for spec in specs}
    group_locks = tuple(state.lock_write for name, state in states.items()
                        if name not in selected and state.lock_write is not None)
    groups = tuple(_group_plan(unit, states) for unit in units(config, specs) if isinstance(unit, SolveGroup))
    removals = undeclared_envs(config) if not names else ()
    stale_locks = orphan_locks((env.name for env in config.envs), _lock_files(config)) if not names else ()
    return Plan(config_path=config.path, envs=tuple(plans), removals=removals, solve_groups=groups,
                group_locks=group_locks, lock_removals=stale_locks)


def _group_plan(group, states: dict[str, Resolution]) -> GroupPlan:
    """What a plan says once per solve group: its envs and the versions more than one of them has."""
    seen: dict[str, tuple[str, int]] = {}
    for name in group.names:
        for package, pin in states[name].desired.pins.items():
            version, count = seen.get(package, (str(pin.version), 0))
            seen[package] = (version, count + 1)
    shared = tuple((package, version) for package, (version, count) in sorted(seen.items()) if count > 1)
    return GroupPlan(group.name, group.names, shared)


def _lock_files(config: Config) -> list[tuple[Path, str | None]]:
    """Every pylock.*.toml beside the config, with the env its [tool.envsync] names (None if none)."""
    import tomllib

    found = []
    for path in config.directory.glob("pylock.*.toml"):
        try:
            tool = tomllib.loads(path.read_text(encoding="utf-8")).get("tool", {}).get("envsync", {})
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, AttributeError):
            continue  # not a lock we can read: not ours to delete
        env = tool.get("env") if isinstance(tool, dict) else None
        found.append((path, env if isinstance(env, str) else None))
    return found


def startup_hooks(plan: EnvPlan) -> tuple[tuple[str, str], ...]:
    """The `.pth` files the plan's installs add, for wheels whose contents the cache already knows.

    (Apply names every hook it installs in any case; the plan can only say what it has seen.)
    """
    from .cache import cache_subdir
    from .install.wheel import cached_wheel

    hooks = []
    for action in plan.actions:
        if action.kind.installs and action.package is not None:
            pin = plan.desired.pins[action.package]
            unpacked = cached_wheel(pin.artifact.sha256, cache_subdir("unpacked")) if pin.artifact.sha256 else None
            hooks += [(hook, f"{pin.name} {pin.version}") for hook in (unpacked.startup_hooks if unpacked else ())]
    return tuple(sorted(hooks))


def undeclared_envs(config: Config) -> tuple[EnvRemoval, ...]:
    """Survey every folder under the env root, and every folder this config's envs were made in
    before (a root since moved, a `path` since dropped); the planner decides which to remove."""
    from .known_envs import known_env_paths

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


def carry_out(session: Session, plan: Plan, report: Report, *, stamp: bool) -> Outcome:
    """Carry out a plan as `apply` does: the envs' changes (reported as events), then the lock
    files, and (with `stamp`, for a plan of the whole config) record the result so the next
    no-op run is fast."""
    from .stamp import forget

    forget(session.config.path)  # until this has finished, nothing is proven in sync
    actions = envs_changed = 0
    if plan.errors or any(env.actions for env in plan.entries):
        from .install.apply import apply_plan

        result = apply_plan(plan, lambda env: session.index(env.desired.spec.index), report)
        actions, envs_changed = result.actions, result.envs_changed
    written = []
    for lock in plan.lock_writes:
        from .resolve.lockfile import write_lock

        write_lock(lock)
        written.append(lock.path)
    for path in plan.lock_removals:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
    from .known_envs import remember_env_paths

    remember_env_paths(session.config.path, (env.path for env in session.config.envs))
    if stamp:
        record_in_sync(session, plan.as_applied())
    return Outcome(actions, envs_changed, tuple(written))


def record_in_sync(session: Session, plan: Plan) -> None:
    """Stamp a whole-config plan that is in sync, so the next no-op run can skip all of this."""
    from .render import env_document, env_header, group_document, group_lines, summary_line
    from .stamp import StampedEnv, record
    from .survey import site_packages

    if plan.has_changes or plan.errors or session.inputs is None:
        return
    stamped = []
    for env in plan.envs:
        folder = site_packages(env.path, env.desired.interpreter.version)
        if folder is None:
            return
        stamped.append(StampedEnv(env.name, str(env.path), env.display_path, env.python or "", str(folder),
                                  f"{env_header(env)}: in sync", env_document(env)))
    groups = [{"name": group.name, "lines": group_lines(plan, group), "document": group_document(group)}
              for group in plan.solve_groups]
    record(session.config.path, session.inputs, session.config.root, stamped, summary_line(plan), plan.summary(),
           groups)
