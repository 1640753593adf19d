"""Scripts and env-vars: what `[envs.NAME.scripts]` lines mean, and how they are inherited.

A script line is split like a POSIX shell (shlex) and run without one, so `&&`, `|` and
redirections are plain words: nothing a line holds can reach a shell by accident. Three
things are expanded, in this order, and only these:
- `{args}` / `{args:default words}`, a whole word, by the arguments after `--` (each stays
  one argument, whatever it holds), or by the default words when none were passed;
- `${VAR}` inside any word, from the env's env-vars, then the environment;
- a leading `- ` marks a line that may fail without stopping the script (tox's convention).

Pure functions: the checks run while the config is validated (so a bad line is an error
naming `envs.test.scripts.cov[1]` before anything runs), the expansion when a script runs.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from envsync.errors import ConfigError

TYPE_CHECKING = False  # not `typing.TYPE_CHECKING`: `run ENV -- CMD` imports this, and no typing
if TYPE_CHECKING:
    from typing import Any

SCRIPT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
VARIABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_ARGS = re.compile(r"\{args(?::([^{}]*))?\}")
# Stands in for an {args} word while a line is split: no one writes a NUL in a TOML string.
_SLOT = "\0args\0"
MAY_FAIL = "- "


@dataclass(frozen=True)
class Line:
    """One line of a script, split into words; `defaults` holds each {args} slot's default words."""

    words: tuple[str, ...]
    defaults: tuple[tuple[str, ...], ...]  # one per slot, in order of appearance
    may_fail: bool

    @property
    def takes_args(self) -> bool:
        return bool(self.defaults)


@dataclass(frozen=True)
class Step:
    """A line ready to run: its argv, and whether its failure stops the script."""

    argv: tuple[str, ...]
    may_fail: bool


def parse_line(text: str) -> Line:
    """A script line as words; ValueError (a reason to show after the key) when it can't be one."""
    may_fail = text.startswith(MAY_FAIL)
    body = text[len(MAY_FAIL):] if may_fail else text
    defaults: list[tuple[str, ...]] = []

    def slot(match: re.Match[str]) -> str:
        default = match.group(1)
        defaults.append(tuple(_split(default, "the {args:...} default")) if default else ())
        return _SLOT

    marked = _ARGS.sub(slot, body)
    if "{args" in marked:
        raise ValueError("an {args} placeholder is not closed: write {args} or {args:default words}")
    words = _split(marked, "the line")
    if not words:
        raise ValueError("is empty: write a command" + (" after `- `" if may_fail else ""))
    for word in words:
        if _SLOT in word and word != _SLOT:
            raise ValueError("{args} must be a whole word (each argument after `--` stays one word): "
                             "put spaces around it")
    if words[0] == _SLOT:
        raise ValueError("starts with {args}: name the command first, e.g. `pytest {args}`")
    return Line(tuple(words), tuple(defaults), may_fail)


def _split(text: str, what: str) -> list[str]:
    try:
        return shlex.split(text, comments=False, posix=True)
    except ValueError as exc:  # "No closing quotation", "No escaped character"
        raise ValueError(f"{what} can't be split like a shell line: {str(exc).lower()}") from None


def check_scripts(scripts: Mapping[str, Any]) -> dict[str, list[str]]:
    """Validate `[envs.NAME.scripts]` as written; each script as a list of lines. A ValueError's
    text starts with the script's sub-key (`.cov[1] ...`), which the config error puts after the key."""
    checked: dict[str, list[str]] = {}
    for name, value in scripts.items():
        if not SCRIPT_NAME.match(name):
            raise ValueError(f"{name!r} is not a valid script name: use letters, digits, -, _ and . "
                             "(no `:`, which separates ENV:SCRIPT on the command line)")
        lines = [value] if isinstance(value, str) else value
        if not isinstance(lines, list) or not lines:
            raise ValueError(f".{name} must be a command line or a non-empty list of them")
        for position, line in enumerate(lines):
            where = f".{name}" if isinstance(value, str) else f".{name}[{position}]"
            if not isinstance(line, str):
                raise ValueError(f"{where} must be a string, not {type(line).__name__}")
            try:
                parse_line(line)
            except ValueError as exc:
                raise ValueError(f"{where} {line!r}: {exc}") from None
        checked[name] = list(lines)
    return checked


