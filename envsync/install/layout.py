"""Where each part of a wheel goes in a venv (posix layout), shared by installs and uninstalls."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

STAGED_SUFFIX = ".envsync-new"  # a new file waiting beside the old one it replaces
PROTECTED_SCRIPTS = re.compile(r"^python(\d+(\.\d+)?)?$")  # the venv's own interpreter links


@dataclass(frozen=True)
class SiteLayout:
    """Where each wheel scheme goes in one venv (posix layout)."""

    root: Path
    site_packages: Path
    scripts: Path
    include: Path  # headers go to include/<project name>/
    data: Path
    python: Path  # the interpreter written into script shebangs


def layout_for(venv: Path, python_short_version: str) -> SiteLayout:
    """The layout of a posix venv at `venv` made by Python `X.Y`."""
    if not re.fullmatch(r"\d+\.\d+", python_short_version):
        raise ValueError(f"expected a Python version like '3.12', got {python_short_version!r}")
    root = Path(os.path.abspath(venv))
    pyver = f"python{python_short_version}"
    return SiteLayout(
        root=root,
        site_packages=root / "lib" / pyver / "site-packages",
        scripts=root / "bin",
        include=root / "include" / "site" / pyver,
        data=root,
        python=root / "bin" / "python",
    )
