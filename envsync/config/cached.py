"""The config cache: a validated Config kept as plain JSON, so the next run needs no pydantic.

JSON rather than pickle, because a file in a cache folder must never be able to run code:
at worst a bad entry describes a wrong config, and an entry is only read when this user
owns it and nobody else may read or write it (the files are 0600 in a 0700 folder). An
entry's name is a digest of everything that changes what the config means, so an entry
made under other inputs is never found.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from packaging.requirements import Requirement

from ..cache import cache_subdir, write_atomic
from ..model import Config, EnvSpec, IndexSettings

FORMAT = 3  # bump when the shape of an entry changes
# Read while loading: the index overrides, and HOME for every `~` in a path.
VARIABLES = ("ENVSYNC_INDEX_URL", "ENVSYNC_EXTRA_INDEX_URLS", "HOME")


def entry_for(config_path: Path) -> Path:
    """Where the Config loaded from `config_path`, with today's inputs, is kept."""
    folder = cache_subdir("configs")
    with contextlib.suppress(OSError):
        info = os.stat(folder)
        if info.st_mode & 0o077 and info.st_uid == os.getuid():
            os.chmod(folder, 0o700)
    return folder / f"{key(config_path)}.json"


def key(config_path: Path) -> str:
    """A digest of the config's and pyproject.toml's bytes, the config's path, the variables
    read while loading, and the versions of envsync and packaging (which parses requirements)."""
    import packaging

    from .. import __version__

    digest = hashlib.sha256()

    def part(data: bytes) -> None:  # length-prefixed, so no two sequences of parts digest alike
        digest.update(b"%d:" % len(data) + data)

    for text in (str(FORMAT), __version__, packaging.__version__):
        part(text.encode())
    part(os.fsencode(config_path))
    for source in (config_path, config_path.parent / "pyproject.toml"):
        try:
            part(b"=" + source.read_bytes())
        except OSError:
            part(b"absent")
    for name in VARIABLES:
        value = os.environ.get(name)
        part(b"unset" if value is None else b"=" + os.fsencode(value))
    return digest.hexdigest()[:40]


def read(entry: Path) -> Config | None:
    """The Config kept at `entry`, or None when there is none this user alone could have written."""
    try:
        with open(os.open(entry, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0)), "rb") as handle:
            info = os.fstat(handle.fileno())
            if info.st_uid != os.getuid() or info.st_mode & 0o077:
                return None
            data = handle.read()
    except OSError:  # none, a link, a folder, unreadable: validate again
        return None
    try:
        return decode(json.loads(data))
    except (ValueError, KeyError, TypeError, AttributeError):  # InvalidRequirement is a ValueError
        return None


def write(entry: Path, config: Config) -> None:
    """Keep `config` at `entry`, readable by this user only; failing to only costs a later run time."""
    with contextlib.suppress(OSError):
        write_atomic(entry, json.dumps(encode(config)).encode(), mode=0o600)


def encode(config: Config) -> dict[str, Any]:
    indexes: list[IndexSettings] = []
    for env in config.envs:
        if env.index not in indexes:
            indexes.append(env.index)
    return {
        "format": FORMAT,
        "path": str(config.path),
        "root": str(config.root),
        "indexes": [
            {"index_url": index.index_url, "extra_index_urls": list(index.extra_index_urls),
             "find_links": list(index.find_links), "prereleases": index.prereleases,
             "configured": list(index.configured)}
            for index in indexes
        ],
        "envs": [
            {"name": env.name, "path": str(env.path), "display_path": env.display_path, "python": env.python,
             "requirements": [str(requirement) for requirement in env.requirements],
             "index": indexes.index(env.index)}
            for env in config.envs
        ],
    }


def decode(document: dict[str, Any]) -> Config:
    """The Config `encode` wrote; any other shape raises (ValueError, KeyError, TypeError)."""
    if document["format"] != FORMAT:
        raise ValueError("another format")
    indexes = [
        IndexSettings(index_url=index["index_url"], extra_index_urls=tuple(index["extra_index_urls"]),
                      find_links=tuple(index["find_links"]), prereleases=index["prereleases"],
                      configured=tuple(index["configured"]))
        for index in document["indexes"]
    ]
    envs = tuple(
        EnvSpec(name=env["name"], path=Path(env["path"]), display_path=env["display_path"], python=env["python"],
                requirements=tuple(Requirement(text) for text in env["requirements"]), index=indexes[env["index"]])
        for env in document["envs"]
    )
    return Config(path=Path(document["path"]), root=Path(document["root"]), envs=envs)
