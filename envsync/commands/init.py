"""`envsync init [--from PATH] [--force]`: a commented envs.toml for the project in this folder.

Without --from: the envs the project already declares for Hatch, tox or uv, its requirements
files, or its pyproject.toml project (see envsync.migrate), and the env root in .gitignore.
With --from a venv: one env that adopts it, with
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

TYPE_CHECKING = False  # not `typing.TYPE_CHECKING`: annotations only, no import at run time
if TYPE_CHECKING:
    import argparse

    from envsync.cli import Output

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
    from envsync.migrate.document import valid_name

    return valid_name(re.sub(r"^requirements", "", stem.removesuffix(".txt")).strip("-_.") or "main", taken)


def from_project(folder: Path) -> tuple[str, str]:
    """(envs.toml text, the summary line) for what the project in `folder` declares (see envsync.migrate)."""
    from envsync.migrate.compose import translate_project
    from envsync.migrate.document import summary
    from envsync.migrate.writer import render

    document = translate_project(folder)
    return render(document), summary(document)


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
    projects: list[Installed] = []
    for dist in actual.installed.values():
        if dist.editable and dist.direct_url and dist.direct_url.startswith("file:"):
            projects.append(dist)
        else:
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
    if projects:
        lines.append(_adopted_projects(projects, folder, set(actual.installed)))
    for dist in skipped:
        lines.append(f"# {dist.name} {dist.version} was installed from {dist.direct_url}: add it as "
                     f"`{dist.name} @ URL` (or as a project) yourself, or `apply` will remove it\n")
    return "".join(lines)


def _adopted_projects(dists: list[Installed], folder: Path, installed: set[str]) -> str:
    """The `project` line for a project installed with `pip install -e PATH` (`projects` for several):
    editable, with each extra whose requirements are all installed (PEP 610 does not record which
    extras were asked for)."""
    import urllib.parse

    values, notes = [], []
    for dist in sorted(dists, key=lambda d: d.name):
        path = Path(urllib.parse.unquote(urllib.parse.urlsplit(dist.direct_url or "").path))
        shown = os.path.relpath(path, folder)
        extras = _installed_extras(dist.requires or (), installed)
        inline = ", ".join(_quote(extra) for extra in extras)  # an inline table is one line in TOML
        values.append(_quote(shown) if not extras else f"{{ path = {_quote(shown)}, extras = [{inline}] }}")
        notes.append(f"# {dist.name} is installed editable from {shown}"
                     + (": the env's own project\n" if len(dists) == 1 else "\n"))
    if len(values) == 1:
        return f"{notes[0]}project = {values[0]}\n"
    return "".join(notes) + f"projects = [{', '.join(values)}]\n"


def _installed_extras(requires: tuple[str, ...], installed: set[str]) -> list[str]:
    """The extras whose added requirements are every one of them installed."""
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.utils import canonicalize_name

    added: dict[str, set[str]] = {}
    for text in requires:
        try:
            requirement = Requirement(text)
        except InvalidRequirement:
            continue
        marker = requirement.marker
        if marker is None or "extra" not in str(marker):
            continue
        for extra in _extras_named(str(marker)):
            if marker.evaluate({"extra": extra}) and not marker.evaluate({"extra": ""}):
                added.setdefault(extra, set()).add(canonicalize_name(requirement.name))
    return sorted(extra for extra, names in added.items() if names <= installed)


def _extras_named(marker: str) -> list[str]:
    import re

    return re.findall(r"""extra\s*==\s*['"]([^'"]+)['"]""", marker)


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


def run(args: argparse.Namespace, out: Output) -> int:
    target = Path(args.config).absolute() if args.config else Path.cwd() / CONFIG_NAME
    folder = target.parent
    summary = None
    if args.source:
        venv = Path(args.source).expanduser()
        venv = Path(os.path.normpath(venv if venv.is_absolute() else Path.cwd() / venv))
        text = from_venv(folder, venv)
    else:
        text, summary = from_project(folder)
    _check(text)
    backup = write_config(target, text, args.force)
    if backup is not None:
        out.info(f"kept the old {target.name} as {backup.name}")
    if summary:
        out.info(summary)
    try:
        ignored = ignore_env_root(folder, _env_root(text))
    except ConfigError as exc:  # envs.toml is written: say what is left to do rather than fail
        out.info(f"warning: {exc.message}; {exc.hint}")
        ignored = None
    if ignored:
        out.info(f"added {ignored} to {folder / '.gitignore'}")
    out.info(f"wrote {target}; next: `envsync plan`")
    return 0


def _env_root(text: str) -> str:
    settings = tomllib.loads(text).get("settings", {})
    root = settings.get("root") if isinstance(settings, dict) else None
    return root if isinstance(root, str) else ".envs"


def ignore_env_root(folder: Path, root: str) -> str | None:
    """Add the env root to `folder`/.gitignore (made if missing); the line added, or None if already there."""
    path = folder / ".gitignore"
    entry = "/" + root.strip("/").removeprefix("./") + "/"
    try:
        text = path.read_text(encoding="utf-8") if path.exists() else ""
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}", f"add {entry} to it by hand") from None
    bare = entry.strip("/")
    if any(line.strip().strip("/") == bare for line in text.splitlines()):
        return None
    separator = "" if not text or text.endswith("\n") else "\n"
    try:
        with path.open("a", encoding="utf-8") as handle:
            handle.write(f"{separator}{entry}\n")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot write: {exc.strerror or exc}", f"add {entry} to it by hand") from None
    return entry


def _check(text: str) -> None:
    """What init writes must at least be TOML: a mistake here is envsync's bug, caught before writing."""
    try:
        tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:  # pragma: no cover - a bug in this module
        raise ConfigError(f"envsync init made invalid TOML ({exc}); please report it") from None
