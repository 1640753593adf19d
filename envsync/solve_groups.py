"""Solve groups: envs resolved together, so every package they share has one version.

A group is resolved once, for one interpreter, from the union of its envs' root
requirements. Each env then keeps only the pins its own roots reach through the
chosen versions' dependencies: `prod` never gains `dev`'s tools, while every package
both have is at the version both locks name.

What is over-approximated: the *versions* of the shared packages are chosen for the
whole group, so a bound (or an extra's dependency, or a constraints file) that only
`dev` brings can move a version `prod` also installs. That is the point of a group;
the *set* of packages each env installs is exact.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from resolvelib import BaseReporter

from .errors import ConfigError, ResolutionConflict
from .model import Config, EnvSpec, Interpreter, Pin

if TYPE_CHECKING:
    from packaging.requirements import Requirement
    from packaging.utils import NormalizedName

ROOT = "<root>"  # as the resolver names the root of the dependency graph in Pin.required_by


@dataclass(frozen=True)
class SolveGroup:
    """One solve group: its name and every env that names it, in config order."""

    name: str
    members: tuple[EnvSpec, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(member.name for member in self.members)


def units(config: Config, specs: Sequence[EnvSpec]) -> list[EnvSpec | SolveGroup]:
    """What to resolve for `specs`: each env without a group alone, each group once with all its envs
    (selected or not: an env of a group can only be resolved with the others), in config order."""
    out: list[EnvSpec | SolveGroup] = []
    seen: set[str] = set()
    for spec in specs:
        if spec.solve_group is None:
            out.append(spec)
        elif spec.solve_group not in seen:
            seen.add(spec.solve_group)
            members = tuple(env for env in config.envs if env.solve_group == spec.solve_group)
            out.append(SolveGroup(spec.solve_group, members))
    return out


def _target(interpreter: Interpreter) -> tuple[str, ...]:
    """What a resolve depends on about an interpreter: its full version, implementation and platform."""
    markers = interpreter.markers
    return (str(interpreter.version), interpreter.implementation,
            *(markers.get(key, "") for key in ("sys_platform", "platform_machine", "platform_system")))


def check_group(config: Config, group: SolveGroup, interpreters: Mapping[str, Interpreter]) -> None:
    """Refuse a group whose envs can't share one resolve: other interpreters, indexes or hashes."""
    file = config.path.name
    names = ", ".join(group.names)
    first = group.members[0]
    targets = {name: _target(interpreters[name]) for name in group.names}
    if len(set(targets.values())) > 1:
        described = "; ".join(f"{name}: Python {interpreters[name].version} "
                              f"({interpreters[name].markers.get('sys_platform', '?')})" for name in group.names)
        raise ConfigError(f"{file}: solve group {group.name!r} mixes interpreters ({described}); its envs "
                          "are resolved together, for one Python version and platform",
                          f"give the envs of solve group {group.name!r} ({names}) the same `python`, "
                          "or take one out of the group")
    for member in group.members[1:]:
        if member.index != first.index:
            raise ConfigError(f"{file}: envs {first.name} and {member.name} of solve group {group.name!r} "
                              "use different index settings (from their requirements files)",
                              "give the envs of one solve group the same index options, or take one out")
        if member.hashes != first.hashes:
            raise ConfigError(f"{file}: envs {first.name} and {member.name} of solve group {group.name!r} "
                              "differ in hash-checking (--hash values in their requirements files)",
                              "give the envs of one solve group the same hashes, or take one out")


def group_digest(group: SolveGroup, digests: Mapping[str, str]) -> str:
    """One input digest for every lock of the group: a change to any env's inputs makes them all stale."""
    document = {"solve-group": group.name, "envs": [[name, digests[name]] for name in group.names]}
    return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class Roots:
    """The group's root requirements, each once, and which envs wrote each (by identity, as the
    resolver hands the same objects back when it explains a conflict)."""

    requirements: tuple[Requirement, ...]
    envs_of: dict[int, tuple[str, ...]]

    def envs(self, requirement: Requirement) -> tuple[str, ...]:
        return self.envs_of.get(id(requirement), ())


def union_roots(group: SolveGroup) -> Roots:
    by_text: dict[str, Requirement] = {}
    envs: dict[str, list[str]] = {}
    for member in group.members:
        for requirement in member.requirements:
            text = str(requirement)
            by_text.setdefault(text, requirement)
            if member.name not in envs.setdefault(text, []):
                envs[text].append(member.name)
    return Roots(tuple(by_text.values()), {id(by_text[text]): tuple(names) for text, names in envs.items()})


def union_constraints(group: SolveGroup) -> tuple[Requirement, ...]:
    """Every env's constraints: they narrow the one version the group's envs share."""
    seen: dict[str, Requirement] = {}
    for member in group.members:
        for constraint in member.constraints:
            seen.setdefault(str(constraint), constraint)
    return tuple(seen.values())


# -- each env's share of the group's pins ---------------------------------------------------------

Applies = Callable[["Requirement", str], bool]


