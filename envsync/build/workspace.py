"""Scratch folders for builds, kept in the cache and swept when the run that made them is dead.

A build unpacks an sdist and lets a backend write into a folder; a run killed meanwhile
can't delete it. So every such folder lives in `<cache>/build-work/`, beside a lock file
its run holds (flock) while it lives. The kernel drops the lock when the process dies,
however it dies, so any later run that can take the lock knows the folder is debris.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

from envsync.files.cache import cache_subdir

TYPE_CHECKING = False  # not `typing.TYPE_CHECKING`: annotations only, no import at run time
if TYPE_CHECKING:
    from typing import TextIO

_LOCK = ".lock"
_STAGED_LOCK_SECONDS = 3600  # a lock not yet in place after this long was left by a dead run


@contextlib.contextmanager
def work_folder(kind: str) -> Iterator[Path]:
    """A new empty folder for one build step (`kind` names it), removed afterwards; debris of
    dead runs is swept first."""
    root = cache_subdir("build-work")
    sweep(root)
    name, lock = _hold_lock(root, kind)
    folder = root / name
    try:
        folder.mkdir()
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        with contextlib.suppress(OSError):
            os.unlink(root / f"{name}{_LOCK}")
        lock.close()


def _hold_lock(root: Path, kind: str) -> tuple[str, TextIO]:
    """A new folder name and its lock, taken before the lock appears under that name: a sweeper
    never sees it free."""
    while True:
        name = f"{kind}-{os.getpid()}-{secrets.token_hex(4)}"
        staged = root / f".{name}{_LOCK}"
        handle = open(staged, "w")  # noqa: SIM115 - held for the folder's whole life
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            os.replace(staged, root / f"{name}{_LOCK}")
            return name, handle
        except FileNotFoundError:  # swept between open and flock: take another
            handle.close()


def sweep(root: Path) -> list[str]:
    """Remove every folder under `root` whose run is gone (its lock is free, or gone). Returns their names."""
    swept: list[str] = []
    try:
        names = os.listdir(root)
    except OSError:
        return swept
    for name in names:
        path = root / name
        if name.endswith(_LOCK):
            if name.startswith(".") and not _older_than(path, _STAGED_LOCK_SECONDS):
                continue  # a run is taking it right now
            if _free(path):
                shutil.rmtree(root / name.removesuffix(_LOCK), ignore_errors=True)
                with contextlib.suppress(OSError):
                    os.unlink(path)
                if not name.startswith("."):
                    swept.append(name.removesuffix(_LOCK))
        elif not (root / f"{name}{_LOCK}").exists() and path.is_dir():
            # A lock appears before its folder and goes after it: a folder without one is debris.
            shutil.rmtree(path, ignore_errors=True)
            swept.append(name)
    return swept


def _free(lock_path: Path) -> bool:
    """Whether no live run holds this lock (then this call holds it, until it returns)."""
    try:
        with open(lock_path, "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
    except OSError:
        return False


def _older_than(path: Path, seconds: float) -> bool:
    import time

    try:
        return time.time() - path.stat().st_mtime > seconds
    except OSError:
        return False
