"""Find the config file: `--config`, else the nearest envs.toml here or in a parent folder.

Kept apart from load.py so the no-op path can find the file without importing pydantic.
"""

from __future__ import annotations

from pathlib import Path

from envsync.errors import ConfigError

CONFIG_NAME = "envs.toml"


def lock_path(config_path: Path, env: str) -> Path:
    """Where env `env`'s PEP 751 lock lives: `pylock.<env>.toml` beside the config."""
    return config_path.parent / f"pylock.{env}.toml"


def find_config(explicit: str | None, start: Path | None = None) -> Path:
    """`explicit` if given, else the nearest envs.toml in the current folder or a parent."""
    if explicit:
        path = Path(explicit).expanduser().absolute()
        if path.is_dir() and (path / CONFIG_NAME).is_file():  # `-c DIR`: the folder holding envs.toml
            path = path / CONFIG_NAME
        if not path.is_file():
            raise ConfigError(f"{explicit}: no such config file", "check the --config path")
        return path
    here = (start or Path.cwd()).absolute()
    for folder in (here, *here.parents):
        candidate = folder / CONFIG_NAME
        if candidate.is_file():
            return candidate
    raise ConfigError(
        f"no {CONFIG_NAME} found in {here} or any parent folder",
        "run `envsync init` to write one, or pass --config PATH",
    )
