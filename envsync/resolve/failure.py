"""Why a resolve failed, in facts the explain module words: the files a project has, as this
interpreter sees them, and who asked for what, up to the requirement the user wrote.

Read only after resolvelib has given up, so none of this costs a successful resolve anything.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    NormalizedName,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion
from resolvelib.resolvers import ResolutionImpossible

from envsync.errors import PackageNotFound, ResolutionConflict
from envsync.resolve.explain import Context, Demand, FileFact, explain, ranges
from envsync.resolve.tags import UNSUPPORTED

if TYPE_CHECKING:
    from packaging.requirements import Requirement
    from resolvelib.structs import RequirementInformation

    from envsync.resolve.resolver import Candidate, Provider


def explain_failure(exc: ResolutionImpossible[Requirement, Candidate], provider: Provider, env: str | None,
                    similar: Callable[[str], Sequence[str]] | None) -> Exception:
    """The failure as one message naming the true reason, per package the resolver gave up on."""
    groups: dict[NormalizedName, list[RequirementInformation[Requirement, Candidate]]] = {}
    for cause in exc.causes:
        groups.setdefault(canonicalize_name(cause.requirement.name), []).append(cause)
    context = Context(env=env, python=str(provider.files.python), tags=tuple(provider.interpreter.tags),
                      prereleases=provider.prereleases, index=provider.index.describe())
    explanations = []
    for name, causes in groups.items():
        files = file_facts(provider, name)
        installable = {v: yanked for v, (_, _, yanked) in provider.files.installable(name).versions.items()}
        listed = bool(files or installable) or provider.index.lists(name)
        close = similar(name) if similar is not None and not listed else ()
        explanations.append(explain(name, files, installable, demands(provider, causes), context,
                                    provider.constraints.get(name, ()), close, listed))
    # A package that is missing outright is the first thing to fix; then the rest, in order.
    explanations.sort(key=lambda e: not e.not_found)
    first = explanations[0]
    message = "\n".join(e.message for e in explanations[:3])
    error = PackageNotFound if all(e.not_found for e in explanations) else ResolutionConflict
    return error(message, first.hint)



def file_facts(provider: Provider, name: NormalizedName) -> list[FileFact]:
    """Every file the index lists for `name`, as this interpreter sees it (for a failure's message)."""
    facts = []
    for artifact in provider.index.every_file(name):
        wheel = artifact.filename.endswith(".whl")
        try:
            version = (parse_wheel_filename(artifact.filename)[1] if wheel
                       else parse_sdist_filename(artifact.filename)[1])
        except (InvalidWheelFilename, InvalidSdistFilename, InvalidVersion):
            continue
        facts.append(FileFact(
            version=version, wheel=wheel,
            supported=wheel and provider.files.rank(artifact.filename) != UNSUPPORTED,
            python_ok=provider.files.python_ok(artifact), requires_python=artifact.requires_python,
            yanked=artifact.yanked, yank_reason=artifact.yank_reason,
            tag="-".join(artifact.filename[:-4].split("-")[-3:]) if wheel else None))
    return facts

def demands(provider: Provider, causes: Sequence[RequirementInformation[Requirement, Candidate]]) -> list[Demand]:
    """resolvelib's causes as requirements with who made them; the versions of one parent that
    make the same requirement are summed up as ranges ("fastapi 0.130.0 to 0.165.0")."""
    grouped: dict[tuple[str, str | None], tuple[Requirement, list[Candidate]]] = {}
    for cause in causes:
        parent = cause.parent
        key = (str(cause.requirement), None if parent is None else parent.key)
        entry = grouped.setdefault(key, (cause.requirement, []))
        if parent is not None:
            entry[1].append(parent)
    demands = []
    for (_, parent_key), (requirement, parents) in grouped.items():
        if parent_key is None:
            written = provider.origins.get(str(requirement))
            asked = f"{requirement} ({written})" if written else str(requirement)
            demands.append(Demand(requirement, f"you asked for it ({written})" if written else "you asked for it",
                                  asked))
            continue
        name = parents[0].name
        universe = list(provider.files.installable(name).versions)
        which = f"{parent_key} {ranges((p.version for p in parents), universe)}"
        chain, root = _chain(provider, name, depth=0, seen={name})
        demands.append(Demand(requirement, f"needed by {which}{chain}", root))
    return demands

def _chain(provider: Provider, name: NormalizedName, depth: int, seen: set[str]) -> tuple[str, str | None]:
    """How `name` came to be needed, up to the requirement the user wrote, as a clause and that root."""
    records = provider.needed_by.get(name, [])
    for requirement, parent in records:
        if parent is None:
            written = provider.origins.get(str(requirement))
            asked = f"{requirement} ({written})" if written else str(requirement)
            return f", which you asked for as {asked}", asked
    for _, parent in records:
        if parent is not None and parent.name not in seen and depth < 3:
            clause, root = _chain(provider, parent.name, depth + 1, seen | {parent.name})
            return f", needed by {parent.name} {parent.version}{clause}", root
    return "", None
