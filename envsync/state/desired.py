"""What each env should hold: its pins from a fresh lock, or resolved (and the lock to write).

`desired_state` decides between the lock and the index for one env (once per platform for an
env with `environments`); `desired_states` does it for several, resolving each solve group
once (see group_state.py). `plan`, `apply`, `lock` and the commands that show a lock use it.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from envsync.config.paths import lock_path
from envsync.errors import LockError
from envsync.model import Desired, EnvSpec, Interpreter, LockWrite
from envsync.state.session import Session, similar_to

if TYPE_CHECKING:
    from collections.abc import Callable

    from packaging.utils import NormalizedName
    from packaging.version import Version

    from envsync.model import Pin
    from envsync.resolve.lockfile import LockFile
    from envsync.resolve.platforms import Target
    from envsync.sources.base import DirectDist
    from envsync.state.solve_groups import SolveGroup


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


# How an env's lock stood when its desired state was taken.
FRESH, STALE, MISSING = "fresh", "stale", "missing"


@dataclass(frozen=True)
class Resolution:
    """An env's desired state, and the lock to write when the lock on disk differs from it."""

    desired: Desired
    lock_path: Path
    lock_write: LockWrite | None
    platforms: tuple[str, ...] = ()  # a lock for several platforms: the ones it was resolved for
    lock_state: str = FRESH  # the lock on disk: FRESH (used as it is), STALE or MISSING


def desired_state(session: Session, spec: EnvSpec, mode: LockMode = LockMode.AUTO,
                  upgrade: Upgrade = Upgrade(), *, here: bool = True) -> Resolution:
    """The pins for `spec`: from its lock when that is fresh (or frozen), else resolved (with the
    other envs of its solve group, if it has one: prefer `desired_states` wherever locks are
    written, which also returns their lock writes)."""
    return desired_states(session, [spec], mode, upgrade, here=here)[spec.name]


def desired_states(session: Session, specs: Sequence[EnvSpec], mode: LockMode = LockMode.AUTO,
                   upgrade: Upgrade = Upgrade(), *, here: bool = True) -> dict[str, Resolution]:
    """The desired state of every env in `specs`, and of every other env of their solve groups.

    Every env goes through one lock-or-resolve policy (`_unit_states`): an env without a group is
    a group of one. A group is resolved once for all its envs, selected or not, because its locks
    are made and written together. Every group is checked (one interpreter, one set of index
    settings) before anything is resolved. An env whose lock serves several platforms
    (`environments`) must be applied on one of them; with `here=False` (writing or reading locks
    only) this machine may be any, and its pins here are left empty.
    """
    from envsync.state.solve_groups import SolveGroup, check_group, units

    todo = units(session.config, specs)
    session.find_interpreters_ahead(member.python for unit in todo
                                    for member in (unit.members if isinstance(unit, SolveGroup) else (unit,)))
    for unit in todo:
        if isinstance(unit, SolveGroup):
            check_group(session.config, unit, {m.name: session.interpreter(m.python) for m in unit.members})
    states: dict[str, Resolution] = {}
    for unit in todo:
        if isinstance(unit, SolveGroup):
            states.update(_unit_states(session, unit.members, unit, mode, upgrade, here))
        else:  # an env without a group is a group of one
            states.update(_unit_states(session, (unit,), None, mode, upgrade, here))
    return states


