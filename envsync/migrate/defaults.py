"""Envs for a pyproject.toml project when no other tool declares any (SPEC §2 `init`).

The project with its default dependency groups becomes `dev`; each group that is a tool set
(lint, docs, typing, ...) gets an env of its own without the project; every other group joins
`dev`. `[tool.uv] default-groups` (a list, or "all"), when set, decides what `dev` gets, as
`uv sync` would. The Python comes from `.python-version`, else the lowest minor version
`requires-python` allows.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

from envsync.migrate.document import EnvDraft, Project, Translation, Untranslated, valid_name
from envsync.migrate.files import strings, table

TOOL_GROUPS = ("lint", "docs", "typing", "type", "format", "style")


def translate_defaults(pyproject: dict[str, Any], taken: set[str]) -> Translation:
    project = table(pyproject.get("project"))
    groups = [name for name in table(pyproject.get("dependency-groups")) if isinstance(name, str)]
    uv = table(table(pyproject.get("tool")).get("uv"))
    if not (project or groups):
        return Translation()
    installs_project = bool(project) and uv.get("package") is not False
    dev_groups, own_groups, left_out = _split_groups(groups, uv.get("default-groups"))
    comments = [f"{project.get('name', 'The project')} itself, installed editable, with its dependency groups."
                if installs_project else "The project's dependency groups."]
    extras = [name for name in table(project.get("optional-dependencies")) if isinstance(name, str)]
    if extras and installs_project:
        comments.append(f"Its extras ({', '.join(extras)}): project = {{ path = \".\", extras = [...] }}")
    notes = []
    if uv.get("package") is False:
        notes.append(Untranslated("uv", "setting", "package = false",
                                  "[tool.uv] package = false: the project itself is not installed"))
    if left_out:
        notes.append(Untranslated("uv", "group", "not in default-groups",
                                  f"not in [tool.uv] default-groups, so left out (add to `groups` to install): "
                                  f"{', '.join(left_out)}"))
    legacy = strings(uv.get("dev-dependencies"))
    envs = [EnvDraft(valid_name("dev", taken), comments=tuple(comments),
                     project=Project() if installs_project else None, groups=tuple(dev_groups),
                     dependencies=tuple(legacy), untranslated=tuple(notes))]
    for group in own_groups:
        envs.append(EnvDraft(valid_name(group, taken), comments=(f"The `{group}` group's tools, without the project.",),
                             groups=(group,)))
    return Translation(envs=tuple(envs), translated=Counter({"dependency group": len(groups)}))


def _split_groups(groups: list[str], default_groups: Any) -> tuple[list[str], list[str], list[str]]:
    """(groups in dev, groups in an env of their own, groups left out) for `groups`."""
    tool_sets = [g for g in groups if g.lower() in TOOL_GROUPS]
    if default_groups == "all":
        return groups, [], []
    if isinstance(default_groups, list):
        chosen = [g for g in groups if g in default_groups]
        own = [g for g in tool_sets if g not in chosen]
        return chosen, own, [g for g in groups if g not in chosen and g not in own]
    return [g for g in groups if g not in tool_sets], tool_sets, []


def choose_python(folder: Path, pyproject: dict[str, Any]) -> str | None:
    """`.python-version`'s major.minor, else the lowest 3.X that `requires-python` allows, else None."""
    version_file = folder / ".python-version"
    if version_file.is_file():
        try:
            first = version_file.read_text(encoding="utf-8").strip().splitlines()
        except (OSError, UnicodeDecodeError):
            first = []
        found = re.search(r"(\d+)\.(\d+)", first[0]) if first else None
        if found:
            return f"{found.group(1)}.{found.group(2)}"
    requires = table(pyproject.get("project")).get("requires-python")
    return lowest_minor(requires) if isinstance(requires, str) else None


def lowest_minor(requires_python: str) -> str | None:
    """The lowest 3.X with a release (3.X.0 to 3.X.30) inside `requires_python`."""
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    try:
        allowed = SpecifierSet(requires_python)
    except InvalidSpecifier:
        return None
    for minor in range(0, 40):
        if any(allowed.contains(f"3.{minor}.{patch}", prereleases=False) for patch in range(0, 31)):
            return f"3.{minor}"
    return None
