"""What each env should hold: its pins from a fresh lock, or resolved (and the lock to write).

`desired_state` decides between the lock and the index for one env (once per platform for an
env with `environments`); `desired_states` does it for several, resolving each solve group
once (see group_state.py). `plan`, `apply`, `lock` and the commands that show a lock use it.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from envsync.config.paths import lock_path
from envsync.errors import LockError
from envsync.model import Desired, EnvSpec, Interpreter, LockWrite
from envsync.state.session import Session, similar_to

if TYPE_CHECKING:
    from packaging.utils import NormalizedName
    from packaging.version import Version


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
    from envsync.resolve.lockfile import check_hashes, input_digest, pins_from_lock, read_lock

    if spec.solve_group is not None:
        return desired_states(session, [spec], mode, upgrade, here=here)[spec.name]

    config = session.config
    interpreter = session.interpreter(spec.python)
    path = lock_path(config.path, spec.name)
    lock = read_lock(path)
    if mode is LockMode.FROZEN:
        return frozen_state(spec, interpreter, path, lock)
    local = {}
    if spec.project is not None or any(r.url for r in spec.requirements):
        from envsync.resolve.direct import local_dists

        local = local_dists(spec, config.directory, lambda: session.builder(spec, interpreter))
    digest = input_digest(spec, interpreter, config.directory, local)
    upgrading = upgrade.everything or bool(upgrade.packages)
    # A lock for several platforms is judged by its inputs alone: it is the same lock on all of them.
    usable = lock is not None and (lock.valid_for(interpreter) or bool(spec.environments))
    if lock is not None and usable and lock.digest == digest and not upgrading:
        labels: tuple[str, ...] = ()
        if spec.environments:
            from envsync.resolve.platforms import labels_of

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
        locked = {name: pin for name, pin in lock_pins(lock, interpreter).items() if name in preferred}
    if spec.environments:
        return _resolve_platforms(session, spec, interpreter, path, digest, preferred, local,
                                  lock if usable else None, here)
    return _resolve(session, spec, interpreter, path, digest, preferred, local, locked)


def _unserved(spec: EnvSpec, interpreter: Interpreter, path: Path, here: bool) -> Resolution:
    """An env whose lock does not serve this machine: an error where it would be installed."""
    if not here:
        return Resolution(Desired(spec, interpreter, {}), path, None)
    from envsync.resolve.platforms import platform_of

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
    from envsync.errors import EnvsyncError
    from envsync.resolve.lockfile import check_hashes, lock_from_document, pins_from_lock, render_platform_lock
    from envsync.resolve.platforms import targets

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
            locked = {name: pin for name, pin in lock_pins(lock, target.interpreter).items()
                      if preferences.get(name) == pin.version}
        try:
            resolution = _resolve(session, spec, target.interpreter, path, digest, preferences, local, locked,
                                  builder_interpreter=interpreter, platform=target.platform.label)
        except EnvsyncError as error:
            # The resolver's message names the env already; say it once, with the platform.
            message = error.message.removeprefix(f"env {spec.name}: ")
            raise type(error)(f"env {spec.name} on {label}: {message}", error.hint) from None
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


def lock_pins(lock, interpreter: Interpreter) -> dict:
    """The old lock's pins, to be kept without asking the index while they fit; none if it can't give them
    (a lock without a wheel for this interpreter is simply re-resolved, as before)."""
    from envsync.resolve.lockfile import pins_from_lock

    try:
        return pins_from_lock(lock, interpreter)
    except LockError:
        return {}


def frozen_state(spec: EnvSpec, interpreter: Interpreter, path: Path, lock) -> Resolution:
    """The env's pins from its lock as it is (--frozen): never resolved, never rewritten."""
    from envsync.resolve.lockfile import check_hashes, pins_from_lock

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
    from envsync.state.group_state import group_state
    from envsync.state.solve_groups import SolveGroup, check_group, units

    todo = units(session.config, specs)
    for unit in todo:
        if isinstance(unit, SolveGroup):
            check_group(session.config, unit, {m.name: session.interpreter(m.python) for m in unit.members})
    states: dict[str, Resolution] = {}
    for unit in todo:
        if isinstance(unit, SolveGroup):
            states.update(group_state(session, unit, mode, upgrade))
        else:
            states[unit.name] = desired_state(session, unit, mode, upgrade, here=here)
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


def _resolve(session: Session, spec: EnvSpec, interpreter: Interpreter, path: Path, digest: str,
             preferred: dict[NormalizedName, Version], local: dict, locked: dict | None = None, *,
             builder_interpreter: Interpreter | None = None, platform: str | None = None) -> Resolution:
    """Resolve `spec` for `interpreter` (a platform's, when `platform` names one: sources are still
    built by `builder_interpreter`, this machine's)."""
    from packaging.requirements import Requirement

    from envsync.build.wheels import sdist_metadata
    from envsync.resolve.direct import project_requirement, remote_dists
    from envsync.resolve.lockfile import render_lock
    from envsync.resolve.resolver import resolve

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