def _unit_states(session: Session, members: tuple[EnvSpec, ...], group: SolveGroup | None, mode: LockMode, upgrade: Upgrade,
                 here: bool) -> dict[str, Resolution]:
    """The one lock-or-resolve policy, for a solve group or a lone env (`group` None): every lock
    from disk when each is fresh, else an error under --locked, else resolved (keeping the old
    locks' versions where they still fit) and the locks to write returned."""
    from envsync.resolve.lockfile import input_digest, read_lock
    from envsync.state.solve_groups import group_digest

    config = session.config
    paths = {m.name: lock_path(config.path, m.name) for m in members}
    if mode is not LockMode.FROZEN and (upgrade.everything or upgrade.packages
                                        or not all(path.exists() for path in paths.values())):
        _resolve_soon()
    try:
        locks = {m.name: read_lock(paths[m.name]) for m in members}  # while the interpreters are probed
    finally:  # a missing interpreter is reported before a broken lock, as when it was found first
        interpreters = {m.name: session.interpreter(m.python) for m in members}
    local = {m.name: _local(session, m, interpreters[m.name]) for m in members}
    if mode is LockMode.FROZEN:
        return {m.name: frozen_state(m, interpreters[m.name], paths[m.name], locks[m.name], local[m.name])
                for m in members}
    digests = {m.name: input_digest(m, interpreters[m.name], config.directory, local[m.name]) for m in members}
    digest = group_digest(group, digests) if group is not None else digests[members[0].name]

    def usable(m: EnvSpec) -> bool:
        # A lock for several platforms is judged by its inputs alone: it is the same lock on all of them.
        lock = locks[m.name]
        return lock is not None and (lock.valid_for(interpreters[m.name]) or bool(m.environments))

    states = {m.name: MISSING if (lock := locks[m.name]) is None else FRESH if usable(m) and lock.digest == digest
              else STALE for m in members}
    if all(state == FRESH for state in states.values()) and not (upgrade.everything or upgrade.packages):
        return {m.name: _from_lock(m, interpreters[m.name], paths[m.name], locks[m.name], local[m.name], here)
                for m in members}
    if mode is LockMode.LOCKED:
        from envsync.state.staleness import locked_error

        raise locked_error(group, members, paths, locks, states, local, interpreters, config.directory)
    _resolve_soon()
    preferred: dict[NormalizedName, Version] = {}
    locked: dict[NormalizedName, Pin] = {}
    if not upgrade.everything:
        for m in members:
            lock = locks[m.name]
            if lock is not None and usable(m):
                for name, version in lock.versions().items():
                    if name not in upgrade.packages:
                        preferred.setdefault(name, version)
                for name, pin in lock_pins(lock, interpreters[m.name]).items():
                    if preferred.get(name) == pin.version:
                        locked.setdefault(name, pin)
    # Whatever the old locks named is likely needed again (all of it under --upgrade): asked for ahead.
    likely = [name for lock in locks.values() if lock is not None for name in lock.versions()]
    if group is not None and group.members[0].environments:  # one `environments` for them all (check_group)
        from envsync.state.group_state import resolve_group_platforms

        first = group.members[0]
        resolved = resolve_group_platforms(session, group, interpreters[first.name], paths, digest, preferred, local,
                                           {m.name: locks[m.name] if usable(m) else None for m in members}, here,
                                           likely)
    elif group is not None:
        from envsync.state.group_state import resolve_group

        resolved = resolve_group(session, group, interpreters, paths, digest, preferred, local, locked, likely)
    else:
        spec = members[0]
        if spec.environments:
            resolution = _resolve_platforms(session, spec, interpreters[spec.name], paths[spec.name], digest,
                                            preferred, local[spec.name],
                                            locks[spec.name] if usable(spec) else None, here, likely)
        else:
            resolution = _resolve(session, spec, interpreters[spec.name], paths[spec.name], digest, preferred,
                                  local[spec.name], locked, likely=likely)
        resolved = {spec.name: resolution}
    return {name: replace(resolution, lock_state=states[name]) for name, resolution in resolved.items()}


def _resolve_soon() -> None:
    """A resolve follows (asked to upgrade, a lock missing or stale): the index client's TLS context
    is made meanwhile, in a thread (resolve/connect.py), rather than when the first page is asked for."""
    from envsync.resolve.connect import prepare_tls

    prepare_tls()


def _local(session: Session, spec: EnvSpec, interpreter: Interpreter) -> dict[NormalizedName, DirectDist]:
    """The env's project and local folder references, their metadata read now (see envsync.sources)."""
    if not spec.projects and not any(r.url for r in spec.requirements):
        return {}
    from envsync.sources import local_dists
    from envsync.sources.folder import check_local_versions

    local = local_dists(spec, session.config.directory, lambda: session.builder(spec, interpreter))
    check_local_versions(spec, local, interpreter.markers, session.config.directory)
    return local


def _from_lock(spec: EnvSpec, interpreter: Interpreter, path: Path, lock: LockFile | None, local: dict[NormalizedName, DirectDist], here: bool) -> Resolution:
    """The env's pins from its fresh lock, its local projects' metadata as they are now."""
    assert lock is not None  # a fresh lock exists
    from envsync.resolve.lockfile import check_hashes, pins_from_lock

    labels: tuple[str, ...] = ()
    if spec.environments:
        from envsync.resolve.platforms import labels_of

        labels = labels_of(lock.platforms)
        if not lock.valid_for(interpreter):
            return replace(_unserved(spec, interpreter, path, here), platforms=labels)
    pins = check_hashes(spec, lock, pins_from_lock(lock, interpreter, local))
    pins.update(with_local(pins, local))
    return Resolution(Desired(spec, interpreter, pins), path, None, labels)


