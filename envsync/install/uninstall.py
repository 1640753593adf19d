"""Take an installed package out of a venv by its RECORD, and never anything outside the venv.

Whatever RECORD says, only files and links inside the env are removed, one by one, and no
tree but the package's own .dist-info; the venv's interpreter links and pyvenv.cfg stay.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path

from envsync.errors import EnvsyncError
from envsync.files.metadata import record_rows
from envsync.install.layout import PROTECTED_SCRIPTS, STAGED_SUFFIX, SiteLayout
from envsync.install.shared import SharedFiles


def checked_dist_info(dist_info: Path, layout: SiteLayout, verb: str) -> Path:
    """`dist_info` as an absolute path, once it is known to be a .dist-info folder directly in
    the venv's site-packages and no symbolic link: RECORD is only trusted from there."""
    dist_info = Path(os.path.abspath(dist_info))
    site = Path(os.path.realpath(layout.site_packages))
    if not dist_info.name.endswith(".dist-info") or Path(os.path.realpath(dist_info.parent)) != site:
        raise EnvsyncError(f"refusing to {verb} {dist_info}: not a .dist-info folder in {layout.site_packages}")
    if dist_info.is_symlink():
        raise EnvsyncError(f"refusing to {verb} {dist_info}: it is a symbolic link")
    return dist_info


def uninstall(dist_info: Path, layout: SiteLayout, shared: SharedFiles | None = None) -> None:
    """Remove the files `dist_info`'s RECORD lists inside the venv, but those another package's
    RECORD lists too (`shared`, read from the env when not given), then the dist-info itself."""
    dist_info = checked_dist_info(dist_info, layout, "uninstall")
    shared = shared or SharedFiles(layout)
    leaving = {str(dist_info)}
    if not dist_info.is_dir():
        return  # already gone
    # INSTALLER goes first and RECORD last, so a kill at any moment leaves a dist-info that
    # reads as incomplete (no INSTALLER) yet still lists every file left to remove.
    staged = not (dist_info / "INSTALLER").exists()  # a killed replace_wheel may have left new files beside
    with contextlib.suppress(FileNotFoundError):
        os.unlink(dist_info / "INSTALLER")
    record = dist_info / "RECORD"
    touched: set[Path] = set()
    for listed in record_paths(record):
        if staged:
            touched |= remove_listed(listed + STAGED_SUFFIX, layout)
        target = os.path.normpath(os.path.join(layout.site_packages, listed))
        if Path(target) != record and not shared.kept(target, leaving):
            touched |= remove_listed(listed, layout)
    prune(touched, layout)
    if dist_info.is_dir():
        shutil.rmtree(dist_info)
    shared.removed(str(dist_info))


def record_paths(record: Path) -> Iterator[str]:
    """The first column of a RECORD; nothing when it is missing or unreadable."""
    for row in record_rows(record):
        yield row[0]


def remove_listed(listed: str, layout: SiteLayout) -> set[Path]:
    """Unlink one RECORD path if it is a file or symlink inside the venv; the folders it touched."""
    target = Path(os.path.normpath(os.path.join(layout.site_packages, listed)))
    if not _removable(target, layout):
        return set()
    try:
        mode = os.lstat(target).st_mode
    except OSError:
        return set()  # already gone: uninstall is idempotent
    if not (stat.S_ISREG(mode) or stat.S_ISLNK(mode)):
        return set()
    os.unlink(target)
    touched = {target.parent}
    if target.suffix == ".py":
        touched |= _remove_bytecode(target)
    return touched


def _removable(target: Path, layout: SiteLayout) -> bool:
    """Inside the venv both as written and after following symlinked folders; not the venv's own files."""
    if not target.is_relative_to(Path(os.path.normpath(layout.root))):
        return False
    if not Path(os.path.realpath(target.parent)).is_relative_to(Path(os.path.realpath(layout.root))):
        return False
    if target == layout.root / "pyvenv.cfg":
        return False
    return not (target.parent == layout.scripts and PROTECTED_SCRIPTS.match(target.name))


def _remove_bytecode(source: Path) -> set[Path]:
    cache = source.parent / "__pycache__"
    if cache.is_symlink() or not cache.is_dir():
        return set()
    pattern = re.compile(re.escape(source.stem) + r"\.[^.]+(\.opt-\d+)?\.pyc")
    for entry in os.scandir(cache):
        if pattern.fullmatch(entry.name) and not entry.is_dir(follow_symlinks=False):
            os.unlink(entry.path)
    return {cache}


def prune(folders: set[Path], layout: SiteLayout) -> None:
    """Remove folders left empty, bottom-up, stopping at the scheme roots."""
    roots = [layout.site_packages, layout.scripts, layout.include]
    for folder in sorted(folders, key=lambda path: len(path.parts), reverse=True):
        while any(folder != root and folder.is_relative_to(root) for root in roots):
            try:
                os.rmdir(folder)
            except OSError:
                break  # not empty (or already gone with a sibling): stop climbing
            folder = folder.parent
