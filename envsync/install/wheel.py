"""Open a wheel, refuse anything hostile (PEP 427, and the checks the README lists), and unpack it once into the cache."""

from __future__ import annotations

import base64
import contextlib
import csv
import hashlib
import json
import marshal
import os
import re
import shutil
import stat
import tempfile
import unicodedata
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename
from packaging.version import InvalidVersion, Version

from envsync.errors import ConfigError, EnvsyncError, HashMismatch, UnsafeWheel
from envsync.files.cache import write_atomic
from envsync.files.hashes import sha256_of_file
from envsync.files.metadata import name_and_version
from envsync.files.read_once import ReadOnce

if TYPE_CHECKING:
    from configparser import ConfigParser

SCHEMES = frozenset({"purelib", "platlib", "headers", "scripts", "data"})
UNRECORDED = frozenset({"RECORD", "RECORD.jws", "RECORD.p7s"})  # dist-info files RECORD can't hash
HASH_ALGORITHMS = frozenset({"sha256", "sha384", "sha512"})
_CHUNK = 1 << 20
_METADATA_CAP = 64 << 20  # dist-info files we read into memory
# 3: <sha256>.marker, marshal'd, RECORD rows as (path, hash, size) tuples. Earlier envsyncs wrote
# <sha256>.json (2: rows as lists, 1: as objects): still read.
_MARKER_FORMAT = 3
_DRIVE = re.compile(r"^[A-Za-z]:")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_PROJECT_NAME = re.compile(r"^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$", re.IGNORECASE)
_HINT = "envsync did not install it; the file may be corrupt or malicious"
_Reader = Callable[[str], str]  # archive path -> text of that dist-info file
_Scripts = tuple[tuple[str, str], ...]
_CUSTOMIZE = frozenset({"sitecustomize.py", "usercustomize.py"})  # imported by site at every start


SIZE_VARIABLE = "ENVSYNC_MAX_UNPACKED_SIZE"
_SIZE = re.compile(r"^(\d+)\s*([KMGT]?)(?:I?B)?$", re.IGNORECASE)


@dataclass(frozen=True)
class Limits:
    """Caps against zip bombs: total uncompressed bytes, and compression ratio of big entries.

    Real wheels hold small members that compress far beyond any sane ratio (zero-padded
    shared libraries: Pillow bundles one at 224:1), while a bomb needs big members to do
    harm. So the ratio is judged only above `ratio_min_size`, and the total bounds the rest.
    """

    max_total_size: int = 8 << 30
    max_ratio: int = 200
    ratio_min_size: int = 100 << 20  # entries smaller than this are not ratio-checked


DEFAULT_LIMITS = Limits()


def limits_from_env() -> Limits:
    """The default limits, with ENVSYNC_MAX_UNPACKED_SIZE (bytes, or 500M, 16G...) as the total cap."""
    raw = os.environ.get(SIZE_VARIABLE, "").strip()
    if not raw:
        return DEFAULT_LIMITS
    match = _SIZE.match(raw)
    if not match or int(match.group(1)) == 0:
        raise ConfigError(f"{SIZE_VARIABLE}={raw!r} is not a size",
                           "set it to a number of bytes or a size such as 16G, or unset it")
    power = " KMGT".index(match.group(2).upper() or " ")
    return replace(DEFAULT_LIMITS, max_total_size=int(match.group(1)) << (10 * power))


def _size_text(size: int) -> str:
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if size >= 1 << shift:
            return f"{size / (1 << shift):g} {unit}"
    return f"{size} bytes"


class RecordEntry(NamedTuple):
    """One verified RECORD row: archive path, `algo=urlsafe-b64` digest, size in bytes.

    A named tuple, not a dataclass: a large env's wheels hold tens of thousands of rows, read
    from the cache at every apply, and a tuple is made several times faster."""

    path: str
    hash: str
    size: int


