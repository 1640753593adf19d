"""pip requirements layouts: `requirements*.txt` and a `requirements/` folder, as envs.

Each top file (one no other file includes with `-r`) becomes an env that reads it, so the
file stays the one place the list lives; `requirements.txt` at the root is an env (`main`)
even when `requirements-dev.txt` includes it, since it is what the project runs with. A
constraints file no env already reaches with `-c` is attached to every env, and envs that
include a common file are put in one solve group so they agree on its versions.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from envsync.migrate.document import EnvDraft, Translation, valid_name

_INCLUDE = re.compile(r"^\s*(-r|--requirement|-c|--constraint)(?:\s*=\s*|\s+|(?=[^\s-]))(\S+)")


@dataclass(frozen=True)
class ReqFile:
    """A requirements file of the layout and the files it names with -r and -c (absolute)."""

    path: Path
    includes: tuple[Path, ...]
    constraints: tuple[Path, ...]


def find_files(folder: Path) -> list[Path]:
    found = [*folder.glob("requirements*.txt"), *folder.glob("*-requirements.txt"),
             *(folder / "requirements").glob("*.txt")]
    return sorted({path for path in found if path.is_file()})


def read_layout(paths: list[Path]) -> list[ReqFile]:
    out = []
    for path in paths:
        includes: list[Path] = []
        constraints: list[Path] = []
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            text = ""  # the loader names an unreadable file when the env is used
        for line in text.splitlines():
            match = _INCLUDE.match(line)
            if match:
                target = Path(os.path.normpath(path.parent / match.group(2)))
                (includes if match.group(1) in ("-r", "--requirement") else constraints).append(target)
        out.append(ReqFile(path, tuple(includes), tuple(constraints)))
    return out


def translate_layout(folder: Path, files: list[ReqFile], taken: set[str]) -> Translation:
    by_path = {file.path: file for file in files}
    included = {target for file in files for target in file.includes}
    constraint_files = {target for file in files for target in file.constraints} | {
        file.path for file in files if "constraint" in file.path.name.lower()}
    tops = [file for file in files if file.path not in constraint_files
            and (file.path not in included or file.path == folder / "requirements.txt")]
    closures = {top.path: _closure(top.path, by_path) for top in tops}
    groups = _solve_groups(closures)
    envs = []
    for top in tops:
        reached_constraints = {c for path in closures[top.path] for c in by_path[path].constraints
                               if path in by_path}
        attached = sorted(c for c in constraint_files if c not in reached_constraints and c in by_path)
        envs.append(EnvDraft(
            valid_name(_env_stem(top.path), taken),
            comments=(f"{_relative(top.path, folder)}, read in pip's format (-r/-c includes are followed).",),
            requirements=(_relative(top.path, folder),),
            constraints=tuple(_relative(c, folder) for c in attached),
            solve_group=groups.get(top.path)))
    return Translation(envs=tuple(envs), translated=Counter({"requirements file": len(tops)}))


def _closure(start: Path, by_path: dict[Path, ReqFile]) -> set[Path]:
    seen, todo = set(), [start]
    while todo:
        path = todo.pop()
        if path not in seen:
            seen.add(path)
            todo += list(by_path[path].includes) if path in by_path else []
    return seen


def _solve_groups(closures: dict[Path, set[Path]]) -> dict[Path, str]:
    """Top file -> solve group name, for tops that share an included file (named after it)."""
    groups: dict[Path, str] = {}
    tops = list(closures)
    for position, top in enumerate(tops):
        for other in tops[position + 1:]:
            shared = sorted(closures[top] & closures[other])
            if shared:
                name = groups.get(top) or groups.get(other) or valid_name(_env_stem(shared[0]), set())
                groups[top] = groups[other] = name
    return groups


def _env_stem(path: Path) -> str:
    stem = path.name.removesuffix(".txt")
    stem = re.sub(r"^requirements[-_.]?|[-_.]?requirements$", "", stem)
    return stem or "main"


def _relative(path: Path, folder: Path) -> str:
    return Path(os.path.relpath(path, folder)).as_posix()
