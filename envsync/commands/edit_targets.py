"""Where `add` and `remove` write: envs.toml or one of the requirements files an env reads.

Pure functions: which file an addition goes to (asked, unless one is obvious), where a
declared package is written (from the origins the config loader recorded), and the
line edits of a requirements file that keep its comments and its other lines as they are.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from envsync.errors import ConfigError

CONFIG = "envs.toml"  # the target meaning "the env's dependencies in the config file"
_FILE_LINE = re.compile(r"^(?P<file>.+):(?P<line>\d+)$")


@dataclass(frozen=True)
class Declared:
    """Where an env writes one of its requirements: `file` is CONFIG or a requirements file
    (relative to the config's folder, as the loader shows it)."""

    file: str
    line: int | None = None


def declared_at(origin: str, own_key: str) -> Declared | None:
    """Where `origin` (as the loader recorded it) is written, when it is the env's own declaration:
    its `dependencies` key, or a line of a requirements file. None for an inherited env or a group."""
    if origin == own_key:
        return Declared(CONFIG)
    match = _FILE_LINE.match(origin)
    if match and not origin.startswith(("envs.", "group ")):
        return Declared(match["file"], int(match["line"]))
    return None


def choose_target(asked: str | None, files: Sequence[str], has_dependencies: bool, env: str, packages: str,
                  config_name: str) -> str:
    """The file an `add` writes: `--to` if given (one of the env's files, or the config), else the
    only place the env declares packages; when there are several, the user is asked to pick."""
    choices = [*files, config_name]
    if asked is not None:
        if asked in (config_name, CONFIG):
            return CONFIG
        wanted = asked.removeprefix("./")
        if wanted in files:
            return wanted
        raise ConfigError(f"--to {asked}: env {env} does not read that file",
                          f"pick one of: {', '.join(choices)}")
    if not files:
        return CONFIG
    if len(files) == 1 and not has_dependencies:
        return files[0]
    raise ConfigError(f"env {env} declares packages in {', '.join(choices)}: which one should {packages} go to?",
                      f"add --to FILE, one of: {', '.join(choices)}")


def requirement_name(line: str) -> str | None:
    """The project a requirements-file line names, or None for a comment, an option or a blank."""
    text = re.sub(r"(^|\s)#.*", "", line).strip().rstrip("\\").strip()
    if not text or text.startswith("-"):
        return None
    try:
        return canonicalize_name(Requirement(text).name)
    except InvalidRequirement:
        return None


def edit_requirements(text: str, names: Iterable[str], additions: Sequence[str]) -> str:
    """`text` without the lines naming `names`, and with `additions`: the first put where the
    first dropped line was, else all at the end. Comments and every other line stay."""
    wanted = set(names)
    lines = text.splitlines(keepends=True)
    kept: list[str] = []
    placed = False
    for line in lines:
        if requirement_name(line) in wanted:
            if not placed and additions:
                kept += [f"{addition}\n" for addition in additions]
                placed = True
            continue
        kept.append(line)
    if additions and not placed:
        if kept and not kept[-1].endswith("\n"):
            kept[-1] += "\n"
        kept += [f"{addition}\n" for addition in additions]
    return "".join(kept)
