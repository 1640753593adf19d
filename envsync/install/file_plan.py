"""What installing a wheel into a venv creates, worked out before anything is written: each file's
destination and its source (a file of the unpacked cache) or contents (a launcher, a rewritten
script, INSTALLER), and the RECORD rows. site.py carries a plan out; planning reads only the cache."""

from __future__ import annotations

import csv
import io
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from envsync.errors import EnvsyncError, UnsafeWheel
from envsync.install.layout import SiteLayout
from envsync.install.targets import Target
from envsync.install.wheel import RecordEntry, UnpackedWheel, record_hash, script_name_problem

_SHEBANG_MAX = 127  # the kernel truncates longer #! lines on older Linux
_WRITTEN_BY_US = frozenset({"INSTALLER", "REQUESTED", "RECORD", "RECORD.jws", "RECORD.p7s"})
_LAUNCHER = """\
import sys
from {module} import {head}
if __name__ == "__main__":
    sys.exit({attr}())
"""


class FileOp(NamedTuple):
    """One file the install creates: linked from the cache (`source`) or written (`content`).

    A named tuple of strings, not a dataclass of Paths: an install makes tens of thousands."""

    dest: str
    origin: str  # the archive path, or what generated the file, for messages
    source: str | None = None
    content: bytes | None = None
    executable: bool = False
    entry: RecordEntry | None = None  # the verified hash of `source`


@dataclass(frozen=True)
class PlannedInstall:
    """Installing one wheel into one env, worked out once: the files it creates (`ops`, its
    INSTALLER last), what each is (`targets`, its RECORD too) and the RECORD rows it writes.

    An apply checks every install of an env against the env and against each other with these
    before touching it, then carries out the very same ones."""

    unpacked: UnpackedWheel
    dist_info: str  # where its dist-info folder goes
    ops: list[FileOp]
    targets: list[Target]
    rows: list[tuple[str, str, str]]  # RECORD's rows, its own last

    @property
    def label(self) -> str:
        return f"{self.unpacked.name} {self.unpacked.version}"


def plan_install(unpacked: UnpackedWheel, layout: SiteLayout, *, requested: bool = False,
                 direct_url: bytes | None = None) -> PlannedInstall:
    """What installing `unpacked` into the venv of `layout` creates. `direct_url` is the PEP 610
    direct_url.json of a package not installed from an index."""
    ops, targets, rows = _plan(unpacked, layout, requested, direct_url)
    dist_info = os.path.join(layout.site_packages, unpacked.dist_info)
    record_path = os.path.join(dist_info, "RECORD")
    targets.append(Target(record_path, "RECORD", None))
    rows.append((_relative(record_path, str(layout.site_packages)), "", ""))
    return PlannedInstall(unpacked, dist_info, ops, targets, rows)


def _plan(unpacked: UnpackedWheel, layout: SiteLayout, requested: bool,
          direct_url: bytes | None = None) -> tuple[list[FileOp], list[Target], list[tuple[str, str, str]]]:
    """Each file the install creates (a FileOp), what it is (its Target) and its RECORD row, in one
    pass: a large env plans 28,000 of each. A plain file of site-packages, nearly every file, is
    made here inline; the others (scripts, a .data folder's files, launchers, the files envsync
    writes itself) go through `rows.add`."""
    ops: list[FileOp] = []
    rows = _Rows(layout, ops)
    targets, records = rows.targets, rows.rows
    # Archive paths use "/" and were checked by wheel.py (no "..", nothing absolute): on posix they
    # join by concatenation, which matters for wheels of thousands of files.
    cache = str(unpacked.root) + os.sep
    site = str(layout.site_packages) + os.sep
    posix = os.sep == "/"
    dist_info = unpacked.dist_info + "/"
    data_dir = unpacked.data_dir
    new = tuple.__new__  # FileOp(...) and Target(...) through their Python-level __new__ cost twice as much
    for entry in unpacked.record:
        path = entry.path
        if path.startswith(dist_info) and "/" not in path[len(dist_info):]:
            base = path[len(dist_info):]
            if base in _WRITTEN_BY_US or (direct_url and base == "direct_url.json"):
                continue  # ours replace the wheel's
        if posix and path.partition("/")[0] != data_dir:
            dest, digest = site + path, entry.hash
            ops.append(new(FileOp, (dest, path, cache + path, None, False, entry)))
            targets.append(new(Target, (dest, path, digest)))
            records.append((path, digest, str(entry.size)))
            continue
        dest, scheme = _destination(path, unpacked, layout)
        source = os.path.join(cache, *path.split("/"))
        if scheme == "scripts":
            rows.add(_script_op(source, dest, entry, layout))
        else:
            rows.add(FileOp(dest, entry.path, source=source, entry=entry))
    for op in _launcher_ops(unpacked, layout):
        rows.add(op)
    dist_info = os.path.join(layout.site_packages, unpacked.dist_info)
    if requested:
        rows.add(FileOp(os.path.join(dist_info, "REQUESTED"), "REQUESTED", content=b""))
    if direct_url is not None:
        rows.add(FileOp(os.path.join(dist_info, "direct_url.json"), "direct_url.json", content=direct_url))
    rows.add(FileOp(os.path.join(dist_info, "INSTALLER"), "INSTALLER", content=b"envsync\n"))  # last: marks it complete
    return ops, targets, records


