"""The values between the translators and the writer: envs as they will be written.

A draft keeps the order of its keys and the comments that go with them, so the writer
has no decisions left to make, and a translator's result can be checked without text.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

ENV_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")


@dataclass(frozen=True)
class Project:
    """The local project in an env: `project = "."` or its table form."""

    editable: bool = True
    extras: tuple[str, ...] = ()


@dataclass(frozen=True)
class Script:
    """A named script and its command lines (one line is written as a string, more as a list)."""

    name: str
    lines: tuple[str, ...]


@dataclass(frozen=True)
class Untranslated:
    """Something another tool declares that envs.toml cannot say; written as a comment."""

    tool: str      # "tox", "Hatch", "uv"
    what: str      # "script" (written in the env's scripts table), "setting", "env", ...
    reason: str    # short, for the summary: "shell syntax"
    text: str      # the comment line itself, without "# "


@dataclass(frozen=True)
class EnvDraft:
    """One `[envs.NAME]` table as init will write it, with its comments."""

    name: str
    comments: tuple[str, ...] = ()
    python: str | None = None
    project: Project | None = None
    dependencies: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    requirements: tuple[str, ...] = ()
    constraints: tuple[str, ...] = ()
    solve_group: str | None = None
    matrix: tuple[tuple[str, tuple[str, ...]], ...] = ()   # (key, values) in the order written
    env_vars: tuple[tuple[str, str], ...] = ()
    scripts: tuple[Script, ...] = ()
    untranslated: tuple[Untranslated, ...] = ()


@dataclass(frozen=True)
class Translation:
    """What one source tool gave: its envs, how many it translated, and what it left out."""

    envs: tuple[EnvDraft, ...] = ()
    translated: Counter[str] = field(default_factory=Counter)   # "tox env" -> 3, "Hatch script" -> 2
    notes: tuple[Untranslated, ...] = ()                        # not tied to one env
    settings_python: str | None = None


@dataclass(frozen=True)
class Document:
    """The whole envs.toml init writes: where it came from, `[settings]`, and the envs."""

    sources: tuple[str, ...]
    settings_python: str | None
    envs: tuple[EnvDraft, ...]
    notes: tuple[Untranslated, ...]
    translated: Counter[str]


def valid_name(raw: str, taken: set[str]) -> str:
    """`raw` as an env name envs.toml accepts (no dots: py3.12 -> py3-12), unique among `taken`."""
    name = re.sub(r"[^A-Za-z0-9_-]+", "-", raw).strip("-_") or "env"
    if not name[0].isalnum():
        name = f"env-{name}"
    if name.lower() in ("envsync", "locks", "tmp"):
        name = f"{name}-env"
    candidate, number = name[:60], 2
    while candidate.lower() in {t.lower() for t in taken}:
        candidate, number = f"{name[:56]}-{number}", number + 1
    taken.add(candidate)
    return candidate


def summary(document: Document) -> str:
    """`translated 6 tox envs, 2 Hatch scripts left as comments: shell syntax`."""
    done = [_count(number, kind) for kind, number in document.translated.items() if number]
    left: Counter[tuple[str, str]] = Counter()
    reasons: dict[tuple[str, str], list[str]] = {}
    every = [*document.notes, *(n for env in document.envs for n in env.untranslated)]
    for note in dict.fromkeys(every):   # an inherited script left out in five envs is one script left out
        key = (note.tool, note.what)
        left[key] += 1
        if note.reason not in reasons.setdefault(key, []):
            reasons[key].append(note.reason)
    parts = [f"translated {', '.join(done)}" if done else "translated nothing from another tool"]
    parts += [f"{_count(number, f'{tool} {what}')} left as {'a comment' if number == 1 else 'comments'}: "
              f"{', '.join(reasons[(tool, what)])}"
              for (tool, what), number in left.items()]
    return ", ".join(parts)


def _count(number: int, kind: str) -> str:
    return f"{number} {kind}{'' if number == 1 else 's'}"
