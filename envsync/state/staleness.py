"""Why a lock is out of date, in words that name the file and the change: what `--locked` says.

A lock records a digest of its inputs, which tells stale from fresh but not what changed; the
roots and the project's dependencies it records (under [tool.envsync] and in the project's
package entry) let the message name them: `pyproject.toml: [project] dependencies: + tool-pkg`,
`b was added (group 'test' in pyproject.toml)`. One message for a lone env and a solve group.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from envsync.errors import LockError
from envsync.model import EnvSpec, Interpreter

if TYPE_CHECKING:
    from collections.abc import Callable

    from packaging.requirements import Requirement
    from packaging.utils import NormalizedName

    from envsync.resolve.lockfile import LockFile
    from envsync.sources.base import DirectDist
    from envsync.state.solve_groups import SolveGroup

ROOT = "<root>"


def locked_roots(lock: LockFile) -> set[str]:
    """The root requirements a lock was made from, as envsync records them (who-required-what)."""
    roots: set[str] = set()
    for package in lock.document.packages:
        tool = (package.tool or {}).get("envsync")
        required_by = tool.get("required-by") if isinstance(tool, Mapping) else None
        if isinstance(required_by, Mapping) and isinstance(required_by.get(ROOT), str):
            roots.update(text.strip() for text in required_by[ROOT].split(", "))
    return roots


def current_roots(spec: EnvSpec, local: Mapping[NormalizedName, DirectDist],
                  config_dir: Path) -> list[tuple[str, str, Requirement]]:
    """The env's roots as a lock records them (local paths relative), each with where it is written."""
    from packaging.requirements import Requirement

    from envsync.resolve.lockfile import portable

    origins = spec.origins or ("",) * len(spec.requirements)
    from packaging.utils import canonicalize_name

    from envsync.sources import project_dists, project_requirement

    projects = project_dists(spec, local)
    names = {dist.name for _, dist in projects}
    written = [(r, origin) for r, origin in zip(spec.requirements, origins, strict=False)
               if canonicalize_name(r.name) not in names]
    written += [(project_requirement(project, dist), project.where or f"envs.{spec.name}.project")
                for project, dist in projects]
    written += [(Requirement(name), f"envs.{spec.name}.seed") for name in spec.seed]
    return [(portable(str(r), config_dir), origin, r) for r, origin in written]


def stale_reason(spec: EnvSpec, lock: LockFile, interpreter: Interpreter, local: Mapping[NormalizedName, DirectDist],
                 config_dir: Path) -> str:
    """Why `lock` is out of date with `spec`, naming the file to look at: a lock another tool wrote;
    the project's dependencies added or dropped (pyproject.toml); root requirements added or
    dropped and where the added ones are written (envs.toml, pyproject.toml, a requirements file);
    else the inputs in general."""
    if lock.digest is None:
        tool = lock.document.created_by or "another tool"
        return (f"was written by {tool}, not envsync, so it records no inputs to compare with the config "
                "(envsync reads it with --frozen only)")
    from envsync.resolve.markers import marker_holds

    # A marker that can't be evaluated: the requirement is still named; the resolve says what is wrong.
    def applies(requirement: Requirement, extra: str = "") -> bool:
        return marker_holds(requirement.marker, interpreter.markers, extra=extra, if_unevaluable=True)

    changes: list[str] = []
    files: list[str] = []
    for file, change in _project_changes(spec, lock, local, config_dir, applies):
        files.append(file)
        changes.append(change)
    locked = locked_roots(lock)
    roots = current_roots(spec, local, config_dir)
    added = [(text, origin) for text, origin, requirement in roots if text not in locked and applies(requirement)]
    dropped = sorted(locked - {text for text, _, _ in roots}) if locked else []
    changes += [f"{text} was added ({origin})" if origin else f"{text} was added" for text, origin in added]
    changes += [f"{text} was removed" for text in dropped]
    files += [_file_of(origin) for _, origin in added]
    if changes:
        shown = "; ".join(changes[:4]) + ("; ..." if len(changes) > 4 else "")
        return f"is out of date with {' and '.join(dict.fromkeys(files or ['the config']))}: {shown}"
    inputs = ["envs.toml"]
    if any(origin.endswith("in pyproject.toml") for origin in spec.origins):
        inputs.append("pyproject.toml")
    # Each local project's build file: its version or entry points may be what changed.
    inputs += [Path(os.path.relpath(project.path / "pyproject.toml", config_dir)).as_posix() for project in spec.projects]
    inputs = list(dict.fromkeys(inputs))
    inputs += [file for file, _ in spec.files]
    return f"is out of date with {', '.join(inputs)} (settings, interpreter or files changed)"


