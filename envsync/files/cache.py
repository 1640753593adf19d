"""Where envsync keeps what it can reuse: downloads, unpacked wheels, metadata, probes.

Everything in the cache is keyed by content (a sha256) or by what it was derived
from, and written by rename so a reader never sees half a file.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import threading
from pathlib import Path
from typing import Any


def cache_dir() -> Path:
    """ENVSYNC_CACHE_DIR, else $XDG_CACHE_HOME/envsync, else ~/.cache/envsync."""
    explicit = os.environ.get("ENVSYNC_CACHE_DIR")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "envsync"


# Subfolder paths by the variables that place them: an apply asks for them a hundred times.
_SUBDIRS: dict[tuple[str | None, str | None, str | None, str], Path] = {}


def cache_subdir(name: str) -> Path:
    environ = os.environ
    key = (environ.get("ENVSYNC_CACHE_DIR"), environ.get("XDG_CACHE_HOME"), environ.get("HOME"), name)
    path = _SUBDIRS.get(key)
    if path is None:
        path = _SUBDIRS[key] = cache_dir() / name
    if os.path.isdir(path):  # one look, where mkdir would fail, raise and look anyway
        return path
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        from envsync.errors import from_os_error

        error = from_os_error(exc, cache_dir())
        error.hint = "set ENVSYNC_CACHE_DIR to a writable folder, or fix this one"
        raise error from exc
    return path


def private_subdir(name: str) -> Path:
    """A cache folder for entries only this user may read or write (0700): what is kept there is
    trusted when read back (a parsed config or lock), so nobody else may have put it there."""
    folder = cache_subdir(name)
    with contextlib.suppress(OSError):
        info = os.stat(folder)
        if info.st_mode & 0o077 and info.st_uid == os.getuid():
            os.chmod(folder, 0o700)
    return folder


def read_private(entry: Path) -> bytes | None:
    """The bytes of a private entry (written with mode 0o600), or None when there is none this
    user alone could have written: missing, a link, a folder, another owner's, or readable by others."""
    try:
        with open(os.open(entry, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0)), "rb") as handle:
            info = os.fstat(handle.fileno())
            if info.st_uid != os.getuid() or info.st_mode & 0o077:
                return None
            return handle.read()
    except OSError:
        return None


def write_atomic(target: Path, data: bytes, mode: int = 0o644) -> None:
    """Write `data` to `target` through a temp file in the same folder and a rename.

    The temp file is made new (O_EXCL: never through a link someone left there) and private
    (0600) until its bytes are in, then given `mode`. A cold lock writes some 350 cache entries:
    the folder is made only when the first try finds it missing, and the temp name is this
    thread's own, where tempfile.mkstemp's random names and a mkdir per write cost ~70 us each."""
    fd, tmp = _new_temp(target)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, mode)  # cached and lock files are meant to be shared
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


_TEMPS = itertools.count()


def _new_temp(target: Path) -> tuple[int, str]:
    """A new 0600 file beside `target` (its folder made if missing): its descriptor and path."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
    folder_made = False
    for _ in range(100):
        tmp = os.path.join(target.parent, f".tmp-{os.getpid()}-{threading.get_ident()}-{next(_TEMPS)}")
        try:
            return os.open(tmp, flags, 0o600), tmp
        except FileNotFoundError:
            if folder_made:
                raise
            target.parent.mkdir(parents=True, exist_ok=True)
            folder_made = True
        except FileExistsError:
            continue  # left by a process that had this pid and ended without cleaning up
    raise FileExistsError(f"no free temporary name beside {target}")


def format_tag(*classes: Any) -> str:
    """A short digest of these dataclasses' names and fields (name and declared type, in order).

    A cache of such values is tagged with it, so a value that gains, loses or reorders a field
    can never load an entry written with the old shape: no format number to remember to bump."""
    import dataclasses
    import hashlib

    shapes = [f"{cls.__name__}(" + ",".join(f"{f.name}:{f.type}" for f in dataclasses.fields(cls)) + ")"
              for cls in classes]
    return hashlib.sha256(";".join(shapes).encode()).hexdigest()[:16]
