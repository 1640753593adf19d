"""A solve group resolved: the union of its envs' roots resolved once, each env given the pins its
own roots reach. Whether to resolve at all (fresh locks, --locked, --frozen) is decided in
desired.py, by the one policy every env goes through."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from envsync.model import Desired, Interpreter
from envsync.state.desired import Resolution, lock_write_if_changed
from envsync.state.session import Session

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from packaging.utils import NormalizedName
    from packaging.version import Version

    from envsync.model import Pin
    from envsync.resolve.lockfile import LockFile
    from envsync.resolve.platforms import Target
    from envsync.sources.base import DirectDist
    from envsync.state.solve_groups import SolveGroup


def resolve_group(session: Session, group: SolveGroup, interpreters: dict[str, Interpreter], paths: dict[str, Path],
                  digest: str, preferred: dict[NormalizedName, Version],
                  local: Mapping[str, Mapping[NormalizedName, DirectDist]] | None = None,
                  locked: dict[NormalizedName, Pin] | None = None,
                  likely: Sequence[NormalizedName] = ()) -> dict[str, Resolution]:
    """Resolve the union of the group's roots once, then give each env the pins its own roots reach.
    `local`: each env's local projects and folders, read already (desired._local); the envs' other
    direct references are read here, as for an env resolved alone."""
    from envsync.resolve.lockfile import lock_text, render_lock

    interpreter = interpreters[group.members[0].name]
    shares = _shares(session, group, interpreter, interpreter, preferred, local or {}, locked, likely)
    states = {}
    for member in group.members:
        own, path = shares[member.name], paths[member.name]
        previous = lock_text(path)
        text = render_lock(member, interpreters[member.name], own, digest, session.config.directory, previous)
        states[member.name] = Resolution(Desired(member, interpreters[member.name], own), path,
                                         lock_write_if_changed(path, text, previous))
    return states


def resolve_group_platforms(session: Session, group: SolveGroup, interpreter: Interpreter, paths: dict[str, Path],
                            digest: str, preferred: dict[NormalizedName, Version],
                            local: Mapping[str, Mapping[NormalizedName, DirectDist]], locks: Mapping[str, LockFile | None],
                            here: bool, likely: Sequence[NormalizedName] = ()) -> dict[str, Resolution]:
    """A group whose envs are locked for several platforms (one `environments`, check_group): the
    union of their roots resolved on each platform as an env alone is (desired.per_platform), and
    each env's lock made of its own share on every platform."""
    from envsync.errors import EnvsyncError
    from envsync.resolve.platforms import targets
    from envsync.state.desired import per_platform, platform_resolution

    first = group.members[0]
    chosen = targets(first.environments, interpreter, f"{session.config.path.name}: {first.environments_key}")
    session.index(first.index).serve(tag for target in chosen for tag in target.interpreter.tags)

    def resolve_on(target: Target, preferences: dict[NormalizedName, Version],
                   locked: dict[NormalizedName, Pin]) -> dict[str, dict[NormalizedName, Pin]]:
        try:
            return _shares(session, group, target.interpreter, interpreter, preferences, local, locked, likely,
                           on=target.platform.label)
        except EnvsyncError as error:
            label = f"{target.platform.label} ({target.environment!r} in {first.environments_key})"
            raise type(error)(f"{error.message} (on {label})", error.hint) from None

    resolved = per_platform(chosen, preferred, list(locks.values()), resolve_on)
    labels = tuple(target.platform.label for target in chosen)
    return {m.name: platform_resolution(session, m, interpreter, paths[m.name], resolved[m.name], digest,
                                        dict(local.get(m.name, {})), here, labels) for m in group.members}


def _shares(session: Session, group: SolveGroup, interpreter: Interpreter, builder_interpreter: Interpreter,
            preferred: dict[NormalizedName, Version], local: Mapping[str, Mapping[NormalizedName, DirectDist]],
            locked: dict[NormalizedName, Pin] | None, likely: Sequence[NormalizedName],
            on: str | None = None) -> dict[str, dict[NormalizedName, Pin]]:
    """The union of the group's roots resolved for `interpreter` (a platform's, when `on` names one;
    sources are built by `builder_interpreter`, this machine's), and each env's share of the pins."""
    from packaging.requirements import Requirement

    from envsync.errors import ResolutionConflict
    from envsync.files.metadata import multiple_use_field, valid_requirements
    from envsync.resolve.markers import marker_holds
    from envsync.resolve.resolver import resolve
    from envsync.sources import env_roots, remote_dists
    from envsync.state.group_conflicts import Tracer, explain_conflict
    from envsync.state.solve_groups import env_pins, own_sources, union_constraints, union_direct, union_roots

    first = group.members[0]
    index = session.index(first.index)
    own_roots = {m.name: env_roots(m, local.get(m.name, {})) for m in group.members}
    roots = union_roots(group, own_roots)
    tracer = Tracer()
    platform = f" on {on}" if on else ""
    session.progress(f"resolving solve group {group.name} ({', '.join(group.names)}) for Python "
                     f"{interpreter.version}{platform}")
    builds = session.builds_on_demand(first, builder_interpreter)  # the group's envs share index settings (check_group)
    directory = session.config.directory
    dists = {m.name: {**local.get(m.name, {}), **remote_dists(m, directory, builds.builder, local.get(m.name, {}))}
             for m in group.members}
    direct = union_direct(session.config, group, dists)
    try:
        pins = resolve(list(roots.requirements), interpreter, index, prereleases=first.index.prereleases,
                       preferred=preferred, constraints=union_constraints(group), reporter=tracer, locked=locked,
                       direct=direct,
                       hashes=None if first.hashes is None else {name: (ok, at) for name, ok, at in first.hashes},
                       sdist_metadata=builds.sdist_metadata,
                       origins=[roots.origin(requirement) for requirement in roots.requirements],
                       warn=session.warn, likely=likely)
    except ResolutionConflict as error:
        raise explain_conflict(group, error, tracer, roots) from None

    def requires(pin: Pin) -> list[Requirement]:
        # The resolver recorded each pin's Requires-Dist (from its metadata or the old lock): no second read.
        if pin.name in direct:
            return list(direct[pin.name].requires)
        lines: Sequence[str]
        if pin.requires is not None:
            lines = pin.requires
        else:
            assert pin.artifact is not None  # a pin with neither recorded requires nor a file has no metadata to read
            lines = multiple_use_field(index.metadata(pin.artifact), "requires_dist")
        return valid_requirements(lines)  # as the resolver reads them

    def applies(requirement: Requirement, extra: str) -> bool:  # as the resolver reads a dependency's marker
        return marker_holds(requirement.marker, interpreter.markers, extra=extra, if_unevaluable=False)

    return {member.name: own_sources(env_pins(own_roots[member.name], pins, requires, applies), dists[member.name])
            for member in group.members}
