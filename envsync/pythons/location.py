"""Where the Pythons envsync installs live (stdlib only: the no-op stamp watches this folder).

envsync's data folder, never the cache, which a prune may empty while envs still use them:
ENVSYNC_PYTHON_INSTALL_DIR, else $XDG_DATA_HOME/envsync/python, else ~/.local/share/envsync/python.
"""

from __future__ import annotations

import os
from pathlib import Path

INSTALL_DIR_VARIABLE = "ENVSYNC_PYTHON_INSTALL_DIR"


def install_dir() -> Path:
    configured = os.environ.get(INSTALL_DIR_VARIABLE)
    if configured:
        return Path(configured).expanduser().absolute()
    data_home = os.environ.get("XDG_DATA_HOME")
    base = Path(data_home).expanduser() if data_home else Path.home() / ".local" / "share"
    return base / "envsync" / "python"
