"""An env's local projects: `project`, `projects` and the `-e` lines of its requirements files, one set.

`project` is the one-project spelling of `projects`; both are inherited (the env's own, else the
first env it inherits from that declares it, else [settings]) and their union is installed. An
`-e PATH` line naming a folder already declared adds its extras (a requirements-dev.txt saying
`-e .` beside `project = "."` asks for the same install); two config entries naming one folder
are a mistake and an error naming both.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from envsync.errors import ConfigError
from envsync.files.hashes import sha256_of_file
from envsync.model import ProjectSpec


def env_projects(path: Path, name: str, model: Any, editables: Sequence[Any], resolve_path: Any) -> tuple[ProjectSpec, ...]:
    """The env's local projects, in the order declared: `project`, then `projects`, then `-e` lines."""
    declared = [*_declared(name, model, "project"), *_declared(name, model, "projects")]
    found: dict[Path, ProjectSpec] = {}
    for entry, key in declared:
        spec = _checked(path, entry, key, resolve_path)
        if spec.path in found:
            raise ConfigError(f"{path.name}: {found[spec.path].where} and {key} both name the project folder "
                              f"{spec.path}", "list each local project once")
        found[spec.path] = spec
    for editable in editables:
        extras = _names(editable.extras)
        same = found.get(editable.path)
        if same is not None:
            found[editable.path] = ProjectSpec(path=same.path, display_path=same.display_path, editable=True,
                                               extras=tuple(dict.fromkeys([*same.extras, *extras])),
                                               where=same.where)
        else:
            found[editable.path] = ProjectSpec(path=editable.path, display_path=os.path.relpath(editable.path, path.parent),
                                               editable=True, extras=extras, where=editable.where)
    return tuple(found.values())


def _declared(name: str, model: Any, key: str) -> list[tuple[Any, str]]:
    """The env's `key` entries (its own, else the first env it inherits from that has them, else
    [settings]), each with the key that declared it, for messages."""
    def find(env_name: str, trail: tuple[str, ...]) -> list[tuple[Any, str]] | None:
        env = model.envs[env_name]
        value = getattr(env, key)
        if value is not None:
            return _entries(value, f"envs.{env_name}.{key}")
        for parent in env.inherits:
            if parent not in trail:
                found = find(parent, (*trail, parent))
                if found is not None:
                    return found
        return None

    found = find(name, (name,))
    if found is None:
        setting = getattr(model.settings, key)
        found = _entries(setting, f"settings.{key}") if setting else []
    return found


def _entries(value: Any, key: str) -> list[tuple[Any, str]]:
    if isinstance(value, list):
        return [(entry, f"{key}[{position}]") for position, entry in enumerate(value)]
    return [(value, key)]


def _checked(path: Path, declared: Any, key: str, resolve_path: Any) -> ProjectSpec:
    """One declared project, its folder checked to hold a Python project."""
    where = f"{path.name}: {key}"
    folder = resolve_path(path.parent, declared.path, f"{where}.path")
    if not (folder / "pyproject.toml").is_file() and not (folder / "setup.py").is_file():
        raise ConfigError(f"{where}.path: {declared.path!r} is not a Python project folder "
                          f"(no pyproject.toml or setup.py in {folder})",
                          "point it at the folder that holds the project's pyproject.toml")
    return ProjectSpec(path=folder, display_path=declared.path, editable=declared.editable,
                       extras=_names(declared.extras), where=key)


def _names(extras: Sequence[str]) -> tuple[str, ...]:
    from packaging.utils import canonicalize_name

    return tuple(dict.fromkeys(canonicalize_name(extra) for extra in extras))


def project_files(folder: Path) -> dict[str, str]:
    """A project elsewhere than beside envs.toml: its build files, watched like requirements files."""
    found = {}
    for name in ("pyproject.toml", "setup.py", "setup.cfg"):
        try:
            found[str(folder / name)] = sha256_of_file(folder / name)
        except OSError:
            continue
    return found