def with_local(pins: dict[NormalizedName, Pin], local: dict[NormalizedName, DirectDist]) -> dict[NormalizedName, Pin]:
    """The locked pins of the env's local projects, their metadata as it is now (the version a
    build gives today), keeping the lock's dependency edges and reasons, so `tree` hangs the
    project's dependencies under it."""
    return {name: replace(dist.pin(), dependencies=pins[name].dependencies, reasons=pins[name].reasons)
            for name, dist in local.items() if name in pins}


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
                       preferred: dict[NormalizedName, Version], local: dict[NormalizedName, DirectDist], lock: LockFile | None, here: bool,
                       likely: Sequence[NormalizedName] = ()) -> Resolution:
    """Resolve the env for every platform its `environments` name (see `per_platform`) and write one
    lock for them all; the pins for this machine are read back from the lock's text, exactly as a
    later run reads it."""
    from envsync.errors import EnvsyncError
    from envsync.resolve.platforms import targets

    chosen = targets(spec.environments, interpreter, f"{session.config.path.name}: {spec.environments_key}")
    session.index(spec.index).serve(tag for target in chosen for tag in target.interpreter.tags)

    def resolve_on(target: Target, preferences: dict[NormalizedName, Version],
                   locked: dict[NormalizedName, Pin]) -> dict[str, dict[NormalizedName, Pin]]:
        try:
            resolution = _resolve(session, spec, target.interpreter, path, digest, preferences, local, locked,
                                  builder_interpreter=interpreter, platform=target.platform.label, likely=likely)
        except EnvsyncError as error:
            # The resolver's message names the env already; say it once, with the platform.
            label = f"{target.platform.label} ({target.environment!r} in {spec.environments_key})"
            message = error.message.removeprefix(f"env {spec.name}: ")
            raise type(error)(f"env {spec.name} on {label}: {message}", error.hint) from None
        return {spec.name: resolution.desired.pins}

    resolved = per_platform(chosen, preferred, [lock], resolve_on)
    return platform_resolution(session, spec, interpreter, path, resolved[spec.name], digest, local, here,
                               tuple(target.platform.label for target in chosen))


def per_platform(chosen: Sequence[Target], preferred: dict[NormalizedName, Version], locks: Sequence[LockFile | None],
                 resolve_on: Callable[[Target, dict[NormalizedName, Version], dict[NormalizedName, Pin]],
                                      dict[str, dict[NormalizedName, Pin]]],
                 ) -> dict[str, list[tuple[Target, dict[NormalizedName, Pin]]]]:
    """Each env's pins on each platform, for an env alone or a solve group (`resolve_on` gives each
    env's pins on a target, with preferences and the old locks' pins to keep).

    The platforms are resolved in declared order, each preferring the version the first platform
    that needed a package chose (then the old locks'), so they share one version wherever it fits;
    an old pin is kept without asking the index while it is the preferred version."""
    preferences = dict(preferred)
    first_choice: dict[NormalizedName, Version] = {}  # the version the first platform to need a package chose
    resolved: dict[str, list[tuple[Target, dict[NormalizedName, Pin]]]] = {}
    for target in chosen:
        locked: dict[NormalizedName, Pin] = {}
        for lock in locks:
            if lock is not None:
                for name, pin in lock_pins(lock, target.interpreter).items():
                    if preferences.get(name) == pin.version:
                        locked.setdefault(name, pin)
        for env, pins in resolve_on(target, preferences, locked).items():
            for pin in pins.values():
                first_choice.setdefault(pin.name, pin.version)
            resolved.setdefault(env, []).append((target, pins))
        preferences = {**preferred, **first_choice}
    return resolved