@dataclass(frozen=True)
class UnpackedWheel:
    """A validated wheel extracted under `root`; paths are archive-relative, `/`-separated."""

    root: Path
    name: str  # as written in METADATA
    version: str
    dist_info: str  # e.g. "foo_bar-1.0.dist-info"
    data_dir: str | None  # e.g. "foo_bar-1.0.data", when the wheel has one
    root_is_purelib: bool
    console_scripts: _Scripts  # (name, "module:attr")
    gui_scripts: _Scripts
    files: tuple[str, ...]  # every file in the archive, RECORD included
    record: tuple[RecordEntry, ...]  # the hashed RECORD rows: every file but RECORD(.jws/.p7s)

    def path(self, archive_path: str) -> Path:
        """Where an archive file lies in the cache."""
        return self.root.joinpath(*archive_path.split("/"))

    @property
    def startup_hooks(self) -> tuple[str, ...]:
        """Files it puts at the top of site-packages, by whatever scheme, that Python runs at every
        start of the env's interpreter: `.pth` files, sitecustomize and usercustomize. The plan names them."""
        tops = [path for path in self.files if "/" not in path]
        if self.data_dir:
            prefixes = (f"{self.data_dir}/purelib/", f"{self.data_dir}/platlib/")
            tops += [path.split("/", 2)[2] for path in self.files
                     if path.startswith(prefixes) and path.count("/") == 2]
            data = re.compile(re.escape(f"{self.data_dir}/data/") + r"lib[^/]*/python[^/]+/site-packages/([^/]+)")
            tops += [match.group(1) for match in map(data.fullmatch, self.files) if match]
        return tuple(sorted({path for path in tops if path.endswith(".pth") or path in _CUSTOMIZE}))


def unpack_wheel(wheel: Path, sha256: str, cache_root: Path, *, limits: Limits | None = None) -> UnpackedWheel:
    """Validate `wheel` whole, then extract it to `cache_root/<sha256>/` (reused when already there).

    The folder appears by one rename of a fully extracted and verified temp folder, so
    its existence means it is complete; concurrent callers race harmlessly on that rename.
    """
    cached = cached_wheel(sha256, cache_root)
    if cached is not None:
        return cached
    digest = sha256.lower()
    target = cache_root / digest
    marker = cache_root / f"{digest}.marker"
    _check_file_hash(wheel, digest)
    with _open_zip(wheel) as zf:
        unpacked = inspect_wheel(zf, wheel.name, target, limits or limits_from_env())
        if not target.is_dir():
            _extract(zf, wheel.name, unpacked, cache_root, marker)
        else:
            write_atomic(marker, _marker_bytes(unpacked))
    return unpacked


def cached_wheel(sha256: str, cache_root: Path) -> UnpackedWheel | None:
    """The wheel with this sha256 if it is already unpacked in the cache; no file needed.
    Planning, fetching and installing each ask: the marker is read once (files/read_once.py)."""
    digest = sha256.lower()
    if not _SHA256.match(digest):
        raise ValueError(f"not a sha256 hex digest: {sha256!r}")
    target = cache_root / digest
    if not os.path.isdir(target):
        return None
    marker = cache_root / f"{digest}.marker"
    found = _MARKERS.read(str(marker), lambda: _read_marker(marker, target))
    if found is None:
        earlier = cache_root / f"{digest}.json"  # an earlier envsync's marker: read, and kept in today's form
        found = _MARKERS.read(str(earlier), lambda: _read_marker(earlier, target))
        if found is not None:
            with contextlib.suppress(OSError):
                write_atomic(marker, _marker_bytes(found))
    return found


_MARKERS: ReadOnce[UnpackedWheel] = ReadOnce()


def inspect_wheel(zf: zipfile.ZipFile, filename: str, root: Path, limits: Limits = DEFAULT_LIMITS) -> UnpackedWheel:
    """Every check that can be made from the archive's directory and metadata, before any write."""
    infos = zf.infolist()
    files = _check_entries(infos, filename, limits)
    dist_info = _find_dist_info(infos, filename)
    data_dir = _find_data_dir(infos, filename, dist_info)
    for required in ("METADATA", "WHEEL", "RECORD"):
        if f"{dist_info}/{required}" not in files:
            raise _refuse(filename, f"{dist_info}/{required}", "is missing")
    read = partial(_read_text, zf, files, filename)
    name, version = _read_metadata(read, filename, dist_info)
    root_is_purelib = _read_wheel_file(read, filename, dist_info)
    console, gui = _read_entry_points(read, filename, dist_info)
    record = _read_record(read, filename, dist_info)
    _cross_check(files, record, filename, dist_info)
    return UnpackedWheel(
        root=root, name=name, version=version, dist_info=dist_info, data_dir=data_dir,
        root_is_purelib=root_is_purelib, console_scripts=console, gui_scripts=gui,
        files=tuple(files), record=record,
    )