def _project_changes(spec: EnvSpec, lock: LockFile, local: Mapping[NormalizedName, DirectDist], config_dir: Path,
                     applies: Callable[[Requirement, str], bool]) -> list[tuple[str, str]]:
    """(file, "[project] dependencies: + x, - y") for each local project whose own dependencies
    differ from those its locked entry lists (one the lock has no entry for is left out)."""
    from packaging.utils import canonicalize_name

    from envsync.sources import project_dists

    found = []
    for project, dist in project_dists(spec, local):
        folder = os.path.normpath(project.path)
        entry = next((package for package in lock.document.packages if package.directory is not None
                      and os.path.normpath(lock.path.parent / package.directory.path) == folder), None)
        if entry is None:
            continue
        extras = ("", *project.extras)
        now = {canonicalize_name(r.name) for r in dist.requires if any(applies(r, extra) for extra in extras)}
        then = {canonicalize_name(d["name"]) for d in entry.dependencies or () if "name" in d}
        if now == then:
            continue
        file = Path(os.path.relpath(project.path / "pyproject.toml", config_dir)).as_posix()
        listed = [f"+ {name}" for name in sorted(now - then)] + [f"- {name}" for name in sorted(then - now)]
        found.append((file, f"[project] dependencies: {', '.join(listed)}"))
    return found


def _file_of(origin: str) -> str:
    """The file an origin is in: "group 'test' in pyproject.toml" -> pyproject.toml, "req.txt:3" -> req.txt."""
    if origin.startswith("envs."):
        return "envs.toml"
    if origin.endswith(" in pyproject.toml") or origin == "pyproject.toml":
        return "pyproject.toml"
    return origin.rpartition(":")[0] or origin or "envs.toml"


def locked_error(group: SolveGroup | None, members: Sequence[EnvSpec], paths: Mapping[str, Path],
                 locks: Mapping[str, LockFile | None], states: Mapping[str, str],
                 local: Mapping[str, Mapping[NormalizedName, DirectDist]], interpreters: Mapping[str, Interpreter],
                 config_dir: Path) -> LockError:
    """The --locked failure of a lone env or a solve group: each lock that is missing or stale, and why."""
    stale = [m for m in members if states[m.name] != "fresh"]
    reasons = {m.name: "does not exist" if (lock := locks[m.name]) is None else
               stale_reason(m, lock, interpreters[m.name], local[m.name], config_dir) for m in stale}
    if group is None:
        spec = members[0]
        path = paths[spec.name]
        return LockError(f"{path.name} {reasons[spec.name]} (env {spec.name}), and --locked forbids changing it",
                         f"run `envsync lock {spec.name}` and commit {path.name}")
    described = ", ".join(f"{paths[m.name].name} ({'missing' if locks[m.name] is None else 'out of date'})"
                          for m in stale)
    why = "; ".join(f"{paths[m.name].name} {reasons[m.name]}" for m in stale
                    if locks[m.name] is not None and "(settings, interpreter or files changed)" not in reasons[m.name])
    names = [m.name for m in members]
    return LockError(f"solve group {group.name!r} ({', '.join(names)}): {described}"
                     + (f" ({why})" if why else "") + "; the group's locks are made together from all its envs' "
                     "inputs, and --locked forbids changing them",
                     f"run `envsync lock {' '.join(names)}` and commit {', '.join(paths[n].name for n in names)}")