def platform_resolution(session: Session, spec: EnvSpec, interpreter: Interpreter, path: Path,
                        resolved: Sequence[tuple[Target, Mapping[NormalizedName, Pin]]], digest: str,
                        local: dict[NormalizedName, DirectDist], here: bool, labels: tuple[str, ...]) -> Resolution:
    """The lock for every platform in `resolved` (each with the env's pins there), and this machine's
    pins read back from its text, exactly as a later run reads them."""
    from envsync.resolve.lockfile import check_hashes, lock_from_text, lock_text, pins_from_lock, render_platform_lock

    previous = lock_text(path)
    text = render_platform_lock(spec, interpreter, resolved, digest, session.config.directory, previous)
    write = lock_write_if_changed(path, text, previous)
    written = lock_from_text(path, text)
    if not written.valid_for(interpreter):
        return replace(_unserved(spec, interpreter, path, here), lock_write=write, platforms=labels)
    pins = check_hashes(spec, written, pins_from_lock(written, interpreter, local))
    pins.update(with_local(pins, local))
    return Resolution(Desired(spec, interpreter, pins), path, write, labels)


def lock_pins(lock: LockFile, interpreter: Interpreter) -> dict[NormalizedName, Pin]:
    """The old lock's pins, to be kept without asking the index while they fit; none if it can't give them
    (a lock without a wheel for this interpreter is simply re-resolved, as before)."""
    from envsync.resolve.lockfile import pins_from_lock

    try:
        return pins_from_lock(lock, interpreter, strict=False)
    except LockError:
        return {}


def frozen_state(spec: EnvSpec, interpreter: Interpreter, path: Path, lock: LockFile | None, local: dict[NormalizedName, DirectDist] | None = None) -> Resolution:
    """The env's pins from its lock as it is (--frozen): never resolved, never rewritten. A local
    project's version is its folder's (`local`): PEP 751 locks a source tree without one."""
    from envsync.resolve.lockfile import check_hashes, pins_from_lock

    if lock is None:
        raise LockError(f"{path.name} does not exist, and --frozen installs only from a lock",
                        f"run `envsync lock {spec.name}` first, or drop --frozen")
    if spec.environments and not lock.valid_for(interpreter):
        return _unserved(spec, interpreter, path, here=True)
    if not lock.valid_for(interpreter):
        raise LockError(f"{path.name} was not made for Python {interpreter.version} on this platform",
                        f"run `envsync lock {spec.name}` on this machine")
    return Resolution(Desired(spec, interpreter, check_hashes(spec, lock, pins_from_lock(lock, interpreter, local))),
                      path, None)


def _resolve(session: Session, spec: EnvSpec, interpreter: Interpreter, path: Path, digest: str,
             preferred: dict[NormalizedName, Version], local: dict[NormalizedName, DirectDist], locked: dict[NormalizedName, Pin] | None = None, *,
             builder_interpreter: Interpreter | None = None, platform: str | None = None,
             likely: Sequence[NormalizedName] = ()) -> Resolution:
    """Resolve `spec` for `interpreter` (a platform's, when `platform` names one: sources are still
    built by `builder_interpreter`, this machine's)."""
    from envsync.resolve.lockfile import lock_text, render_lock
    from envsync.resolve.resolver import resolve
    from envsync.sources import env_roots, remote_dists

    on = f" on {platform}" if platform else ""
    session.progress(f"resolving {spec.name} for Python {interpreter.version}{on}")
    builds = session.builds_on_demand(spec, builder_interpreter or interpreter)
    direct = {**local, **remote_dists(spec, session.config.directory, builds.builder, local)}
    requirements = env_roots(spec, local)
    pins = resolve(requirements, interpreter, session.index(spec.index),
                   prereleases=spec.index.prereleases, preferred=preferred, constraints=spec.constraints,
                   hashes=None if spec.hashes is None else {name: (ok, at) for name, ok, at in spec.hashes},
                   direct=direct, sdist_metadata=builds.sdist_metadata, locked=locked,
                   env=spec.name, origins=spec.origins, warn=session.warn, similar=similar_to(session, spec),
                   likely=likely)
    if platform:
        return Resolution(Desired(spec, interpreter, pins), path, None)
    previous = lock_text(path)
    text = render_lock(spec, interpreter, pins, digest, session.config.directory, previous)
    return Resolution(Desired(spec, interpreter, pins), path, lock_write_if_changed(path, text, previous))


def lock_write_if_changed(path: Path, text: str, previous: str | None) -> LockWrite | None:
    """The lock to write, or None when the file (`previous`, its text today) already holds exactly this text."""
    return None if text == previous else LockWrite(path, text)
