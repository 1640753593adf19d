"""Unpack a tar or zip archive so that nothing lands outside the target folder: every archive
envsync unpacks (sdists; Python build archives) goes through here.

Names are checked first, for the whole archive, before anything is written: no absolute
paths, no `..`, no devices or pipes, no absolute link targets. Links are then judged
member by member against what is on disk, never by their text: a path is resolved one
component at a time, following the links already written, and a link (symbolic or hard)
is written only when it resolves inside the folder. Path-length tricks (a chain of long
folder names and links, CVE-2025-4517) can't make a path look shorter than it is: a
path the system can't resolve is refused, never judged by its text. After each link or
replaced entry, every link written so far is resolved again, since a later member can
change what an earlier link means. Files and folders are only ever written at the real
location of their parent, never through a link. On any refusal the folder is removed.
"""

from __future__ import annotations

import errno
import lzma
import os
import shutil
import stat
import tarfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from envsync.errors import EnvsyncError

TYPE_CHECKING = False  # not `typing.TYPE_CHECKING`: annotations only, no import at run time
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import IO

    Opener = Callable[["Member"], IO[bytes] | None]  # a member's reader; tarfile has none for a non-file

_MAX_LINK_HOPS = 40  # as the kernel's own limit on following links
_CHUNK = 1 << 20
# Errors writing a member that come from the archive's shape, not from the disk.
_REFUSED_ERRNOS = frozenset({errno.ENAMETOOLONG, errno.ELOOP, errno.ENOTDIR, errno.EISDIR, errno.EEXIST,
                             errno.EMLINK, errno.EXDEV})


class UnsafeArchive(EnvsyncError):
    """An archive member that would land outside the folder, or is no plain file, folder or link."""

    def __init__(self, member: str, problem: str) -> None:
        super().__init__(f"member {member!r} {problem}")
        self.member, self.problem = member, problem


class UnreadableArchive(EnvsyncError):
    """An archive that is damaged or in no format envsync reads."""


@dataclass(frozen=True)
class Member:
    """One archive entry, whatever the format: its kind, name, link target and mode."""

    name: str
    kind: str  # "file", "dir", "symlink", "hardlink"
    link: str = ""
    mode: int = 0o644


def name_problem(name: str) -> str | None:
    """Why a member's name would escape the target folder, or None."""
    if not name or "\0" in name:
        return "has an empty name or a NUL character"
    normalized = name.replace("\\", "/")
    if normalized.startswith("/") or (len(normalized) > 1 and normalized[1] == ":"):
        return "is an absolute path"
    if ".." in PurePosixPath(normalized).parts:
        return "climbs out of the folder with '..'"
    return None


def extract(archive: Path, target: Path) -> None:
    """Unpack `archive` (tar, compressed or not, or zip) into `target`, which must not exist.
    Raises UnsafeArchive (and leaves no `target`) for a hostile member, UnreadableArchive for a damaged file."""
    try:
        if archive.name.lower().endswith(".zip"):
            with zipfile.ZipFile(archive) as zf:
                _unpack(_zip_members(zf), target, lambda member: zf.open(member.name))
        else:
            with tarfile.open(archive) as tar:
                _unpack(_tar_members(tar), target, lambda member: tar.extractfile(member.name))
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, zlib.error, lzma.LZMAError, OSError) as exc:
        if isinstance(exc, OSError) and exc.errno not in (None, errno.EINVAL):
            raise
        shutil.rmtree(target, ignore_errors=True)
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UnreadableArchive(f"{archive.name} is not a readable archive: {detail}") from None


def _tar_members(tar: tarfile.TarFile) -> list[Member]:
    members = []
    for info in tar.getmembers():
        problem = name_problem(info.name)
        if problem is None and (info.isdev() or info.isfifo()):
            problem = "is a device or pipe"
        elif problem is None and not (info.isfile() or info.isdir() or info.issym() or info.islnk()):
            problem = "is not a regular file, folder or link"
        elif problem is None and (info.issym() or info.islnk()):
            problem = _link_text_problem(info.linkname) or (name_problem(info.linkname) if info.islnk() else None)
        if problem:
            raise UnsafeArchive(info.name, problem)
        kind = "dir" if info.isdir() else "symlink" if info.issym() else "hardlink" if info.islnk() else "file"
        members.append(Member(info.name.replace("\\", "/"), kind, info.linkname.replace("\\", "/"), info.mode))
    return members


def _zip_members(zf: zipfile.ZipFile) -> list[Member]:
    members = []
    for info in zf.infolist():
        problem = name_problem(info.filename)
        kind = stat.S_IFMT(info.external_attr >> 16)
        if problem is None and kind not in (0, stat.S_IFREG, stat.S_IFDIR):
            problem = "is a link or a device (not allowed in a zip)"
        if problem:
            raise UnsafeArchive(info.filename, problem)
        mode = (info.external_attr >> 16) & 0o777 or 0o644
        members.append(Member(info.filename, "dir" if info.is_dir() else "file", "", mode))
    return members


