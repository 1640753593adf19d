"""A `Document` as envs.toml text: plain text generation, so every comment sits where it belongs.

Strings are written as JSON strings, which are valid TOML basic strings; keys that are not
bare TOML keys are quoted the same way.
"""

from __future__ import annotations

import json
import re

from envsync.migrate.document import Document, EnvDraft, Project

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")

HEADER = """\
# envs.toml: the Python environments of this project, for envsync.
# `envsync plan` shows what would change, `envsync apply` makes it so.
# Written by `envsync init`{sources}; edit freely (docs/configuration.md lists every key).
"""


def quote(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def key(name: str) -> str:
    return name if _BARE_KEY.match(name) else quote(name)


def string_list(values: tuple[str, ...] | list[str], indent: str = "    ", one_line_only: bool = False) -> str:
    """A short list on one line, a longer one a value per line (diffs stay readable); inside an
    inline table always one line."""
    if not values:
        return "[]"
    one_line = "[" + ", ".join(quote(v) for v in values) + "]"
    if one_line_only or (len(one_line) <= 60 and len(values) <= 3):
        return one_line
    return "[\n" + "".join(f"{indent}{quote(v)},\n" for v in values) + "]"


def render(document: Document) -> str:
    sources = f" from {', '.join(document.sources)}" if document.sources else ""
    parts = [HEADER.format(sources=sources), "\n[settings]\n"]
    if document.settings_python:
        parts.append(f"python = {quote(document.settings_python)}\n")
    parts.append('# root = ".envs"                       # folder for envs that have no `path`\n'
                 '# index-url = "https://pypi.org/simple"  # where packages come from\n')
    for note in document.notes:
        parts.append(f"# {note.text}\n")
    for env in document.envs:
        parts.append(_env(env))
    return "".join(parts)


def _env(env: EnvDraft) -> str:
    lines = ["\n"]
    lines += [f"# {comment}\n" if comment else "#\n" for comment in env.comments]
    lines.append(f"[envs.{key(env.name)}]\n")
    if env.python:
        lines.append(f"python = {quote(env.python)}\n")
    if env.project is not None:
        lines.append(f"project = {_project(env.project)}\n")
    lists = {"dependencies": env.dependencies, "groups": env.groups, "requirements": env.requirements,
             "constraints": env.constraints}
    lines += [f"{name} = {string_list(values)}\n" for name, values in lists.items() if values]
    if env.solve_group:
        lines.append(f"solve-group = {quote(env.solve_group)}\n")
    if env.matrix:
        inner = ", ".join(f"{key(name)} = {string_list(values, one_line_only=True)}" for name, values in env.matrix)
        lines.append(f"matrix = {{ {inner} }}\n")
    if env.env_vars:
        inner = ", ".join(f"{key(name)} = {quote(value)}" for name, value in env.env_vars)
        lines.append(f"env-vars = {{ {inner} }}\n")
    lines += [f"# {note.text}\n" for note in env.untranslated if note.what != "script"]
    commented = [note for note in env.untranslated if note.what == "script"]
    if env.scripts or commented:
        lines.append(f"\n[envs.{key(env.name)}.scripts]\n")
        for script in env.scripts:
            value = quote(script.lines[0]) if len(script.lines) == 1 else string_list(script.lines)
            lines.append(f"{key(script.name)} = {value}\n")
        lines += [f"# {note.text}\n" for note in commented]
    return "".join(lines)


def _project(project: Project) -> str:
    if project.editable and not project.extras:
        return '"."'
    fields = ['path = "."']
    if not project.editable:
        fields.append("editable = false")
    if project.extras:
        fields.append(f"extras = {string_list(project.extras)}")
    return "{ " + ", ".join(fields) + " }"