def env_pins(roots: Iterable[Requirement], pins: Mapping[NormalizedName, Pin],
             requires: Callable[[Pin], Sequence[Requirement]], applies: Applies) -> dict[NormalizedName, Pin]:
    """The pins an env's own `roots` reach through the group's chosen versions.

    `requires` gives a pin's Requires-Dist; `applies(requirement, extra)` says whether its marker
    holds on the target interpreter with that extra active ("" for none). Extras are followed only
    where this env asks for them, so another env's `pkg[extra]` adds nothing here. The pins'
    dependency edges and reasons are cut to this env's graph, so `tree` on its lock is true.
    """
    from packaging.utils import canonicalize_name

    roots = [root for root in roots if applies(root, "")]
    root_texts: dict[str, list[str]] = {}
    todo: list[tuple[NormalizedName, frozenset[str]]] = []
    for root in roots:
        name = canonicalize_name(root.name)
        root_texts.setdefault(name, []).append(str(root))
        todo.append((name, frozenset(root.extras)))
    seen: set[tuple[str, str]] = set()
    children: dict[str, set[NormalizedName]] = {}
    parents: dict[str, set[str]] = {name: {ROOT} for name in root_texts}
    while todo:
        name, extras = todo.pop()
        pin = pins.get(name)
        if pin is None:
            continue
        for extra in ("", *sorted(extras)):
            if (name, extra) in seen:
                continue
            seen.add((name, extra))
            for requirement in requires(pin):
                if not applies(requirement, extra):
                    continue
                child = canonicalize_name(requirement.name)
                if child != name:
                    children.setdefault(name, set()).add(child)
                    parents.setdefault(child, set()).add(name)
                todo.append((child, frozenset(requirement.extras)))
    reached = {name for name, _ in seen}
    out: dict[NormalizedName, Pin] = {}
    for name in sorted(reached):
        pin = pins[name]
        reasons = [(who, text) for who, text in pin.reasons if who != ROOT and who in parents.get(name, ())]
        if name in root_texts:
            reasons.append((ROOT, ", ".join(dict.fromkeys(root_texts[name]))))
        out[name] = replace(pin, required_by=tuple(sorted(parents.get(name, ()))),
                            dependencies=tuple(sorted(children.get(name, ()))),
                            reasons=tuple(sorted(reasons)))
    return out


# -- conflicts, told in terms of envs -------------------------------------------------------------

class Tracer(BaseReporter):
    """Remembers who asked for each package during a resolve, to tell a conflict's story by env."""

    def __init__(self) -> None:
        self.asked: dict[str, list[tuple[str | None, Requirement]]] = {}

    def adding_requirement(self, requirement, parent) -> None:
        from packaging.utils import canonicalize_name

        entries = self.asked.setdefault(canonicalize_name(requirement.name), [])
        entry = (None if parent is None else str(parent.name), requirement)
        if all(entry[0] != known[0] or entry[1] is not known[1] for known in entries):
            entries.append(entry)

    def chain(self, parent: str, roots: Roots) -> tuple[tuple[str, ...], list[Requirement]] | None:
        """The envs and the requirements, root first, by which `parent` came into the resolve."""
        from packaging.utils import canonicalize_name

        visiting = {canonicalize_name(parent)}
        paths: list[tuple[str, list[Requirement]]] = [(canonicalize_name(parent), [])]
        while paths:
            name, below = paths.pop(0)
            entries = self.asked.get(name, [])
            for who, requirement in entries:
                if who is None and roots.envs(requirement):
                    return roots.envs(requirement), [requirement, *below]
            for who, requirement in entries:
                if who is not None and canonicalize_name(who) not in visiting:
                    visiting.add(canonicalize_name(who))
                    paths.append((canonicalize_name(who), [requirement, *below]))
        return None


def _causes(error: BaseException) -> list:
    """The resolvelib causes behind a resolver error, if it was raised while handling them."""
    seen = error
    while seen is not None:
        causes = getattr(seen, "causes", None)
        if isinstance(causes, list):
            return causes
        seen = seen.__cause__ or seen.__context__
    return []


def _who(envs: Sequence[str]) -> str:
    return " and ".join(f"`{name}`" for name in envs) + (" need" if len(envs) > 1 else " needs")


def explain_conflict(group: SolveGroup, error: ResolutionConflict, tracer: Tracer, roots: Roots) -> ResolutionConflict:
    """The resolver's conflict retold by env: who needs what, through which packages."""
    stories: list[str] = []
    envs: list[str] = []
    for cause in _causes(error):
        requirement, parent = cause.requirement, cause.parent
        if parent is None:
            found = (roots.envs(requirement), [requirement]) if roots.envs(requirement) else None
        else:
            found = tracer.chain(str(parent.name), roots)
            if found is not None:
                found = (found[0], [*found[1], requirement])
        if found is None:
            continue
        names, path = found
        story = f"{_who(names)} `{path[0]}`" + "".join(f", which needs `{step}`" for step in path[1:])
        if story not in stories:
            stories.append(story)
            envs += [name for name in names if name not in envs]
    involved = ", ".join(envs) if envs else ", ".join(group.names)
    told = "; ".join(stories) if stories else "the envs' requirements conflict"
    return ResolutionConflict(
        f"solve group {group.name!r} (envs {', '.join(group.names)}) cannot be resolved together: {told}\n"
        f"  ({error.message})",
        f"move one of {involved} out of solve group {group.name!r} (drop its solve-group line), "
        "or relax one of these bounds",
    )