def _link_text_problem(link: str) -> str | None:
    if not link or "\0" in link:
        return "is a link with an empty target"
    if link.replace("\\", "/").startswith("/"):
        return f"is a link to an absolute path ({link})"
    return None


def _unpack(members: list[Member], target: Path, open_member: Opener) -> None:
    target.mkdir(parents=True)
    root = os.path.realpath(target)
    links: list[list[str]] = []  # where each symbolic link was written, as components under root
    try:
        for member in members:
            try:
                replaced = _write(member, root, links, open_member)
            except OSError as exc:
                if exc.errno not in _REFUSED_ERRNOS:
                    raise  # a full or read-only disk: the caller names it
                raise UnsafeArchive(member.name, f"cannot be written safely ({exc.strerror})") from None
            if member.kind == "symlink" or replaced:
                for link in links:  # a later member may have changed what an earlier link means
                    if _resolve(root, link) is None:
                        raise UnsafeArchive("/".join(link), "is a link pointing outside the folder once "
                                                            f"{member.name!r} is written")
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)
        raise


def _write(member: Member, root: str, links: list[list[str]], open_member: Opener) -> bool:
    """Write one member at the real place of its parent folder; whether it replaced an entry."""
    parts = [part for part in member.name.split("/") if part not in ("", ".")]
    if not parts:
        return False
    parent = _resolve(root, parts[:-1])
    if parent is None:
        raise UnsafeArchive(member.name, "would be written outside the folder (through a link)")
    _make_folders(root, parent)
    place = [*parent, parts[-1]]
    dest = os.path.join(root, *place)
    replaced = _clear(dest, member)
    if member.kind == "dir":
        if not os.path.isdir(dest):
            os.mkdir(dest, 0o755)
    elif member.kind == "symlink":
        link_parts = member.link.split("/")
        if _resolve(root, [*parent, *link_parts]) is None:
            raise UnsafeArchive(member.name, f"is a link pointing outside the folder ({member.link})")
        os.symlink(member.link, dest)
        links.append(place)
    elif member.kind == "hardlink":
        source = _resolve(root, [part for part in member.link.split("/") if part not in ("", ".")])
        source_path = os.path.join(root, *source) if source else None
        if source_path is None or not os.path.isfile(source_path) or os.path.islink(source_path):
            raise UnsafeArchive(member.name, f"is a hard link to something not a file in the folder ({member.link})")
        os.link(source_path, dest)
    else:
        reader = open_member(member)
        if reader is None:  # tarfile has no reader for what is not a regular file (the kind said it was one)
            raise UnsafeArchive(member.name, "is not a regular file")
        _write_file(dest, reader, member.mode)
    return replaced


def _clear(dest: str, member: Member) -> bool:
    """Remove what a member replaces (as tar does), but never a folder with another kind."""
    if not os.path.lexists(dest):
        return False
    if os.path.isdir(dest) and not os.path.islink(dest):
        if member.kind == "dir":
            return False
        raise UnsafeArchive(member.name, "would replace a folder")
    os.unlink(dest)  # a file or a link: the new member takes its place, and is never written through it
    return True


def _make_folders(root: str, parts: list[str]) -> None:
    """Make the real folders `parts` names under root (resolved already: no links among them)."""
    current = root
    for part in parts:
        current = os.path.join(current, part)
        if not os.path.isdir(current):
            os.mkdir(current, 0o755)  # a file in the way raises FileExistsError: refused


def _write_file(dest: str, source: IO[bytes], mode: int) -> None:
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(dest, flags, 0o755 if mode & 0o111 else 0o644)
    with os.fdopen(fd, "wb") as out, source:
        while chunk := source.read(_CHUNK):
            out.write(chunk)


def _resolve(root: str, parts: list[str]) -> list[str] | None:
    """`parts` (relative to `root`) resolved on disk, following every link written so far: the real
    components under root, or None when the path leaves root or can't be resolved (too long,
    too many links). A component that does not exist yet is taken as a plain folder."""
    resolved: list[str] = []
    pending = list(reversed(parts))
    hops = 0
    while pending:
        part = pending.pop()
        if part in ("", "."):
            continue
        if part == "..":
            if not resolved:
                return None
            resolved.pop()
            continue
        try:
            info = os.lstat(os.path.join(root, *resolved, part))
        except (FileNotFoundError, NotADirectoryError):
            resolved.append(part)
            continue
        except OSError:
            return None  # ENAMETOOLONG, ELOOP, EACCES: never judged by the text instead
        if stat.S_ISLNK(info.st_mode):
            hops += 1
            if hops > _MAX_LINK_HOPS:
                return None
            target = os.readlink(os.path.join(root, *resolved, part))
            if target.startswith("/"):
                return None
            pending.extend(reversed(target.split("/")))
            continue
        resolved.append(part)
    return resolved

