"""Reading the other tools' files: TOML and INI with the stdlib, each error naming the file."""

from __future__ import annotations

import configparser
import tomllib
from pathlib import Path
from typing import Any

from envsync.errors import ConfigError


def read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path.name}: cannot read: {exc}", f"fix {path.name}, then run init again") from None


def read_ini_text(text: str, name: str) -> configparser.ConfigParser:
    """An INI document as tox reads it: no interpolation, keys case-sensitive, `#`/`;` comments."""
    parser = configparser.ConfigParser(interpolation=None, strict=False, delimiters=("=",),
                                       comment_prefixes=("#", ";"), inline_comment_prefixes=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    try:
        parser.read_string(text, source=name)
    except configparser.Error as exc:
        first = str(exc).splitlines()[0]
        raise ConfigError(f"{name}: cannot read: {first}", f"fix {name}, then run init again") from None
    return parser


def read_ini(path: Path) -> configparser.ConfigParser:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path.name}: cannot read: {exc}", f"fix {path.name}, then run init again") from None
    return read_ini_text(text, path.name)


def table(value: Any) -> dict[str, Any]:
    """`value` when it is a TOML table, else an empty one (a wrong type is the other tool's problem)."""
    return value if isinstance(value, dict) else {}


def strings(value: Any) -> list[str]:
    """The strings of a TOML array (or a lone string), others dropped."""
    if isinstance(value, str):
        return [value]
    return [item for item in value if isinstance(item, str)] if isinstance(value, list) else []
