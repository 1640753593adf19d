"""tox's configuration, read into one neutral value per env, whatever file it came from.

tox.ini (or `[tool.tox] legacy_tox_ini`, the same INI in pyproject.toml) and the native TOML
form (tox.toml, `[tool.tox]`) are read here; `tox` translates the result. In the INI form an
env's settings are its `[testenv:NAME]` section over `[testenv]`, `{[section]key}` references
are followed, and factor-conditional lines (`django42: Django>=4.2,<4.3`, `!py38: ...`,
`{py311,py312}-cov: ...`) are kept only for the envs whose name has those factors.
"""

from __future__ import annotations

import configparser
import itertools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from envsync.migrate.files import read_ini, read_ini_text, read_toml, strings, table
from envsync.migrate.script_lines import command_line

_CONDITION = re.compile(r"^([A-Za-z0-9_{},!.-]+):\s+(.*)$")
_REFERENCE = re.compile(r"\{\[([^\]]+)\]([A-Za-z_]+)\}")

# Keys this translator reads; every other key an env sets is reported as not translated.
KNOWN = {"deps", "extras", "commands", "commands_pre", "commands_post", "setenv", "set_env", "skip_install",
         "usedevelop", "use_develop", "package", "basepython", "base_python", "description",
         "dependency_groups", "passenv", "pass_env", "allowlist_externals", "whitelist_externals"}


@dataclass(frozen=True)
class ToxEnv:
    """One tox env's settings, after inheritance and factor conditions, as text lines."""

    name: str
    origin: str | None            # the envlist item that generated it (`py{311,312}-django{42,50}`), if any
    values: tuple[tuple[str, tuple[str, ...]], ...]   # key -> its lines, keys in tox's spelling
    no_package: bool              # [tox] skipsdist / no_package

    def get(self, *keys: str) -> tuple[str, ...]:
        for key, lines in self.values:
            if key in keys:
                return lines
        return ()

    def has(self, *keys: str) -> bool:
        return any(key in keys for key, _ in self.values)


def find_tox(folder: Path, pyproject: dict[str, Any]) -> tuple[str, list[ToxEnv]] | None:
    """(the file it came from, its envs) for the first tox configuration tox itself would read."""
    tox_section = table(table(pyproject.get("tool")).get("tox"))
    if (folder / "tox.ini").is_file():
        return "tox.ini", _from_ini(read_ini(folder / "tox.ini"))
    if (folder / "setup.cfg").is_file():
        setup_cfg = read_ini(folder / "setup.cfg")
        if setup_cfg.has_section("tox:tox"):
            setup_cfg["tox"] = dict(setup_cfg["tox:tox"])
            return "setup.cfg [tox:tox]", _from_ini(setup_cfg)
    if isinstance(tox_section.get("legacy_tox_ini"), str):
        return "pyproject.toml [tool.tox] legacy_tox_ini", _from_ini(
            read_ini_text(tox_section["legacy_tox_ini"], "pyproject.toml [tool.tox] legacy_tox_ini"))
    if (folder / "tox.toml").is_file():
        return "tox.toml", _from_toml(read_toml(folder / "tox.toml"))
    if tox_section:
        return "pyproject.toml [tool.tox]", _from_toml(tox_section)
    return None


def expand(text: str) -> list[str]:
    """tox's generative names: `py{311,312}-django{42,50}` -> 4 names; `py3{8-10}` -> py38..py310."""
    match = re.search(r"\{([^{}]*)\}", text)
    if not match:
        return [text]
    inside = match.group(1)
    span = re.fullmatch(r"(\d+)-(\d+)", inside.strip())
    choices = ([str(n) for n in range(int(span.group(1)), int(span.group(2)) + 1)] if span
               else [part.strip() for part in inside.split(",")])
    return [name for choice in choices for name in expand(text[:match.start()] + choice + text[match.end():])]


def split_envlist(value: str) -> list[str]:
    """The items of an envlist: commas and newlines split it, except inside braces."""
    items, depth, current = [], 0, ""
    for char in value:
        depth += (char == "{") - (char == "}")
        if (char in ",\n" and depth == 0):
            items.append(current.strip())
            current = ""
        else:
            current += char
    items.append(current.strip())
    return [item for item in items if item and not item.startswith("#")]


