"""A solve group's resolver conflict told by env: `prod` needs `beta>=2`, `dev` needs `x`, which needs `beta<2`.

The resolver knows only requirements; which env wrote each root requirement is known here,
and the path from a root to a package is recorded while resolving (`Tracer`, a resolvelib
reporter), so the message can name the envs whatever words the resolver's own message uses.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from resolvelib import BaseReporter

from envsync.errors import ResolutionConflict

if TYPE_CHECKING:
    from packaging.requirements import Requirement
    from resolvelib.structs import RequirementInformation

    from envsync.resolve.resolver import Candidate
    from envsync.state.solve_groups import Roots, SolveGroup


if TYPE_CHECKING:
    _Reporter = BaseReporter[Requirement, Candidate, str]
else:  # resolvelib before 1.1 has no runtime generics (they were in its stubs)
    _Reporter = BaseReporter


class Tracer(_Reporter):
    """Remembers who asked for each package during a resolve, to tell a conflict's story by env."""

    def __init__(self) -> None:
        self.asked: dict[str, list[tuple[str | None, Requirement]]] = {}

    def adding_requirement(self, requirement: Requirement, parent: Candidate | None) -> None:
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


def _causes(error: BaseException) -> list[RequirementInformation[Requirement, Candidate]]:
    """The resolvelib causes behind a resolver error, if it was raised while handling them."""
    seen: BaseException | None = error
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
        origin = roots.origin(path[0])
        story = (f"{_who(names)} `{path[0]}`" + (f" ({origin})" if origin else "")
                 + "".join(f", which needs `{step}`" for step in path[1:]))
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
