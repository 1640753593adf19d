"""Unpack an sdist (tar or zip) safely: nothing may land outside the target folder.

Links, devices and paths that are absolute or climb out with ".." are refused before
anything is written. tarfile's "data" filter does the same where this Python has it; the
checks by hand cover zip sdists and Pythons without the filter, so the rule is the same
everywhere.
"""

from __future__ import annotations

import os
import tarfile
import zipfile
from pathlib import Path, PurePosixPath

from envsync.errors import BuildFailed

SDIST_SUFFIXES = (".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".tar", ".zip")


def is_sdist(filename: str) -> bool:
    return filename.lower().endswith(SDIST_SUFFIXES)


def member_problem(name: str) -> str | None:
    """Why an archive member's name would escape the target folder, or None."""
    if not name or "\0" in name:
        return "has an empty name or a NUL character"
    normalized = name.replace("\\", "/")
    if normalized.startswith("/") or (len(normalized) > 1 and normalized[1] == ":"):
        return "is an absolute path"
    if ".." in PurePosixPath(normalized).parts:
        return "climbs out of the folder with '..'"
    return None


def extract_sdist(archive: Path, target: Path, label: str) -> Path:
    """Unpack `archive` into `target` (which must not exist) and return the project folder in it:
    the single top-level folder an sdist has, or `target` itself."""
    try:
        if archive.name.lower().endswith(".zip"):
            _extract_zip(archive, target, label)
        else:
            _extract_tar(archive, target, label)
    except (tarfile.TarError, zipfile.BadZipFile, EOFError) as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise BuildFailed(f"{label}: {archive.name} is not a readable source distribution: {detail}",
                          "the file is damaged; report it to the package's authors") from None
    entries = [entry for entry in target.iterdir()]
    if len(entries) == 1 and entries[0].is_dir() and not entries[0].is_symlink():
        return entries[0]
    return target


def _refuse(label: str, archive: Path, member: str, problem: str) -> BuildFailed:
    return BuildFailed(f"{label}: refusing to unpack {archive.name}: member {member!r} {problem}",
                       "envsync did not build it; the sdist may be corrupt or malicious")


def _extract_tar(archive: Path, target: Path, label: str) -> None:
    with tarfile.open(archive) as tar:
        members = tar.getmembers()
        for member in members:
            problem = member_problem(member.name)
            if problem is None and (member.isdev() or member.isfifo()):
                problem = "is a device or pipe"
            if problem is None and (member.issym() or member.islnk()):
                problem = _link_problem(member)
            if problem is None and not (member.isfile() or member.isdir() or member.issym() or member.islnk()):
                problem = "is not a regular file or folder"
            if problem:
                raise _refuse(label, archive, member.name, problem)
        target.mkdir(parents=True)
        if hasattr(tarfile, "data_filter"):
            try:
                tar.extractall(target, members=members, filter="data")
            except tarfile.FilterError as exc:
                raise _refuse(label, archive, getattr(exc, "tarinfo", None) and exc.tarinfo.name or "?",
                              str(exc)) from None
        else:  # pragma: no cover - Pythons before the data filter: the checks above stand in for it
            for member in members:
                member.mode = (member.mode | 0o600) & 0o755
            tar.extractall(target, members=members)  # noqa: S202 - every member checked above


def _link_problem(member: tarfile.TarInfo) -> str | None:
    """A link may only point inside the folder the archive unpacks to."""
    link = member.linkname.replace("\\", "/")
    if link.startswith("/"):
        return f"is a link to an absolute path ({member.linkname})"
    base = PurePosixPath(member.name.replace("\\", "/")).parent if member.issym() else PurePosixPath()
    depth = 0
    for part in (*base.parts, *PurePosixPath(link).parts):
        if part == "..":
            depth -= 1
            if depth < 0:
                return f"is a link pointing outside the folder ({member.linkname})"
        elif part not in ("", "."):
            depth += 1
    return None


def _extract_zip(archive: Path, target: Path, label: str) -> None:
    with zipfile.ZipFile(archive) as zf:
        infos = zf.infolist()
        for info in infos:
            problem = member_problem(info.filename)
            kind = (info.external_attr >> 16) & 0o170000
            if problem is None and kind not in (0, 0o100000, 0o040000):
                problem = "is a link or a device"
            if problem:
                raise _refuse(label, archive, info.filename, problem)
        target.mkdir(parents=True)
        root = os.path.realpath(target)
        for info in infos:
            dest = os.path.realpath(os.path.join(root, info.filename))
            if not (dest == root or dest.startswith(root + os.sep)):
                raise _refuse(label, archive, info.filename, "would be written outside the folder")
            zf.extract(info, root)