def _from_ini(parser: configparser.ConfigParser) -> list[ToxEnv]:
    tox = parser["tox"] if parser.has_section("tox") else {}
    no_package = any(str(tox.get(key, "")).strip().lower() == "true" for key in ("skipsdist", "no_package"))
    envlist = split_envlist(str(tox.get("envlist", tox.get("env_list", ""))))
    named: list[tuple[str, str | None]] = [(name, item if "{" in item else None)
                                           for item in envlist for name in expand(item)]
    sections = {name: section for section in parser.sections() if section.startswith("testenv:")
                for name in expand(section.removeprefix("testenv:").strip())}
    named += [(name, None) for name in sections if name not in {n for n, _ in named}]
    if not named and parser.has_section("testenv"):
        named = [("py", None)]
    envs = []
    for name, origin in named:
        own = dict(parser[sections[name]]) if name in sections else {}
        base = dict(parser["testenv"]) if parser.has_section("testenv") else {}
        values = []
        for key in dict.fromkeys([*base, *own]):
            raw = own.get(key, base.get(key, ""))
            values.append((key, tuple(_lines(_follow_references(raw, parser), name))))
        envs.append(ToxEnv(name, origin, tuple(values), no_package))
    return envs


def _follow_references(raw: str, parser: configparser.ConfigParser, depth: int = 0) -> str:
    """`{[testenv]deps}` replaced by that section's value (as tox does), a few levels deep."""
    def one(match: re.Match[str]) -> str:
        section, key = _section_named(match.group(1), parser), match.group(2)
        if depth < 5 and section and parser.has_option(section, key):
            return _follow_references(parser.get(section, key), parser, depth + 1)
        return match.group(0)
    return _REFERENCE.sub(one, raw)


def _section_named(name: str, parser: configparser.ConfigParser) -> str | None:
    """The section `[name]` refers to: itself, or a generative one that makes it (`testenv:docs-{build,x}`)."""
    if parser.has_section(name):
        return name
    prefix, _, env = name.partition(":")
    return next((section for section in parser.sections()
                 if section.startswith(prefix + ":") and env in expand(section.partition(":")[2].strip())), None)


def _lines(raw: str, env: str) -> list[str]:
    """The lines of a value that apply to `env`: continuations joined, factor conditions applied."""
    joined = re.sub(r"\\\n\s*", " ", raw)
    out = []
    factors = set(env.split("-"))
    for line in joined.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        match = _CONDITION.match(line)
        if match:
            if not _applies(match.group(1), factors):
                continue
            line = match.group(2).strip()
        out.append(line)
    return out


def _applies(condition: str, factors: set[str]) -> bool:
    """tox's factor condition: `a,b` is either, `a-b` is both, `!a` is not a."""
    for alternative in (name for part in split_envlist(condition) for name in expand(part)):
        wanted = [factor for factor in alternative.split("-") if factor]
        if all((factor[1:] not in factors) if factor.startswith("!") else (factor in factors) for factor in wanted):
            return True
    return False


def _from_toml(document: dict[str, Any]) -> list[ToxEnv]:
    """tox's native TOML form: `env_list`, `[env_run_base]` under each `[env.NAME]`."""
    no_package = document.get("no_package") is True or document.get("skipsdist") is True
    names: list[tuple[str, str | None]] = []
    listed = document.get("env_list", document.get("envlist", []))
    for item in listed if isinstance(listed, list) else []:
        if isinstance(item, str):
            names.append((item, None))
        elif isinstance(item, dict) and isinstance(item.get("product"), list):
            factors = [strings(part) for part in item["product"]]
            item_text = "-".join("{" + ",".join(part) + "}" for part in factors)
            names += [("-".join(combo), item_text) for combo in itertools.product(*factors)]
    own_tables = table(document.get("env"))
    names += [(name, None) for name in own_tables if name not in {n for n, _ in names}]
    base = table(document.get("env_run_base"))
    envs = []
    for name, origin in names:
        merged = {**base, **table(own_tables.get(name))}
        values = [(key, _toml_lines(key, value)) for key, value in merged.items()]
        envs.append(ToxEnv(name, origin, tuple(values), no_package))
    return envs


def _toml_lines(key: str, value: Any) -> tuple[str, ...]:
    """A TOML value in the INI form's lines: commands as command lines, set_env as KEY=value."""
    if isinstance(value, bool):
        return ("true" if value else "false",)
    if isinstance(value, str):
        return (value,)
    if isinstance(value, dict) and key in ("set_env", "setenv"):
        return tuple(f"{name}={_toml_word(item)}" for name, item in value.items())
    if isinstance(value, list) and key.startswith("commands"):
        return tuple(command_line([_toml_word(word) for word in command]) if isinstance(command, list)
                     else _toml_word(command) for command in value)
    if isinstance(value, list):
        return tuple(_toml_word(item) for item in value)
    return (_toml_word(value),)


def _toml_word(value: Any) -> str:
    """One TOML value as text; tox's `{ replace = ... }` tables as the INI placeholder they stand for."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and value.get("replace") == "posargs":
        default = " ".join(strings(value.get("default")))
        return "{posargs:" + default + "}" if default else "{posargs}"
    if isinstance(value, dict) and value.get("replace") == "env" and isinstance(value.get("name"), str):
        return "{env:" + str(value["name"]) + "}"
    return "{" + f"unsupported:{value!r}".replace("{", "(").replace("}", ")") + "}"
