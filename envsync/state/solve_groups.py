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
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from envsync.errors import ConfigError
from envsync.model import Config, EnvSpec, Interpreter, Pin

if TYPE_CHECKING:
    from packaging.requirements import Requirement
    from packaging.utils import NormalizedName

    from envsync.sources.base import DirectDist

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
        if member.environments != first.environments:
            raise ConfigError(f"{file}: envs {first.name} and {member.name} of solve group {group.name!r} are locked "
                              f"for different platforms ({first.name}: {_platforms(first)}; {member.name}: "
                              f"{_platforms(member)}); a group is resolved together, platform by platform",
                              f"give the envs of solve group {group.name!r} ({names}) the same `environments`, "
                              "or take one out of the group")
        if member.index != first.index:
            raise ConfigError(f"{file}: envs {first.name} and {member.name} of solve group {group.name!r} "
                              "use different index settings (from their requirements files)",
                              "give the envs of one solve group the same index options, or take one out")
        if member.hashes != first.hashes:
            raise ConfigError(f"{file}: envs {first.name} and {member.name} of solve group {group.name!r} "
                              "differ in hash-checking (--hash values in their requirements files)",
                              "give the envs of one solve group the same hashes, or take one out")


def _platforms(env: EnvSpec) -> str:
    """The platforms an env's lock serves, for a message."""
    return f"{env.environments_key} = {list(env.environments)}" if env.environments else "this machine only"


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
    origins_of: dict[int, str] = field(default_factory=dict)  # where it is written: "requirements.txt:3"

    def envs(self, requirement: Requirement) -> tuple[str, ...]:
        return self.envs_of.get(id(requirement), ())

    def origin(self, requirement: Requirement) -> str:
        return self.origins_of.get(id(requirement), "")


def union_roots(group: SolveGroup, roots_by_env: Mapping[str, Sequence[Requirement]]) -> Roots:
    """Each root requirement of the group once (`roots_by_env`: each env's, from sources.env_roots),
    with the envs that ask for it and where the first one wrote it (a requirements file's line,
    envs.toml's key), for messages."""
    from envsync.sources import direct_requirements

    by_text: dict[str, Requirement] = {}
    envs: dict[str, list[str]] = {}
    origins: dict[str, str] = {}
    for member in group.members:
        written = {str(requirement): origin for requirement, origin in zip(direct_requirements(member), member.origins,
                                                                            strict=False)}
        written.update((name, f"envs.{member.name}.seed") for name in member.seed)
        for requirement in roots_by_env[member.name]:
            text = str(requirement)
            by_text.setdefault(text, requirement)
            if text in written:
                origins.setdefault(text, written[text])
            if member.name not in envs.setdefault(text, []):
                envs[text].append(member.name)
    return Roots(tuple(by_text.values()), {id(by_text[text]): tuple(names) for text, names in envs.items()},
                 {id(by_text[text]): origin for text, origin in origins.items()})


def union_direct(config: Config, group: SolveGroup,
                 dists_by_env: Mapping[str, Mapping[NormalizedName, DirectDist]]) -> dict[NormalizedName, DirectDist]:
    """The packages the group's envs take from a source of their own (the project's folder, a
    `name @ URL`), each once: the group resolves one version of every package, so every env that
    has the package gets it from there. Two envs naming different sources for one package is an
    error naming both; one folder installed editable by one env and built by another is one
    source (each env keeps its own way of installing it, see `own_sources`)."""
    chosen: dict[NormalizedName, tuple[DirectDist, str]] = {}
    for member in group.members:
        for name, dist in dists_by_env.get(member.name, {}).items():
            first = chosen.setdefault(name, (dist, member.name))
            if (type(first[0].source), first[0].source.url) != (type(dist.source), dist.source.url):
                raise ConfigError(
                    f"{config.path.name}: envs {first[1]} and {member.name} of solve group {group.name!r} take "
                    f"{name} from different sources ({first[0].source.url} and {dist.source.url}); "
                    "the envs of a group share one version of every package",
                    f"give both envs the same source for {name}, or take one of them out of the group")
    return {name: dist for name, (dist, _) in chosen.items()}


def own_sources(pins: Mapping[NormalizedName, Pin], dists: Mapping[NormalizedName, DirectDist]) -> dict[NormalizedName, Pin]:
    """An env's share of the group's pins, each package the env itself takes from a source of its
    own installed as the env declares it (editable or built), not as the env that came first does."""
    return {name: replace(pin, source=dists[name].source) if name in dists else pin for name, pin in pins.items()}


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
    seen: set[tuple[NormalizedName, str]] = set()
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