class _Rows:
    """The Targets and RECORD rows (path relative to site-packages in "/" form, hash, size) of the
    ops added, which are appended to `ops` too."""

    def __init__(self, layout: SiteLayout, ops: list[FileOp]) -> None:
        self.ops = ops
        self.targets: list[Target] = []
        self.rows: list[tuple[str, str, str]] = []
        self._site = str(layout.site_packages)
        self._prefix = self._site + os.sep
        self._folders: dict[str, str] = {}  # outside site-packages (scripts, data): few folders, many files

    def add(self, op: FileOp) -> None:
        dest, origin, _, content, _, entry = op
        if entry is not None:
            digest, size = entry.hash, str(entry.size)
        else:
            assert content is not None  # every op is linked from a verified file or written
            digest, size = record_hash(content), str(len(content))
        self.ops.append(op)
        self.targets.append(Target(dest, origin, digest))
        if os.sep == "/" and dest.startswith(self._prefix):
            self.rows.append((dest[len(self._prefix):], digest, size))
            return
        folder, name = os.path.split(dest)
        relative = self._folders.get(folder)
        if relative is None:
            relative = self._folders[folder] = _relative(folder, self._site)
        self.rows.append((f"{relative}/{name}" if relative != "." else name, digest, size))


def _destination(path: str, unpacked: UnpackedWheel, layout: SiteLayout) -> tuple[str, str]:
    parts = path.split("/")  # every part was checked by wheel.py: no "..", no absolute paths
    if unpacked.data_dir is None or parts[0] != unpacked.data_dir:
        return os.path.join(layout.site_packages, *parts), "purelib" if unpacked.root_is_purelib else "platlib"
    scheme, rest = parts[1], parts[2:]
    bases = {
        "purelib": layout.site_packages,
        "platlib": layout.site_packages,
        "headers": layout.include / unpacked.name,
        "scripts": layout.scripts,
        "data": layout.data,
    }
    if scheme not in bases or not rest:
        raise UnsafeWheel(f"{unpacked.dist_info}: {path!r} is not in a known scheme folder")
    return os.path.join(bases[scheme], *rest), scheme


def _script_op(source: str, dest: str, entry: RecordEntry, layout: SiteLayout) -> FileOp:
    """Scripts starting with `#!python` get the venv's interpreter; others are linked as they are."""
    with open(source, "rb") as handle:
        first = handle.readline(4096)
        match = re.match(rb"#!pythonw?(\s.*)?\r?\n?$", first)
        if not match:
            return FileOp(dest, entry.path, source=source, executable=True, entry=entry)
        rest = handle.read()
    args = (match.group(1) or b"").strip()
    return FileOp(dest, entry.path, content=shebang(layout.python, args) + rest, executable=True)


def _launcher_ops(unpacked: UnpackedWheel, layout: SiteLayout) -> list[FileOp]:
    ops = []
    for kind, scripts in (("console", unpacked.console_scripts), ("gui", unpacked.gui_scripts)):
        for name, entry_point in scripts:
            problem = script_name_problem(name)
            if problem:
                raise UnsafeWheel(f"{unpacked.dist_info}: {kind} script name {name!r} {problem}")
            module, _, attr = entry_point.partition(":")
            body = _LAUNCHER.format(module=module, head=attr.split(".")[0], attr=attr)
            content = shebang(layout.python) + body.encode()
            ops.append(FileOp(os.path.join(layout.scripts, name), f"{kind} script {name!r}", content=content,
                           executable=True))
    return ops


def shebang(python: Path, args: bytes = b"") -> bytes:
    """A first line running the script with `python`; via /bin/sh when #! can't hold the path."""
    exe = os.fsencode(python)
    line = b"#!" + exe + (b" " + args if args else b"") + b"\n"
    if b" " not in exe and len(line) <= _SHEBANG_MAX:
        return line
    if any(char in exe for char in (b'"', b"$", b"`", b"\\", b"'", b"\n")):
        raise EnvsyncError(f"cannot write scripts for an interpreter at {python}: its path has quotes or $")
    # Valid sh (exec the interpreter on this file) and a harmless string statement in Python.
    exec_args = b" " + args if args else b""
    return b"#!/bin/sh\n'''exec' \"" + exe + b'"' + exec_args + b' "$0" "$@"\n' + b"' '''\n"


def _relative(path: str, site: str) -> str:
    return os.path.relpath(path, site).replace(os.sep, "/")


def record_text(rows: Iterable[tuple[str, str, str]]) -> bytes:
    """RECORD's text. Almost no path needs CSV quoting, and joining the rows ourselves is five
    times faster than csv.writer (a large env writes 28,000 rows); when any field holds a comma,
    a quote or a line break (the counts tell), the csv module writes it all instead."""
    rows = list(rows)
    text = "".join([f"{path},{digest},{size}\n" for path, digest, size in rows])
    if '"' in text or "\r" in text or text.count(",") != 2 * len(rows) or text.count("\n") != len(rows):
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerows(rows)
        text = buffer.getvalue()
    return text.encode("utf-8")
