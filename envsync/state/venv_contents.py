"""Which entries of a venv folder belong to the venv, and which are someone's own files.

A venv adopted at `path = "."` shares its folder with the project: `src/`, notes, a git
repository. Recreating or removing such a venv would take them with it, so envsync only
ever replaces a venv folder whose every entry is the venv's own: its pyvenv.cfg, the
scripts and interpreter links the `venv` module or a package's RECORD put in bin/, the
lib*/pythonX.Y/ and include/ trees, data files a RECORD lists (share/...), and a
.gitignore that ignores the whole folder (what `venv` 3.13 and envsync write).
Anything else is a stranger, and its presence keeps the folder as it is.
"""

from __future__ import annotations

import os
import re
from dataclasses import replace
from pathlib import Path

from envsync.files.metadata import record_rows
from envsync.model import Actual, Desired, EnvKind

# What `python -m venv` puts in bin/ (or Scripts/) on any version: interpreter links,
# activation scripts, and the 3.13 `𝜋thon` joke link.
_VENV_SCRIPTS = re.compile(
    r"^(pythonw?(\d+(\.\d+)?)?t?(\.exe)?|activate(_this\.py|\.\w+)?|Activate\.ps1|deactivate(\.bat)?|𝜋thon)$")
_PYTHON_LIB = re.compile(r"^python\d+\.\d+t?$")
# Written into every venv folder envsync makes (Python 3.13's venv writes its own alike).
GITIGNORE = b"# Created by envsync: this folder is a virtual environment, kept out of git.\n*\n"


def ignores_everything(content: bytes) -> bool:
    """Whether a .gitignore is the one a venv tool writes: every rule in it is `*`."""
    rules = [line.strip() for line in content.splitlines() if line.strip() and not line.startswith(b"#")]
    return rules == [b"*"]


def strangers(root: Path) -> tuple[Path, ...]:
    """The entries of the venv folder `root` that are not part of the venv, shallowest first:
    a folder none of whose files a RECORD lists is named once, as a whole."""
    listed = _record_listed(root)
    found: list[Path] = []
    for entry in _entries(root):
        name, path = entry.name, Path(entry.path)
        is_dir = entry.is_dir(follow_symlinks=False)
        if name == "pyvenv.cfg" and entry.is_file(follow_symlinks=False):
            continue
        if name == ".gitignore" and entry.is_file(follow_symlinks=False) and ignores_everything(_head(path)):
            continue
        if name == "include" and is_dir:
            continue
        if name in ("bin", "Scripts") and is_dir:
            found += [Path(child.path) for child in _entries(path)
                      if not _VENV_SCRIPTS.match(child.name) and os.path.normpath(child.path) not in listed]
        elif name.startswith("lib") and is_dir:
            for child in _entries(path):
                if not (_PYTHON_LIB.match(child.name) and child.is_dir(follow_symlinks=False)):
                    found += _unlisted(Path(child.path), listed)
        elif name.startswith("lib") and entry.is_symlink() and os.readlink(path) in ("lib", "lib/"):
            continue  # lib64 -> lib, made by venv on some systems
        else:
            found += _unlisted(path, listed)
    return tuple(found)


def survey_for(desired: Desired, actual: Actual) -> Actual:
    """`actual`, with its strangers looked for when the plan would recreate the venv (the only
    time they matter: looking costs a read of every RECORD, too much for every `plan`)."""
    from envsync.state.planner import recreate_reason

    if actual.kind is not EnvKind.VENV or recreate_reason(desired, actual) is None:
        return actual
    return replace(actual, strangers=tuple(str(path) for path in strangers(actual.path)))


def _entries(folder: Path) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(folder) as found:
            return sorted(found, key=lambda entry: entry.name)
    except OSError:
        return []


def _head(path: Path) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read(4096)
    except OSError:
        return b""


def _record_listed(root: Path) -> frozenset[str]:
    """Every path (absolute, normalised) a RECORD in one of the venv's site-packages lists."""
    listed: set[str] = set()
    for site in root.glob("lib*/python*/site-packages"):
        for record in site.glob("*.dist-info/RECORD"):
            listed.update(os.path.normpath(os.path.join(site, row[0])) for row in record_rows(record))
    return frozenset(listed)


def _unlisted(path: Path, listed: frozenset[str]) -> list[Path]:
    """`path` if nothing under it is RECORD-listed and it holds a file; else its unlisted parts."""
    text = os.path.normpath(path)
    if not path.is_dir() or path.is_symlink():
        return [] if text in listed else [path]
    if not any(item.startswith(text + os.sep) for item in listed):
        return [path] if _holds_a_file(path) else []
    found: list[Path] = []
    for child in _entries(path):
        found += _unlisted(Path(child.path), listed)
    return found


def _holds_a_file(folder: Path) -> bool:
    """Whether anything but empty folders lies under `folder` (those an uninstall leaves are no one's)."""
    for current, folders, files in os.walk(folder):
        if files:
            return True
        if any(os.path.islink(os.path.join(current, name)) for name in folders):
            return True
    return False