def path_problem(path: str) -> str | None:
    """Why an archive or RECORD path could escape or confuse its destination, or None."""
    if not path:
        return "is an empty name"
    if any(unicodedata.category(char) == "Cc" for char in path):
        return "contains a control character"
    if "\\" in path:
        return "contains a backslash"
    if path.startswith("/"):
        return "is an absolute path"
    if _DRIVE.match(path):
        return "starts with a drive letter"
    parts = path.split("/")
    if ".." in parts:
        return "has a '..' component"
    if any(part in ("", ".") for part in (parts[:-1] if path.endswith("/") else parts)):
        return "has an empty or '.' component"
    return None


def script_name_problem(name: str) -> str | None:
    """Why an entry-point script name can't be a file name in bin/, or None."""
    if not name:
        return "is empty"
    if "/" in name or "\\" in name:
        return "contains a path separator"
    if name.startswith("."):
        return "starts with a dot"
    if any(unicodedata.category(char) == "Cc" for char in name):
        return "contains a control character"
    return None


def _refuse(filename: str, entry: str, problem: str) -> UnsafeWheel:
    return UnsafeWheel(f"refusing wheel {filename}: {entry!r} {problem}", hint=_HINT)


def _check_file_hash(wheel: Path, digest: str) -> None:
    try:
        found = sha256_of_file(wheel)
    except OSError as exc:
        raise EnvsyncError(f"cannot read wheel {wheel}: {exc.strerror or exc}") from exc
    if found != digest:
        raise HashMismatch(
            f"{wheel.name} has sha256 {found}, expected {digest}",
            hint="the download is corrupt or the index changed the file; remove it and retry",
        )


def _open_zip(wheel: Path) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(wheel)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError) as exc:
        raise UnsafeWheel(f"refusing wheel {wheel.name}: not a valid zip archive ({exc})", hint=_HINT) from exc
    except OSError as exc:
        raise EnvsyncError(f"cannot read wheel {wheel}: {exc.strerror or exc}") from exc


# --- the archive's directory -------------------------------------------------------------


def _check_entries(infos: list[zipfile.ZipInfo], filename: str, limits: Limits) -> dict[str, zipfile.ZipInfo]:
    """Names, kinds, duplicates and sizes of every entry; returns the file entries by name."""
    seen: dict[str, str] = {}  # case-folded name -> name as in the archive
    files: dict[str, zipfile.ZipInfo] = {}
    total = 0
    for info in infos:
        name = info.filename
        problem = path_problem(name) or _kind_problem(info)
        if problem:
            raise _refuse(filename, name, problem)
        folded = unicodedata.normalize("NFC", name.rstrip("/")).casefold()
        if folded in seen:
            same = seen[folded] == name
            raise _refuse(filename, name, "is duplicated" if same else f"differs only in case from {seen[folded]!r}")
        seen[folded] = name
        if info.is_dir():
            continue
        total += info.file_size
        if total > limits.max_total_size:
            raise _refuse(filename, name, f"takes the unpacked size over {_size_text(limits.max_total_size)} "
                                          f"(a zip bomb? {SIZE_VARIABLE} raises the cap)")
        if info.file_size > limits.ratio_min_size and info.file_size > limits.max_ratio * max(info.compress_size, 1):
            raise _refuse(filename, name, f"expands more than {limits.max_ratio}:1 (a zip bomb?)")
        files[name] = info
    _check_file_folder_clash(files, seen, filename)
    return files


def _kind_problem(info: zipfile.ZipInfo) -> str | None:
    kind = stat.S_IFMT(info.external_attr >> 16)  # unix mode bits, 0 when made elsewhere
    if info.flag_bits & 0x1:
        return "is encrypted"
    if kind == stat.S_IFLNK:
        return "is a symbolic link"
    if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
        return "is a special file (device, fifo or socket)"
    if kind == stat.S_IFDIR and not info.is_dir():
        return "is marked as a folder but named as a file"
    return None


