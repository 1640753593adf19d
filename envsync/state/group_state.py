"""A solve group's desired state: every env of the group from its lock when all the group's
locks are fresh, else the group resolved once and each env given the pins its own roots reach."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from envsync.config.paths import lock_path
from envsync.errors import LockError
from envsync.model import Desired, Interpreter
from envsync.state.desired import LockMode, Resolution, Upgrade, frozen_state, lock_pins, lock_write_if_changed
from envsync.state.session import Session

if TYPE_CHECKING:
    from packaging.utils import NormalizedName
    from packaging.version import Version


def group_state(session: Session, group, mode: LockMode, upgrade: Upgrade) -> dict[str, Resolution]:
    """A solve group's envs: from their locks when every one of them is fresh, else resolved together."""
    from envsync.resolve.lockfile import check_hashes, input_digest, pins_from_lock, read_lock
    from envsync.state.solve_groups import group_digest

    config = session.config
    interpreters = {m.name: session.interpreter(m.python) for m in group.members}
    paths = {m.name: lock_path(config.path, m.name) for m in group.members}
    locks = {m.name: read_lock(paths[m.name]) for m in group.members}
    if mode is LockMode.FROZEN:
        return {m.name: frozen_state(m, interpreters[m.name], paths[m.name], locks[m.name]) for m in group.members}
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
                for name, pin in lock_pins(lock, interpreters[m.name]).items():
                    if preferred.get(name) == pin.version:
                        locked.setdefault(name, pin)
    return _resolve_group(session, group, interpreters, paths, digest, preferred, locked)


def _resolve_group(session: Session, group, interpreters: dict[str, Interpreter], paths: dict[str, Path],
                   digest: str, preferred: dict[NormalizedName, Version],
                   locked: dict | None = None) -> dict[str, Resolution]:
    """Resolve the union of the group's roots once, then give each env the pins its own roots reach."""
    from packaging.metadata import parse_email
    from packaging.requirements import InvalidRequirement, Requirement

    from envsync.build.wheels import sdist_metadata
    from envsync.errors import ResolutionConflict
    from envsync.resolve.lockfile import render_lock
    from envsync.resolve.markers import marker_holds
    from envsync.resolve.resolver import resolve
    from envsync.state.group_conflicts import Tracer, explain_conflict
    from envsync.state.solve_groups import env_pins, roots_of, union_constraints, union_roots

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

    def applies(requirement: Requirement, extra: str) -> bool:  # as the resolver reads a dependency's marker
        return marker_holds(requirement.marker, interpreter.markers, extra=extra, if_unevaluable=False)

    states = {}
    for member in group.members:
        own = env_pins(roots_of(member), pins, requires, applies)
        text = render_lock(member, interpreters[member.name], own, digest, session.config.directory)
        path = paths[member.name]
        states[member.name] = Resolution(Desired(member, interpreters[member.name], own), path,
                                         lock_write_if_changed(path, text))
    return states
