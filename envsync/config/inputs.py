"""What a config's meaning depends on besides its own text: one list for the config cache and the
no-op stamp, so neither can miss an input the other knows about.

Stdlib only: the no-op path imports this.
"""

from __future__ import annotations

import os
from pathlib import Path

TYPE_CHECKING = False  # not `typing.TYPE_CHECKING`: importing typing would cost the no-op path
if TYPE_CHECKING:
    from envsync.model import Config

# Replace index-url and extra-index-urls (CI mirrors).
OVERRIDE_VARIABLES = ("ENVSYNC_INDEX_URL", "ENVSYNC_EXTRA_INDEX_URLS")
# Read while loading any config: the overrides, and HOME for every `~` in a path.
CONFIG_VARIABLES = (*OVERRIDE_VARIABLES, "HOME")
# The most a requirements file may hold: far beyond any real one (a hashed lock of a thousand
# packages is ~1 MB), small enough that `-r /dev/zero`-like mistakes stop at once.
MAX_FILE_BYTES = 16 * 1024 * 1024


PYTHON_VERSION_FILE = ".python-version"


def config_files(config_path: Path) -> tuple[Path, ...]:
    """The files every config is read from: envs.toml, the pyproject.toml beside it (groups), and
    the .python-version beside it (the Python of envs that name none)."""
    return config_path, config_path.parent / "pyproject.toml", config_path.parent / PYTHON_VERSION_FILE


def digest_of_variable(name: str) -> str:
    """A variable's value as a digest (values may carry credentials, so they are never stored)."""
    import hashlib  # not at the top: the no-op path imports this module and needs no hashing

    value = os.environ.get(name)
    return "unset" if value is None else hashlib.sha256(value.encode()).hexdigest()


def other_inputs_unchanged(config: Config) -> bool:
    """Whether the requirements files and ${VAR}s `config` was read from are as they were then."""
    import hashlib

    for name, digest in config.variables:
        if digest_of_variable(name) != digest:
            return False
    for path, digest in config.files:
        try:
            if not _regular_and_small(path) or hashlib.sha256(Path(path).read_bytes()).hexdigest() != digest:
                return False
        except OSError:
            return False
    return True


def _regular_and_small(path: str) -> bool:
    """Whether `path` is a file that can be read whole: a FIFO or device put in a requirements file's
    place would hang or never end. Anything else is "changed", and loading the config says why."""
    import stat

    info = os.stat(path)
    return stat.S_ISREG(info.st_mode) and info.st_size <= MAX_FILE_BYTES