def _check_file_folder_clash(files: dict[str, zipfile.ZipInfo], seen: dict[str, str], filename: str) -> None:
    folded_files = {unicodedata.normalize("NFC", name).casefold() for name in files}
    for name in files:
        parts = unicodedata.normalize("NFC", name).casefold().split("/")
        for depth in range(1, len(parts)):
            parent = "/".join(parts[:depth])
            if parent in folded_files:
                raise _refuse(filename, name, f"lies inside {seen[parent]!r}, which is a file")


def _split_versioned(dirname: str, suffix: str) -> tuple[str, Version] | None:
    stem = dirname[: -len(suffix)]
    name, sep, version = stem.rpartition("-")
    if not sep or not name:
        return None
    try:
        return canonicalize_name(name), Version(version)
    except InvalidVersion:
        return None


def _top_folders(infos: list[zipfile.ZipInfo]) -> list[str]:
    return sorted({info.filename.split("/", 1)[0] for info in infos if "/" in info.filename})


def _find_dist_info(infos: list[zipfile.ZipInfo], filename: str) -> str:
    try:
        name, version, _, _ = parse_wheel_filename(filename)
    except InvalidWheelFilename as exc:
        raise UnsafeWheel(f"refusing wheel {filename}: not a valid wheel file name ({exc})", hint=_HINT) from exc
    found = [folder for folder in _top_folders(infos) if folder.endswith(".dist-info")]
    if len(found) != 1:
        listed = ", ".join(repr(folder) for folder in found) or "none"
        raise _refuse(filename, "*.dist-info", f"must be exactly one top-level folder, found {listed}")
    if _split_versioned(found[0], ".dist-info") != (name, version):
        raise _refuse(filename, found[0], f"does not match the file name's project {name} {version}")
    return found[0]


def _find_data_dir(infos: list[zipfile.ZipInfo], filename: str, dist_info: str) -> str | None:
    expected = _split_versioned(dist_info, ".dist-info")
    found = [folder for folder in _top_folders(infos) if folder.endswith(".data")]
    for folder in found:
        if _split_versioned(folder, ".data") != expected or len(found) > 1:
            raise _refuse(filename, folder, f"is not the data folder of {dist_info!r}")
    if not found:
        return None
    data_dir = found[0]
    for info in infos:
        parts = info.filename.rstrip("/").split("/")
        if parts[0] != data_dir or len(parts) == 1:
            continue
        if len(parts) == 2 and not info.is_dir():
            raise _refuse(filename, info.filename, "is a file where a scheme folder belongs")
        if parts[1] not in SCHEMES:
            allowed = ", ".join(sorted(SCHEMES))
            raise _refuse(filename, info.filename, f"uses unknown scheme {parts[1]!r} (allowed: {allowed})")
    return data_dir


# --- dist-info metadata --------------------------------------------------------------------


def _read_text(zf: zipfile.ZipFile, files: dict[str, zipfile.ZipInfo], filename: str, entry: str) -> str:
    """A small dist-info file as text; "" when the archive has no such file."""
    info = files.get(entry)
    if info is None:
        return ""
    if info.file_size > _METADATA_CAP:
        raise _refuse(filename, info.filename, f"is larger than {_METADATA_CAP} bytes")
    try:
        return zf.read(info).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _refuse(filename, info.filename, "is not valid UTF-8") from exc
    except (zipfile.BadZipFile, NotImplementedError, EOFError, zlib.error) as exc:
        raise _refuse(filename, info.filename, f"cannot be read ({exc})") from exc


def _read_metadata(read: _Reader, filename: str, dist_info: str) -> tuple[str, str]:
    entry = f"{dist_info}/METADATA"
    name, version = name_and_version(read(entry).splitlines())
    if not name or not version or not _PROJECT_NAME.match(name):
        raise _refuse(filename, entry, "lacks a valid Name or Version")
    expected = _split_versioned(dist_info, ".dist-info")
    try:
        actual = (canonicalize_name(name), Version(version))
    except InvalidVersion:
        actual = None
    if actual != expected:
        raise _refuse(filename, entry, f"names {name} {version}, which does not match {dist_info!r}")
    return name, version


