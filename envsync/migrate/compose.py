"""Which translators apply to a project folder, and their envs put together in one `Document`.

Hatch and tox configurations, when present, are what the team already runs, so their envs
are the ones written. Without them, the pyproject.toml defaults and the requirements files
are. A requirements env named like a default env (`requirements-dev.txt` and `dev`) is the
same env: the default one reads the file too, as `pip install -e . -r requirements-dev.txt` would.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from pathlib import Path
from typing import Any

from envsync.migrate.defaults import choose_python, translate_defaults
from envsync.migrate.document import Document, EnvDraft, Translation, valid_name
from envsync.migrate.files import read_toml, table
from envsync.migrate.hatch import translate_hatch
from envsync.migrate.requirements_layout import find_files, read_layout, translate_layout
from envsync.migrate.tox import translate_tox
from envsync.migrate.tox_config import find_tox


def translate_project(folder: Path) -> Document:
    pyproject = read_toml(folder / "pyproject.toml") if (folder / "pyproject.toml").is_file() else {}
    taken: set[str] = set()
    parts: list[tuple[str, Translation]] = []
    hatch = _hatch_envs(folder, pyproject)
    if hatch is not None:
        parts.append((hatch[0], translate_hatch(hatch[1], hatch[0], taken)))
    tox = find_tox(folder, pyproject)
    if tox is not None:
        parts.append((tox[0], translate_tox(tox[0], tox[1], taken)))
    if not parts:
        parts = _without_other_tools(folder, pyproject, taken)
    envs = tuple(env for _, part in parts for env in part.envs)
    if not envs:
        envs = (EnvDraft("dev", comments=("No requirements*.txt, pyproject.toml, tox or Hatch configuration found "
                                          "here: declare an env by hand.",)),)
    translated: Counter[str] = Counter()
    for _, part in parts:
        translated.update(part.translated)
    notes = tuple(note for _, part in parts for note in part.notes)
    return Document(sources=tuple(source for source, part in parts if part.envs),
                    settings_python=choose_python(folder, pyproject), envs=envs, notes=notes, translated=translated)


def _hatch_envs(folder: Path, pyproject: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """(where, the declared envs) from hatch.toml, which Hatch reads first, else pyproject.toml."""
    if (folder / "hatch.toml").is_file():
        declared = table(read_toml(folder / "hatch.toml").get("envs"))
        if declared:
            return "hatch.toml", declared
    declared = table(table(table(pyproject.get("tool")).get("hatch")).get("envs"))
    return ("pyproject.toml [tool.hatch.envs]", declared) if declared else None


def _without_other_tools(folder: Path, pyproject: dict[str, Any], taken: set[str]) -> list[tuple[str, Translation]]:
    defaults = translate_defaults(pyproject, taken)
    layout = translate_layout(folder, read_layout(find_files(folder)), set())
    by_name = {env.name.lower(): env for env in defaults.envs}
    merged = {}
    extra: list[EnvDraft] = []
    for env in layout.envs:
        same = by_name.get(env.name.lower())
        if same is not None and same.project is not None:
            # The project's env reads the file, in the files' solve group like any env of the layout.
            merged[same.name] = dataclasses.replace(
                same, requirements=env.requirements, constraints=env.constraints, solve_group=env.solve_group,
                comments=(*same.comments, *env.comments))
        else:
            extra.append(dataclasses.replace(env, name=valid_name(env.name, taken)))
    project_envs = [merged.get(env.name, env) for env in defaults.envs]
    members = Counter(env.solve_group for env in (*project_envs, *extra) if env.solve_group)
    defaults = dataclasses.replace(defaults, envs=_drop_lone_groups(project_envs, members))
    layout = dataclasses.replace(layout, envs=_drop_lone_groups(extra, members))
    return [("requirements files", layout), ("pyproject.toml", defaults)]


def _drop_lone_groups(envs: list[EnvDraft], members: Counter[str]) -> tuple[EnvDraft, ...]:
    """The envs, each solve group that only one env of all (`members` counts them) is left in taken away."""
    return tuple(env if members[env.solve_group or ""] > 1 else dataclasses.replace(env, solve_group=None)
                 for env in envs)

