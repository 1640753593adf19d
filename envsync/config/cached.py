"""The config cache: a validated Config kept as plain JSON, so the next run needs no pydantic.

JSON rather than pickle, because a file in a cache folder must never be able to run code:
at worst a bad entry describes a wrong config, and an entry is only read when this user
owns it and nobody else may read or write it (the files are 0600 in a 0700 folder). An
entry's name is a digest of everything that changes what the config means, so an entry
made under other inputs is never found.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from packaging.requirements import Requirement

from envsync.config.inputs import CONFIG_VARIABLES, config_files
from envsync.files.cache import format_tag, private_subdir, read_private, write_atomic
from envsync.model import Config, EnvSpec, IndexSettings, ProjectSpec


def entry_for(config_path: Path) -> Path:
    """Where the Config loaded from `config_path`, with today's inputs, is kept."""
    return private_subdir("configs") / f"{key(config_path)}.json"


def key(config_path: Path) -> str:
    """A digest of the config's and pyproject.toml's bytes, the config's path, the variables
    read while loading, the shape of the values kept (`entry_format`) and the versions of
    envsync and packaging (which parses requirements)."""
    import packaging

    from envsync import __version__

    digest = hashlib.sha256()

    def part(data: bytes) -> None:  # length-prefixed, so no two sequences of parts digest alike
        digest.update(b"%d:" % len(data) + data)

    for text in (entry_format(), __version__, packaging.__version__):
        part(text.encode())
    part(os.fsencode(config_path))
    for source in config_files(config_path):
        try:
            part(b"=" + source.read_bytes())
        except OSError:
            part(b"absent")
    for name in CONFIG_VARIABLES:
        value = os.environ.get(name)
        part(b"unset" if value is None else b"=" + os.fsencode(value))
    return digest.hexdigest()[:40]


def read(entry: Path) -> Config | None:
    """The Config kept at `entry`, or None when there is none this user alone could have written."""
    data = read_private(entry)
    if data is None:  # none, a link, a folder, unreadable, not private: validate again
        return None
    try:
        return decode(json.loads(data))
    except (ValueError, KeyError, TypeError, AttributeError):  # InvalidRequirement is a ValueError
        return None


def write(entry: Path, config: Config) -> None:
    """Keep `config` at `entry`, readable by this user only; failing to only costs a later run time.

    A config whose direct references carry credentials (a `${TOKEN}` expanded into a URL) is not
    kept: a secret is written nowhere, and such a config is read again on every run."""
    if any("@" in urllib.parse.urlsplit(requirement.url).netloc
           for env in config.envs for requirement in env.requirements if requirement.url):
        return
    with contextlib.suppress(OSError):
        write_atomic(entry, json.dumps(encode(config)).encode(), mode=0o600)


# The only types an entry can name: decoding calls these constructors with plain data, nothing else.
_VALUES: dict[str, Callable[..., Any]] = {
    "Config": Config, "EnvSpec": EnvSpec, "IndexSettings": IndexSettings, "ProjectSpec": ProjectSpec,
}


def entry_format() -> str:
    """The entries' format, derived from the fields of every value they keep (see format_tag)."""
    return format_tag(*_VALUES.values())


def encode(config: Config) -> dict[str, Any]:
    """`config` as JSON-ready data. Every field of every value is kept, whatever the model adds,
    so the cache can't silently drop one (a new kind of value must be named in `_VALUES`)."""
    return {"format": entry_format(), "config": _encode(config)}


def _encode(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        kind = type(value).__name__
        if kind not in _VALUES:
            raise TypeError(f"{kind} is not a value the config cache keeps")
        return {"$": kind, **{f.name: _encode(getattr(value, f.name)) for f in dataclasses.fields(value)}}
    if isinstance(value, Path):
        return {"$path": str(value)}
    if isinstance(value, Requirement):
        return {"$requirement": str(value)}
    if isinstance(value, frozenset):
        return {"$frozenset": sorted(_encode(item) for item in value)}
    if isinstance(value, tuple):
        return {"$tuple": [_encode(item) for item in value]}
    if value is None or isinstance(value, (str, int, bool)):
        return value
    raise TypeError(f"the config cache can't keep a {type(value).__name__}")


def decode(document: dict[str, Any]) -> Config:
    """The Config `encode` wrote; any other shape raises (ValueError, KeyError, TypeError)."""
    if document["format"] != entry_format():
        raise ValueError("another format")
    config = _decode(document["config"])
    if not isinstance(config, Config):
        raise TypeError("not a Config")
    return config


def _decode(data: Any) -> Any:
    if isinstance(data, dict):
        if "$" in data:
            fields = {name: _decode(value) for name, value in data.items() if name != "$"}
            return _VALUES[data["$"]](**fields)
        ((tag, inner),) = data.items()
        decoders: dict[str, Callable[[Any], Any]] = {
            "$path": lambda text: Path(str(text)),
            "$requirement": lambda text: Requirement(str(text)),
            "$frozenset": lambda items: frozenset(_decode(item) for item in items),
            "$tuple": lambda items: tuple(_decode(item) for item in items),
        }
        return decoders[tag](inner)
    if data is None or isinstance(data, (str, int, bool)):
        return data
    raise TypeError(f"unexpected {type(data).__name__} in a config cache entry")
