"""Package factors: whether a dependency pins exactly one release series of a package.

tox's `django42: Django>=4.2,<4.3` and a Hatch matrix's override `django~=4.2.0` for
`django = "4.2"` say what envsync's `matrix = { django = ["4.2"] }` says (`django==4.2.*`);
anything wider or narrower does not, and the envs stay one per combination.
"""

from __future__ import annotations

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name


def requirement_or_none(text: str) -> Requirement | None:
    """`text` as a PEP 508 requirement, or None when it isn't one."""
    try:
        return Requirement(text)
    except InvalidRequirement:
        return None


def pinned_series(dependencies: tuple[str, ...], package: str, candidates: list[str]
                  ) -> tuple[str, tuple[str, ...]] | None:
    """(the first of the `candidates` series that exactly one dependency on `package` pins, the
    dependencies without it): `Django>=4.2,<4.3` pins "4.2" of ["4.2", "42"]."""
    matches = [(position, req) for position, text in enumerate(dependencies)
               if (req := requirement_or_none(text)) is not None and canonicalize_name(req.name) == canonicalize_name(package)]
    if len(matches) != 1 or matches[0][1].marker is not None or matches[0][1].extras:
        return None
    position, requirement = matches[0]
    for series in candidates:
        if _is_series(requirement, series):
            return series, dependencies[:position] + dependencies[position + 1:]
    return None


def _is_series(requirement: Requirement, series: str) -> bool:
    """Whether the requirement allows exactly the releases `series.*` (as `name==series.*` would)."""
    parts = series.split(".")
    following = ".".join([*parts[:-1], str(int(parts[-1]) + 1)])
    before = ".".join([*parts[:-1], str(int(parts[-1]) - 1)]) if int(parts[-1]) > 0 else None
    spec = requirement.specifier
    return (spec.contains(f"{series}.0") and spec.contains(f"{series}.99") and not spec.contains(f"{following}.0")
            and (before is None or not spec.contains(f"{before}.99")))
