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
    from packaging.requirements import Requirement

    from envsync.errors import ResolutionConflict
    from envsync.files.metadata import multiple_use_field, valid_requirements
    from envsync.resolve.lockfile import lock_text, render_lock
    from envsync.resolve.markers import marker_holds
    from envsync.resolve.resolver import resolve
    from envsync.sources import env_roots, remote_dists
    from envsync.state.group_conflicts import Tracer, explain_conflict
    from envsync.state.solve_groups import env_pins, own_sources, union_constraints, union_direct, union_roots

    first = group.members[0]
    interpreter = interpreters[first.name]
    index = session.index(first.index)
    local = local or {}
    own_roots = {m.name: env_roots(m, local.get(m.name, {})) for m in group.members}
    roots = union_roots(group, own_roots)
    tracer = Tracer()
    session.progress(f"resolving solve group {group.name} ({', '.join(group.names)}) for Python {interpreter.version}")
    builds = session.builds_on_demand(first, interpreter)  # the group's envs share index settings (check_group)
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

    states = {}
    for member in group.members:
        own = own_sources(env_pins(own_roots[member.name], pins, requires, applies), dists[member.name])
        path = paths[member.name]
        previous = lock_text(path)
        text = render_lock(member, interpreters[member.name], own, digest, directory, previous)
        states[member.name] = Resolution(Desired(member, interpreters[member.name], own), path,
                                         lock_write_if_changed(path, text, previous))
    return states
