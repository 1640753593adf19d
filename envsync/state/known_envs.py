"""Where a config's envs have been made, so an env is still found after it leaves the config's
sight: `settings.root` moved, or an env with its own `path` dropped from the config.

Kept in the cache, one small JSON file per config. It only ever adds candidates: an env is
removed only when its own pyvenv.cfg says this config made it (the planner checks).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Iterable
from pathlib import Path

from envsync.errors import EnvsyncError
from envsync.files.cache import cache_subdir, write_atomic


def _record(config_path: Path) -> Path:
    key = hashlib.sha256(str(config_path).encode()).hexdigest()[:24]
    return cache_subdir("env-paths") / f"{key}.json"


def known_env_paths(config_path: Path) -> list[Path]:
    """The env folders this config's envs were made in, as far as this machine remembers."""
    try:
        document = json.loads(_record(config_path).read_text(encoding="utf-8"))
    except (OSError, ValueError, EnvsyncError):
        return []
    if not isinstance(document, dict) or document.get("config") != str(config_path):
        return []
    return [Path(path) for path in document.get("envs", ()) if isinstance(path, str) and os.path.isabs(path)]


def remember_env_paths(config_path: Path, declared: Iterable[Path]) -> None:
    """Record the declared envs' folders, keeping earlier ones that still exist (an env not
    removed yet, say after `apply ENV`), and forgetting the ones that are gone."""
    paths = {str(path) for path in declared}
    paths |= {str(path) for path in known_env_paths(config_path) if path.is_dir()}
    document = {"config": str(config_path), "envs": sorted(paths)}
    # Only saves a later plan a look; failing to write it must not fail the command.
    with contextlib.suppress(OSError, EnvsyncError):
        write_atomic(_record(config_path), json.dumps(document).encode())


def known_configs() -> list[Path]:
    """Every config whose envs this machine remembers making, that is still there."""
    found = []
    for record in sorted(cache_subdir("env-paths").glob("*.json")):
        try:
            config = json.loads(record.read_text(encoding="utf-8")).get("config")
        except (OSError, ValueError, AttributeError):
            continue
        if isinstance(config, str) and os.path.isabs(config) and Path(config).is_file():
            found.append(Path(config))
    return found
