"""`envsync init [--from PATH] [--force]`: a commented envs.toml for the project in this folder.

Without --from: an env per requirements*.txt found, and one for a pyproject.toml project
(the project itself, editable, with its dependency groups). With --from a venv: one env that adopts it, with
its interpreter version and every installed package pinned, so the next `plan` finds
it in sync and nothing is reinstalled. An existing envs.toml is never overwritten
without --force, and then the old file is kept as envs.toml.bak.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tomllib
from pathlib import Path

from envsync.config.paths import CONFIG_NAME
from envsync.errors import ConfigError, EnvPathError, from_os_error
from envsync.model import EnvKind, Installed
from envsync.state.survey import survey

HEADER = """\
# envs.toml: the Python environments of this project, for envsync.
# `envsync plan` shows what would change, `envsync apply` makes it so.
# Written by `envsync init{source}`; edit freely (every key: envsync's docs/configuration.md).
"""
SETTINGS = """
[settings]
# root = ".envs"                       # folder for envs that have no `path`
# index-url = "https://pypi.org/simple"  # where packages come from
"""


def _quote(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)  # a JSON string is a valid TOML basic string


def _list(values: list[str], indent: str = "    ") -> str:
    if not values:
        return "[]"
    return "[\n" + "".join(f"{indent}{_quote(value)},\n" for value in values) + "]"


def env_name(stem: str, taken: set[str]) -> str:
    """An env name for a file or folder: requirements-dev.txt -> dev, requirements.txt -> main."""
    name = re.sub(r"^requirements", "", stem.removesuffix(".txt"))
    name = re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-_.") or "main"
    if name.lower() in ("envsync", "locks", "tmp"):
        name = f"{name}-env"
    candidate, number = name[:60], 2
    while candidate.lower() in {t.lower() for t in taken}:
        candidate, number = f"{name[:56]}-{number}", number + 1
    taken.add(candidate)
    return candidate


def from_project(folder: Path) -> str:
    """Envs for the requirements files and pyproject.toml found in `folder`."""
    taken: set[str] = set()
    parts = [HEADER.format(source=""), SETTINGS]
    files = sorted(path.name for path in folder.glob("requirements*.txt") if path.is_file())
    for file in files:
        parts.append(f"\n[envs.{env_name(file, taken)}]\n"
                     f"requirements = [{_quote(file)}]   # read in pip's format; -r/-c includes are followed\n")
    parts += _pyproject_env(folder, taken)
    if len(parts) == 2:
        parts.append("\n# No requirements*.txt or pyproject.toml found here: declare an env by hand.\n"
                     "[envs.dev]\ndependencies = []\n")
    return "".join(parts)


def _pyproject_env(folder: Path, taken: set[str]) -> list[str]:
    path = folder / "pyproject.toml"
    if not path.is_file():
        return []
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"pyproject.toml: cannot read: {exc}", "fix pyproject.toml, then run init again") from None
    project: dict = document["project"] if isinstance(document.get("project"), dict) else {}
    groups = [g for g in document.get("dependency-groups", {}) if isinstance(g, str)] \
        if isinstance(document.get("dependency-groups"), dict) else []
    extras: dict = project["optional-dependencies"] if isinstance(project.get("optional-dependencies"), dict) else {}
    if not (project or groups):
        return []
    lines = [f"\n[envs.{env_name('project', taken)}]\n"]
    if project:
        name = project.get("name", "the project")
        lines.append(f"# {name} itself, installed editable: its dependencies come from pyproject.toml.\n")
        if extras:
            listed = ", ".join(f"{extra!r}" for extra in extras)
            lines.append(f"# Its extras ({listed}): project = {{ path = \".\", extras = [\"...\"] }}\n")
        lines.append('project = "."\n')
    if groups:
        lines.append(f"# PEP 735 [dependency-groups] of pyproject.toml\ngroups = {_list(groups)}\n")
    return lines


def from_venv(folder: Path, venv: Path) -> str:
    """An env that adopts the venv at `venv` as it is: same Python, same packages and versions."""
    actual = survey(venv)
    if actual.kind is not EnvKind.VENV:
        raise EnvPathError(f"--from {venv}: not a virtual environment (no pyvenv.cfg)",
                           "give the folder of a venv made by venv, virtualenv or uv")
    if actual.python_version is None:
        raise EnvPathError(f"--from {venv}: its pyvenv.cfg does not say which Python made it",
                           "recreate that venv, or write envs.toml by hand")
    pinned: list[Installed] = []
    skipped: list[Installed] = []
    for dist in actual.installed.values():
        (skipped if dist.direct_url else pinned).append(dist)
    name = env_name(venv.name.lstrip(".") or "venv", set())
    shown = os.path.relpath(venv, folder)
    lines = [HEADER.format(source=f" --from {shown}"), SETTINGS,
             f"\n# Adopts the existing venv {shown} as it is: the next `envsync plan` finds it in sync.\n",
             f"[envs.{name}]\n",
             f"path = {_quote(shown)}\n",
             f"python = {_quote(str(actual.python_version))}   # the Python that made it; "
             f"\"{actual.python_version.major}.{actual.python_version.minor}\" lets a newer patch in "
             "(then apply rebuilds the venv)\n",
             "# Everything installed in it, pinned. Loosen these (or move them to a requirements file)\n"
             "# as you like; `envsync lock` records the exact versions in pylock.<env>.toml.\n",
             f"dependencies = {_list([f'{dist.name}=={dist.version}' for dist in pinned])}\n"]
    for dist in skipped:
        lines.append(f"# {dist.name} {dist.version} was installed from {dist.direct_url}: direct references are "
                     "not supported yet, so `apply` would remove it\n")
    return "".join(lines)


def write_config(target: Path, text: str, force: bool) -> Path | None:
    """Write `text` at `target`; with `force`, keep an existing file as <name>.bak first (returned)."""
    from envsync.files.cache import write_atomic

    backup = None
    if target.exists():
        if not force:
            raise ConfigError(f"{target.name} already exists in {target.parent}; init never overwrites it",
                              f"pass --force to replace it (the old one is kept as {target.name}.bak)")
        backup = target.with_name(target.name + ".bak")
        try:
            shutil.copy2(target, backup)
        except OSError as exc:
            raise from_os_error(exc, backup) from exc
    try:
        write_atomic(target, text.encode("utf-8"))
    except OSError as exc:
        raise from_os_error(exc, target) from exc
    return backup


def run(args, out) -> int:
    target = Path(args.config).absolute() if args.config else Path.cwd() / CONFIG_NAME
    folder = target.parent
    if args.source:
        venv = Path(args.source).expanduser()
        venv = Path(os.path.normpath(venv if venv.is_absolute() else Path.cwd() / venv))
        text = from_venv(folder, venv)
    else:
        text = from_project(folder)
    _check(text)
    backup = write_config(target, text, args.force)
    if backup is not None:
        out.info(f"kept the old {target.name} as {backup.name}")
    out.info(f"wrote {target}; next: `envsync plan`")
    return 0


def _check(text: str) -> None:
    """What init writes must at least be TOML: a mistake here is envsync's bug, caught before writing."""
    try:
        tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:  # pragma: no cover - a bug in this module
        raise ConfigError(f"envsync init made invalid TOML ({exc}); please report it") from None