def check_env_vars(values: Mapping[str, Any]) -> dict[str, str]:
    """Validate an `env-vars` table: variable names, string values."""
    for name, value in values.items():
        if not VARIABLE_NAME.match(name):
            raise ValueError(f".{name} is not a valid environment variable name (letters, digits and _, "
                             "not starting with a digit)")
        if not isinstance(value, str):
            raise ValueError(f".{name} must be a string, not {type(value).__name__}: quote it")
    return dict(values)


def script_fields(name: str, model: Any) -> dict[str, Any]:
    """The `scripts` and `env_vars` of EnvSpec for env `name` of a validated config (schema.FileModel),
    inheritance applied: the env's own entries win, then those of each env it inherits from, in
    the order listed (transitively), then (env-vars only) [settings]. `inherits` has no cycles
    by now: load checked it first."""
    def inherited(env: str, key: str) -> dict[str, Any]:
        declared = model.envs[env]
        merged: dict[str, Any] = {}
        for parent in reversed(declared.inherits):
            merged.update(inherited(parent, key))
        merged.update(getattr(declared, key))
        return merged

    env_vars = {**model.settings.env_vars, **inherited(name, "env_vars")}
    return {"scripts": tuple((script, tuple(lines)) for script, lines in inherited(name, "scripts").items()),
            "env_vars": tuple(env_vars.items())}


def expand_variables(word: str, environ: Mapping[str, str], where: str) -> str:
    """`word` with each `${VAR}` replaced from `environ`; an unset one is an error naming `where`."""
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in environ:
            raise ConfigError(f"{where}: ${{{name}}} is not set",
                              f"set {name} in the env's env-vars (or [settings] env-vars), or in the environment")
        return environ[name]

    return _VARIABLE.sub(value, word)


def script_steps(env: str, script: str, lines: Sequence[str], args: Sequence[str],
                 environ: Mapping[str, str]) -> list[Step]:
    """The argv of each line of `script`, {args} and ${VAR}s expanded, ready to run in `environ`
    (the env's environment, env-vars included). Arguments for a script of several lines that has
    no {args} are an error naming it: where they would go is the user's call, not ours."""
    parsed = [parse_line(text) for text in lines]
    if args and len(parsed) > 1 and not any(line.takes_args for line in parsed):
        raise ConfigError(f"script {env}:{script} has {len(parsed)} lines and none takes {{args}}, so the "
                          f"arguments after `--` ({shlex.join(args)}) have nowhere to go",
                          f"put {{args}} where they belong in envs.{env}.scripts.{script}, or run it without them")
    steps = []
    for position, line in enumerate(parsed):
        where = f"envs.{env}.scripts.{script}" + (f"[{position}]" if len(parsed) > 1 else "")
        defaults = iter(line.defaults)
        argv: list[str] = []
        for word in line.words:
            if word == _SLOT:
                default = next(defaults)
                argv += args if args else [expand_variables(part, environ, where) for part in default]
            else:
                argv.append(expand_variables(word, environ, where))
        if args and not line.takes_args and len(parsed) == 1:
            argv += args
        steps.append(Step(tuple(argv), line.may_fail))
    return steps


def with_env_vars(environ: Mapping[str, str], env_vars: Sequence[tuple[str, str]], env: str) -> dict[str, str]:
    """`environ` with the env's env-vars set, each value's `${VAR}`s expanded from `environ`
    (so `PATH = "${PATH}:/opt/tools"` keeps the env's bin/ first)."""
    result = dict(environ)
    for name, value in env_vars:
        result[name] = expand_variables(value, environ, f"env {env}: env-vars.{name}")
    return result