def _read_wheel_file(read: _Reader, filename: str, dist_info: str) -> bool:
    from email.parser import HeaderParser  # 7 ms to import: only unpacking a wheel reads its WHEEL file

    entry = f"{dist_info}/WHEEL"
    headers = HeaderParser().parsestr(read(entry))
    declared = (headers.get("Wheel-Version") or "").strip()
    major, _, _ = declared.partition(".")
    if major != "1":
        raise _refuse(filename, entry, f"declares Wheel-Version {declared or '(none)'!r}; envsync supports 1.x")
    return (headers.get("Root-Is-Purelib") or "").strip().lower() == "true"


def _read_entry_points(read: _Reader, filename: str, dist_info: str) -> tuple[_Scripts, _Scripts]:
    from configparser import ConfigParser  # here: a cached wheel's entry points are in its marker
    from configparser import Error as ConfigParserError

    entry = f"{dist_info}/entry_points.txt"
    parser = ConfigParser(delimiters=("=",), interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # script names keep their case
    try:
        parser.read_string(read(entry))
    except ConfigParserError as exc:
        raise _refuse(filename, entry, f"cannot be parsed ({exc.message})") from exc
    return _scripts(parser, "console_scripts", filename, entry), _scripts(parser, "gui_scripts", filename, entry)


def _scripts(parser: ConfigParser, section: str, filename: str, entry: str) -> _Scripts:
    scripts = []
    for script, value in parser.items(section) if parser.has_section(section) else []:
        target = value.partition("[")[0].strip()  # drop "[extras]"
        problem = script_name_problem(script) or _target_problem(target)
        if problem:
            raise _refuse(filename, entry, f"script {script!r} = {value!r} {problem}")
        scripts.append((script, target))
    return tuple(scripts)


def _target_problem(target: str) -> str | None:
    module, sep, attr = target.partition(":")
    dotted = [*module.split("."), *attr.split(".")]
    if not sep or not all(part.isidentifier() for part in dotted):
        return "is not of the form module:attribute"
    return None


def _read_record(read: _Reader, filename: str, dist_info: str) -> tuple[RecordEntry, ...]:
    entry = f"{dist_info}/RECORD"
    rows: dict[str, RecordEntry] = {}
    for row in csv.reader(read(entry).splitlines()):
        if not any(field.strip() for field in row):
            continue
        if len(row) != 3:
            raise _refuse(filename, entry, f"has a malformed row {','.join(row)!r}")
        path, digest, size = row
        problem = path_problem(path) or ("is listed twice" if path in rows else None)
        if problem:
            raise _refuse(filename, path, f"(in RECORD) {problem}")
        if _unrecorded(path, dist_info):
            continue
        rows[path] = _record_entry(path, digest, size, filename)
    return tuple(rows.values())


def _record_entry(path: str, digest: str, size: str, filename: str) -> RecordEntry:
    algorithm, sep, value = digest.partition("=")
    if not sep or algorithm not in HASH_ALGORITHMS or not value:
        raise _refuse(filename, path, f"has no usable hash in RECORD ({digest!r})")
    if not size.isdigit():
        raise _refuse(filename, path, f"has no valid size in RECORD ({size!r})")
    return RecordEntry(path, digest, int(size))


def _unrecorded(path: str, dist_info: str) -> bool:
    folder, _, base = path.rpartition("/")
    return folder == dist_info and base in UNRECORDED


def _cross_check(files: dict[str, zipfile.ZipInfo], record: tuple[RecordEntry, ...], filename: str, dist_info: str) -> None:
    listed = {row.path: row for row in record}
    for row in record:
        if row.path not in files:
            raise _refuse(filename, row.path, "is listed in RECORD but not in the archive")
    for name, info in files.items():
        if _unrecorded(name, dist_info):
            continue
        listed_row = listed.get(name)
        if listed_row is None:
            raise _refuse(filename, name, "is not listed in RECORD")
        if listed_row.size != info.file_size:
            raise _refuse(filename, name, f"is {info.file_size} bytes but RECORD says {listed_row.size}")


# --- extraction ----------------------------------------------------------------------------


def _extract(zf: zipfile.ZipFile, filename: str, unpacked: UnpackedWheel, cache_root: Path, marker: Path) -> None:
    """Extract into a temp sibling, verifying every hash, then rename it into place."""
    cache_root.mkdir(parents=True, exist_ok=True)
    temp = Path(tempfile.mkdtemp(prefix=f".tmp-{unpacked.root.name[:16]}-", dir=cache_root))
    try:
        hashes = {row.path: row for row in unpacked.record}
        scripts = f"{unpacked.data_dir}/scripts/" if unpacked.data_dir else None
        for name in unpacked.files:
            executable = scripts is not None and name.startswith(scripts)
            _extract_one(zf, zf.getinfo(name), temp, hashes.get(name), filename, executable)
        write_atomic(marker, _marker_bytes(unpacked))
        try:
            os.rename(temp, unpacked.root)
        except OSError:
            if not unpacked.root.is_dir():
                raise
            shutil.rmtree(temp, ignore_errors=True)  # another process finished first
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise


def _extract_one(
    zf: zipfile.ZipFile, info: zipfile.ZipInfo, temp: Path, row: RecordEntry | None, filename: str, script: bool
) -> None:
    dest = temp.joinpath(*info.filename.split("/"))
    dest.parent.mkdir(parents=True, exist_ok=True)
    hasher = hashlib.new(row.hash.partition("=")[0]) if row else None
    size = 0
    try:
        with zf.open(info) as source, dest.open("xb") as out:
            while chunk := source.read(_CHUNK):
                size += len(chunk)
                if size > info.file_size:
                    raise _refuse(filename, info.filename, "holds more bytes than its header says")
                if hasher:
                    hasher.update(chunk)
                out.write(chunk)
    except (zipfile.BadZipFile, NotImplementedError, EOFError, zlib.error) as exc:
        raise _refuse(filename, info.filename, f"cannot be extracted ({exc})") from exc
    if row and hasher and (size != row.size or _b64(hasher.digest()) != row.hash.partition("=")[2]):
        raise _refuse(filename, info.filename, "does not match its hash in RECORD")
    if script or (info.external_attr >> 16) & 0o111:
        os.chmod(dest, 0o755)


def _b64(digest: bytes) -> str:
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def record_hash(data: bytes) -> str:
    """The RECORD form of the sha256 of `data`."""
    return "sha256=" + _b64(hashlib.sha256(data).digest())


# --- the cache marker: what inspect_wheel found, so a cache hit needs no zip --------------


def _marker_bytes(unpacked: UnpackedWheel) -> bytes:
    kept = {field.name: getattr(unpacked, field.name) for field in fields(unpacked) if field.name not in ("root", "record")}
    record = tuple((entry.path, entry.hash, entry.size) for entry in unpacked.record)
    return marshal.dumps({"format": _MARKER_FORMAT, **kept, "record": record})


def _read_marker(marker: Path, root: Path) -> UnpackedWheel | None:
    """What `_marker_bytes` wrote (or an earlier envsync's JSON marker); None when missing,
    unreadable, malformed or from an unknown format.

    A large env's markers hold 28,000 RECORD rows, read at every apply that installs: marshal'd
    tuples load in a third of the time the same rows took as JSON lists."""
    try:
        raw = marker.read_bytes()
        data = marshal.loads(raw) if marker.suffix == ".marker" else json.loads(raw)
        if type(data) is not dict:
            return None
        layout = data.pop("format")
        rows = data.pop("record")
        if layout == 1 and marker.suffix == ".json":
            rows = [(row["path"], row["hash"], row["size"]) for row in rows]
        elif layout != (_MARKER_FORMAT if marker.suffix == ".marker" else 2):
            return None
        new = tuple.__new__  # RecordEntry._make checks the length too, at three times the cost: unpacking does it below
        record = tuple([new(RecordEntry, row) for row in rows])
        if not all(type(path) is str and type(digest) is str and type(size) is int for path, digest, size in record):
            return None
        console, gui = (tuple((str(name), str(target)) for name, target in data.pop(key))
                        for key in ("console_scripts", "gui_scripts"))
        return UnpackedWheel(root=root, files=tuple(map(str, data.pop("files"))), record=record,
                             console_scripts=console, gui_scripts=gui, **data)
    except (OSError, EOFError, ValueError, KeyError, TypeError, AttributeError):
        return None
