"""Unpack an sdist (tar or zip) safely, through envsync.files.archives: nothing may land
outside the target folder."""

from __future__ import annotations

from pathlib import Path

from envsync.errors import BuildFailed
from envsync.files.archives import UnreadableArchive, UnsafeArchive, extract

SDIST_SUFFIXES = (".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".tar", ".zip")


def is_sdist(filename: str) -> bool:
    return filename.lower().endswith(SDIST_SUFFIXES)


def extract_sdist(archive: Path, target: Path, label: str) -> Path:
    """Unpack `archive` into `target` (which must not exist) and return the project folder in it:
    the single top-level folder an sdist has, or `target` itself."""
    try:
        extract(archive, target)
    except UnsafeArchive as exc:
        raise BuildFailed(f"{label}: refusing to unpack {archive.name}: {exc.message}",
                          "envsync did not build it; the sdist may be corrupt or malicious") from None
    except UnreadableArchive as exc:
        raise BuildFailed(f"{label}: {archive.name} is not a readable source distribution: "
                          f"{exc.message.partition(': ')[2]}",
                          "the file is damaged; report it to the package's authors") from None
    entries = [entry for entry in target.iterdir()]
    if len(entries) == 1 and entries[0].is_dir() and not entries[0].is_symlink():
        return entries[0]
    return target
