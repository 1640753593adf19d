"""Why a resolve failed, in words a person can act on.

The resolver gathers plain facts (every file the index lists for the failing package,
which versions it could install, and each requirement on the package with who made
it); the functions here turn them into one message and one hint. They are pure, so
every wording is tested with tables of facts rather than with an index.

The reason given is the one that really excluded the versions that matter: a version
that does not exist, a yanked one, one whose Requires-Python or wheel tags rule this
interpreter out, a pre-release, or two requirements that cannot hold together. Facts
about versions no requirement allows are never mentioned.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version

MAX_LINES = 6  # requirement lines per message; more are counted, not shown
MAX_RUNS = 3  # version ranges per summary
MAX_TAGS = 4  # wheel tags named per message


@dataclass(frozen=True)
class FileFact:
    """One file the index lists for the package, as this interpreter sees it."""

    version: Version
    wheel: bool  # False for a source distribution
    supported: bool = True  # a wheel whose tags this interpreter takes (False for an sdist)
    python_ok: bool = True  # its Requires-Python admits this interpreter
    requires_python: str | None = None
    yanked: bool = False
    yank_reason: str | None = None
    tag: str | None = None  # a wheel's tag triple, e.g. "cp312-cp312-macosx_11_0_arm64"


@dataclass(frozen=True)
class Demand:
    """One requirement on the failing package and who made it, for people."""

    requirement: Requirement
    who: str  # "you asked for it (envs.dev.dependencies)", "needed by fastapi 0.130.0 to 0.165.0, ..."
    # The requirement the user wrote that led here, with where it was written: what they can change.
    root: str | None = None


@dataclass(frozen=True)
class Context:
    env: str | None
    python: str  # the interpreter's full version
    tags: tuple[str, ...] = ()  # the wheel tags it takes, most preferred first
    prereleases: bool = False  # settings.prereleases
    # Whether pre-releases are taken when no final release fits (pip's rule) or never (uv's).
    prerelease_fallback: bool = True
    index: str = "the configured indexes"


@dataclass(frozen=True)
class Explanation:
    message: str
    hint: str
    not_found: bool = False  # the package is on no index (PackageNotFound rather than a conflict)


def ranges(selected: Iterable[Version], universe: Iterable[Version], limit: int = MAX_RUNS) -> str:
    """`selected` as runs of consecutive versions of `universe`: "1.0 to 1.4, 2.1", at most `limit` runs."""
    chosen = set(selected)
    runs: list[list[Version]] = []
    current: list[Version] = []
    for version in sorted(set(universe) | chosen):
        if version in chosen:
            current.append(version)
        elif current:
            runs.append(current)
            current = []
    if current:
        runs.append(current)
    parts = [str(run[0]) if len(run) == 1 else f"{run[0]} to {run[-1]}" for run in runs]
    if len(parts) > limit:
        parts = [*parts[:limit], f"and {len(parts) - limit} more"]
    return ", ".join(parts)


def exact_version(requirement: Requirement) -> str | None:
    """The version an `==X` (no wildcard) or `===X` requirement names, else None."""
    specs = list(requirement.specifier)
    if len(specs) == 1 and specs[0].operator in ("==", "===") and not specs[0].version.endswith(".*"):
        return specs[0].version
    return None


def pinned_exactly(version: Version, requirements: Iterable[Requirement]) -> bool:
    """Whether some requirement pins exactly `version`, however it is spelt (`==1.0.0` pins 1.0)."""
    for requirement in requirements:
        for spec in requirement.specifier:
            if spec.operator == "===" and spec.version == str(version):
                return True
            if spec.operator == "==" and not spec.version.endswith(".*"):
                try:
                    if Version(spec.version) == version:
                        return True
                except InvalidVersion:
                    continue
    return False


def _bounded(lines: Sequence[str]) -> list[str]:
    if len(lines) <= MAX_LINES:
        return list(lines)
    return [*lines[:MAX_LINES - 1], f"  ... and {len(lines) - MAX_LINES + 1} more"]


def _demand_lines(demands: Sequence[Demand]) -> list[str]:
    """One line per distinct requirement, aligned: `  pydantic<2        you asked for it (...)`."""
    seen: dict[str, str] = {}
    for demand in demands:
        seen.setdefault(str(demand.requirement), demand.who)
    width = min(max((len(text) for text in seen), default=0), 32)
    return _bounded([f"  {text.ljust(width)}  {who}" for text, who in seen.items()])


def _env(context: Context) -> str:
    return f"env {context.env}: " if context.env else ""


def _roots(demands: Sequence[Demand]) -> str:
    roots = list(dict.fromkeys(demand.root for demand in demands if demand.root))
    if len(roots) > MAX_LINES:
        roots = [*roots[:MAX_LINES], "..."]
    return " or ".join(roots)


def _combined(demands: Sequence[Demand], constraints: Sequence[Requirement]) -> SpecifierSet:
    combined = SpecifierSet()
    for requirement in (*(d.requirement for d in demands), *constraints):
        combined &= requirement.specifier
    return combined


def explain(name: str, files: Sequence[FileFact], installable: Mapping[Version, bool],
            demands: Sequence[Demand], context: Context, constraints: Sequence[Requirement] = (),
            similar: Sequence[str] = (), listed: bool = False) -> Explanation:
    """Why no version of `name` could be chosen.

    `installable` holds the versions the resolver could install (value: yanked), `demands`
    every requirement on `name` when it failed, `similar` the closest known names (for a
    package that is not found), `listed` whether an index has a page for it even so.
    """
    if not files and not installable:
        if listed:
            message = (f"{_env(context)}{name} is on {context.index}, but none of its files is for this "
                       "operating system\n" + "\n".join(_demand_lines(demands)))
            return Explanation(message, f"use {name} on a system it publishes wheels for, or drop it here")
        return _not_found(name, demands, context, similar)
    versions = sorted({fact.version for fact in files} | set(installable))
    latest = max((v for v in versions if not v.is_prerelease), default=versions[-1])
    for demand in demands:
        if not any(demand.requirement.specifier.contains(v, prereleases=True) for v in versions):
            return _no_such_version(name, demand, demands, versions, latest, context)
    combined = _combined(demands, constraints)
    matching = [v for v in versions if combined.contains(v, prereleases=True)]
    if not matching:
        return _conflict(name, demands, context)
    return _excluded(name, files, installable, demands, matching, versions, context, constraints)


def _not_found(name: str, demands: Sequence[Demand], context: Context, similar: Sequence[str]) -> Explanation:
    needed = [d for d in demands if not d.who.startswith("you asked")]
    message = f"{_env(context)}package {name!r} was not found on {context.index}"
    if needed:
        message += "\n" + "\n".join(_demand_lines(needed))
    if similar:
        hint = "did you mean " + " or ".join(repr(s) for s in similar[:3]) + "?"
    else:
        hint = "check the spelling on the index, or add the index that has it to [settings] extra-index-urls"
    return Explanation(message, hint, not_found=True)


def _no_such_version(name: str, demand: Demand, demands: Sequence[Demand], versions: Sequence[Version],
                     latest: Version, context: Context) -> Explanation:
    exact = exact_version(demand.requirement)
    if exact is not None:
        head = f"there is no version {exact} of {name}"
    else:
        head = f"no version of {name} matches {_without_marker(demand.requirement)}"
    have = f"{name} has {ranges(versions, versions)}; latest: {latest}"
    message = f"{_env(context)}{head} ({have})\n" + "\n".join(_demand_lines([demand]))
    hint = f"change {demand.root or demand.requirement} to a version that exists, e.g. {name}>={_short(latest)}"
    if not demand.who.startswith("you asked"):
        hint = f"allow another version of what needs it{f': {demand.root}' if demand.root else ''}"
    return Explanation(message, hint)


def _without_marker(requirement: Requirement) -> str:
    return f"{requirement.name}{requirement.specifier}"


def _short(version: Version) -> str:
    """`13.9` for 13.9.4: a lower bound that reads like one."""
    return ".".join(str(part) for part in version.release[:2]) if len(version.release) > 1 else str(version)


def _conflict(name: str, demands: Sequence[Demand], context: Context) -> Explanation:
    message = f"{_env(context)}no version of {name} satisfies all of these requirements:\n"
    message += "\n".join(_demand_lines(demands))
    roots = _roots(demands)
    hint = f"they cannot all hold: change {roots}" if roots else "they cannot all hold: relax one of them"
    return Explanation(message, hint)


def _excluded(name: str, files: Sequence[FileFact], installable: Mapping[Version, bool],
              demands: Sequence[Demand], matching: Sequence[Version], versions: Sequence[Version],
              context: Context, constraints: Sequence[Requirement]) -> Explanation:
    """Versions exist that every requirement allows: say what ruled each of them out."""
    pins = [d.requirement for d in demands] + list(constraints)
    finals_usable = any(v in installable and not v.is_prerelease and
                        (not installable[v] or pinned_exactly(v, pins)) for v in matching)
    by_reason: dict[str, list[Version]] = {}
    details: dict[str, set[str]] = {}
    usable: list[Version] = []
    for version in matching:
        reason, detail = _why_not(version, files, installable, pins, context, finals_usable)
        if reason is None:
            usable.append(version)
            continue
        by_reason.setdefault(reason, []).append(version)
        details.setdefault(reason, set()).update(detail)
    if usable:  # some version fits, yet each one led to a conflict further down
        shown = ranges(usable, versions)
        message = (f"{_env(context)}every version of {name} these requirements allow ({shown}) "
                   f"conflicts with another requirement:\n" + "\n".join(_demand_lines(demands)))
        roots = _roots(demands)
        return Explanation(message, f"change {roots}" if roots else "relax one of these requirements")
    lines = [_reason_line(name, reason, found, versions, details[reason], context)
             for reason, found in by_reason.items()]
    asked = "\n".join(_demand_lines(demands))
    message = f"{_env(context)}no version of {name} can be installed:\n" + "\n".join(lines) + "\n" + asked
    return Explanation(message, _reason_hint(name, next(iter(by_reason)), context, demands))


def _why_not(version: Version, files: Sequence[FileFact], installable: Mapping[Version, bool],
             pins: Sequence[Requirement], context: Context, finals_usable: bool) -> tuple[str | None, set[str]]:
    """The reason `version` was not a candidate ("yanked", "python", "platform", "sdist",
    "prerelease") and its details, or (None, ...) when it was one."""
    own = [fact for fact in files if fact.version == version]
    if version not in installable:
        wheels = [fact for fact in own if fact.wheel]
        if any(fact.supported and not fact.python_ok for fact in wheels) or \
                (own and all(not fact.python_ok for fact in own)):
            return "python", {fact.requires_python for fact in own if fact.requires_python and not fact.python_ok}
        if wheels:
            return "platform", {fact.tag for fact in wheels if fact.tag}
        return "sdist", set()
    if installable[version] and not pinned_exactly(version, pins):
        return "yanked", {fact.yank_reason for fact in own if fact.yanked and fact.yank_reason}
    asked_for_pre = any(spec.prereleases for pin in pins for spec in pin.specifier)
    if version.is_prerelease and not (context.prereleases or asked_for_pre) \
            and (finals_usable or not context.prerelease_fallback):
        return "prerelease", set()
    return None, set()


def _reason_line(name: str, reason: str, found: Sequence[Version], versions: Sequence[Version],
                 detail: set[str], context: Context) -> str:
    plural = len(found) > 1
    which = f"{name} {ranges(found, versions)}"
    if reason == "yanked":
        why = f": {'; '.join(sorted(detail))}" if detail else " (the index gives no reason)"
        return f"  {which} {'were' if plural else 'was'} yanked from the index{why}"
    if reason == "python":
        needs = " or ".join(sorted(detail)) or "another Python"
        return (f"  {which} {'need' if plural else 'needs'} Python {needs}, but this env uses "
                f"Python {context.python}")
    if reason == "platform":
        tags = sorted(detail)
        shown = ", ".join(tags[:MAX_TAGS]) + (f" and {len(tags) - MAX_TAGS} more" if len(tags) > MAX_TAGS else "")
        takes = ", ".join(context.tags[:2]) + (", ..." if len(context.tags) > 2 else "")
        return (f"  {which} {'have' if plural else 'has'} wheels only for {shown}; "
                f"this interpreter takes {takes or 'other tags'}")
    if reason == "sdist":
        return f"  {which} {'are' if plural else 'is'} published only as a source distribution, with no wheel"
    return f"  {which} {'are pre-releases' if plural else 'is a pre-release'}, and pre-releases are not allowed"


def _reason_hint(name: str, reason: str, context: Context, demands: Sequence[Demand]) -> str:
    env = context.env or "ENV"
    roots = _roots(demands)
    if reason == "yanked":
        return f"pin the yanked version exactly ({name}==VERSION) to use it anyway, or allow another version"
    if reason == "python":
        allow = f"change {roots} to allow other versions of {name}" if roots else f"allow other versions of {name}"
        return f"set envs.{env}.python to a Python these versions support, or {allow}"
    if reason == "platform":
        return f"use a Python or machine these wheels are built for, or allow a version of {name} with a wheel for it"
    if reason == "sdist":
        return f"allow a version of {name} that publishes a wheel" + (f" ({roots})" if roots else "")
    return (f"write a pre-release in the requirement (e.g. {name}>=1.0rc1) or set prereleases = true "
            "under [settings]")
