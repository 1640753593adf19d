"""pip requirements and constraints files, read into frozen values an env can use.

The format is pip's: comments, blank lines, `\\` continuations, `-r`/`-c` includes
(relative to the including file), markers, `--hash=sha256:...`, `${VAR}` expansion
and the index options `--index-url`, `--extra-index-url`, `--find-links`, `--pre`.
Every error names the file and line. Direct references (`-e`, paths, URLs) are
refused clearly until envsync can build them.
"""

from __future__ import annotations

import hashlib
import os
import re
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from envsync.config.inputs import MAX_FILE_BYTES
from envsync.errors import ConfigError

_COMMENT = re.compile(r"(^|\s+)#.*$")
_VARIABLE = re.compile(r"\$\{([A-Za-z0-9_]+)\}")
_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")
# Options that take a value, by every spelling pip accepts, mapped to one name.
_VALUE_OPTIONS = {
    "-r": "requirement", "--requirement": "requirement",
    "-c": "constraint", "--constraint": "constraint",
    "-i": "index-url", "--index-url": "index-url",
    "--extra-index-url": "extra-index-url",
    "-f": "find-links", "--find-links": "find-links",
    "-e": "editable", "--editable": "editable",
}
_FLAG_OPTIONS = {"--pre": "pre", "--require-hashes": "require-hashes"}
MAX_INCLUDE_DEPTH = 64


@dataclass(frozen=True)
class Line:
    """One requirement or constraint, with where it was written and the hashes it allows."""

    requirement: Requirement
    where: str  # "requirements.txt:3", the file relative to the config's folder
    hashes: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Editable:
    """`-e PATH[extras]`: a local project to install editable, and where it was written."""

    path: Path  # absolute
    extras: tuple[str, ...]
    where: str


@dataclass(frozen=True)
class Option:
    """An index option from a file: its value and where it was written."""

    value: str
    where: str


@dataclass(frozen=True)
class ParsedFiles:
    """Everything an env's requirements and constraints files say, includes followed."""

    requirements: tuple[Line, ...] = ()
    constraints: tuple[Line, ...] = ()
    index_url: Option | None = None
    extra_index_urls: tuple[Option, ...] = ()
    find_links: tuple[Option, ...] = ()  # absolute paths of local folders
    pre: bool = False
    require_hashes: bool = False  # a line had --hash, or the file said --require-hashes
    files: tuple[tuple[Path, str], ...] = ()  # every file read (absolute) and its sha256
    variables: tuple[str, ...] = ()  # names of the ${VAR}s expanded
    editables: tuple[Editable, ...] = ()

    def hashes(self) -> dict[str, tuple[frozenset[str], str]]:
        """Per normalised name, the sha256 values its files may have and where they were given.

        A name given hashes on several lines may only have a hash every one of them allows."""
        found: dict[str, tuple[frozenset[str], str]] = {}
        for line in (*self.requirements, *self.constraints):
            if not line.hashes:
                continue
            name = canonicalize_name(line.requirement.name)
            if name in found:
                found[name] = (found[name][0] & line.hashes, found[name][1])
            else:
                found[name] = (line.hashes, line.where)
        return found


@dataclass
class _Reader:
    base: Path  # the config's folder: file names in messages are relative to it
    environ: dict[str, str]
    requirements: list[Line] = field(default_factory=list)
    constraints: list[Line] = field(default_factory=list)
    index_url: Option | None = None
    extra_index_urls: list[Option] = field(default_factory=list)
    find_links: list[Option] = field(default_factory=list)
    pre: bool = False
    require_hashes: bool = False
    files: dict[Path, str] = field(default_factory=dict)
    variables: list[str] = field(default_factory=list)
    editables: list[Editable] = field(default_factory=list)

    def shown(self, path: Path) -> str:
        """The file as messages name it: relative to the config's folder when inside it, else absolute."""
        try:
            relative = os.path.relpath(path, self.base)
        except ValueError:
            return str(path)
        return str(path) if relative == ".." or relative.startswith(".." + os.sep) else relative

    def read(self, path: Path, constraint: bool, trail: tuple[Path, ...], where: str) -> None:
        if path in trail:
            cycle = " -> ".join(self.shown(p) for p in (*trail[trail.index(path):], path))
            raise ConfigError(f"{where}: includes form a cycle: {cycle}", "remove one of the -r/-c lines in the cycle")
        if len(trail) >= MAX_INCLUDE_DEPTH:
            raise ConfigError(f"{where}: -r/-c includes nest more than {MAX_INCLUDE_DEPTH} files deep "
                              f"(from {self.shown(trail[0])})", "include the files from fewer levels")
        data = _read_bounded(path, self.shown(path), where)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ConfigError(f"{where}: cannot read {self.shown(path)}: {exc}") from None
        self.files.setdefault(path, hashlib.sha256(data).hexdigest())
        for number, line in _logical_lines(text):
            if "\0" in line:
                raise ConfigError(f"{self.shown(path)}:{number}: the line holds a NUL byte, which no "
                                  "requirement can", "this is not a text requirements file: fix or replace it")
            self.line(path, number, line, constraint, (*trail, path))

    def line(self, path: Path, number: int, text: str, constraint: bool, trail: tuple[Path, ...]) -> None:
        where = f"{self.shown(path)}:{number}"
        text = self.expand(_COMMENT.sub("", text).strip(), where)
        if not text:
            return
        if text.startswith("-"):
            self.option(path, text, where, constraint, trail)
        else:
            self.requirement(path, text, where, constraint)

    def expand(self, text: str, where: str) -> str:
        def value(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in self.environ:
                raise ConfigError(f"{where}: ${{{name}}} is not set", f"set {name} in the environment, or write the value")
            if name not in self.variables:
                self.variables.append(name)
            return self.environ[name]

        return _VARIABLE.sub(value, text)

    def option(self, path: Path, text: str, where: str, constraint: bool, trail: tuple[Path, ...]) -> None:
        name, value = _split_option(text)
        if name in _FLAG_OPTIONS:
            if value:
                raise ConfigError(f"{where}: {name} takes no value", f"write {name} alone on its line")
            if _FLAG_OPTIONS[name] == "pre":
                self.pre = True
            else:
                self.require_hashes = True
            return
        kind = _VALUE_OPTIONS.get(name)
        if kind is None:
            raise ConfigError(f"{where}: option {name} is not supported by envsync",
                              "supported: -r, -c, --index-url, --extra-index-url, --find-links, --pre, "
                              "--require-hashes, and --hash on a requirement")
        if not value:
            raise ConfigError(f"{where}: {name} needs a value", f"write `{name} VALUE`")
        if kind == "editable":
            if constraint:
                raise ConfigError(f"{where}: -e has no place in a constraints file", "move it to a requirements file")
            self.editables.append(_editable(value, path.parent, where))
            return
        if kind in ("requirement", "constraint"):
            if "://" in value:
                raise ConfigError(f"{where}: including a file by URL ({value}) is not supported",
                                  "download it beside this file and include it by path")
            target = Path(os.path.normpath(path.parent / Path(value).expanduser()))
            self.read(target, constraint or kind == "constraint", trail, where)
            return
        if kind == "find-links":
            if "://" in value and not value.startswith("file://"):
                raise ConfigError(f"{where}: --find-links {value}: only local folders are supported",
                                  "download the files into a folder and name that folder")
            local = value.removeprefix("file://")
            self.find_links.append(Option(str(Path(os.path.normpath(path.parent / Path(local).expanduser()))),
                                          where))
            return
        if "://" not in value:  # an index given as a plain path: relative to this file
            value = str(Path(os.path.normpath(path.parent / Path(value).expanduser())))
        if kind == "index-url":
            if self.index_url is not None and self.index_url.value != value:
                raise ConfigError(f"{where}: --index-url {value} differs from the one at {self.index_url.where}",
                                  "an env has one main index: keep one --index-url line")
            self.index_url = Option(value, where)
        else:
            self.extra_index_urls.append(Option(value, where))

    def requirement(self, path: Path, text: str, where: str, constraint: bool) -> None:
        spec, hashes = _split_hashes(text, where)
        if _is_direct_reference(spec):
            spec = _named(spec, path.parent, where)
        try:
            requirement = Requirement(spec)
        except InvalidRequirement as exc:
            reason = str(exc).splitlines()[0]
            raise ConfigError(f"{where}: {scrubbed(spec)!r} is not a valid requirement: {scrubbed(reason)}",
                              "write NAME[extras] SPECIFIER; MARKER, as pip does") from None
        if requirement.url:
            if constraint:
                raise ConfigError(f"{where}: a constraint can't be a direct reference ({scrubbed(spec)!r})",
                                  "constrain the package by version; name its source in a requirements file")
            requirement = _anchored(requirement, path.parent)
        if constraint and requirement.extras:
            raise ConfigError(f"{where}: constraints can't name extras ({spec!r})",
                              "constrain the package without its extras")
        if hashes:
            self.require_hashes = True
        line = Line(requirement, where, frozenset(hashes))
        (self.constraints if constraint else self.requirements).append(line)


def _read_bounded(path: Path, shown: str, where: str) -> bytes:
    """A requirements file's bytes: a regular file (a FIFO would block, a device never end), at
    most MAX_FILE_BYTES; opened without blocking, so a FIFO that replaced it meanwhile can't hang."""
    import stat

    try:
        handle = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise ConfigError(f"{where}: {shown}: no such file",
                          "check the file name (paths are relative to the file that names them)") from None
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the name
        raise ConfigError(f"{where}: cannot read {shown}: {exc}") from None
    with open(handle, "rb") as file:
        try:
            info = os.fstat(file.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise ConfigError(f"{where}: {shown} is not a regular file (a device, FIFO or folder)",
                                  "name a requirements file")
            data = file.read(MAX_FILE_BYTES + 1)
        except OSError as exc:
            raise ConfigError(f"{where}: cannot read {shown}: {exc}") from None
    if len(data) > MAX_FILE_BYTES:
        raise ConfigError(f"{where}: {shown} is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB, too big to be "
                          "a requirements file", "name the requirements file itself")
    return data


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """(first physical line number, text) of each line once `\\` continuations are joined."""
    lines: list[tuple[int, str]] = []
    pending: list[str] = []
    start = 0
    for number, physical in enumerate(text.splitlines(), start=1):
        if not pending:
            start = number
        stripped = physical.rstrip()
        if stripped.endswith("\\") and not _COMMENT.search(stripped):
            pending.append(stripped[:-1])
            continue
        pending.append(physical)
        lines.append((start, " ".join(part.strip() for part in pending)))
        pending = []
    if pending:
        lines.append((start, " ".join(part.strip() for part in pending)))
    return lines


def _split_option(text: str) -> tuple[str, str]:
    """`--index-url=X`, `--index-url X`, `-iX` and `-i X` as ("--index-url"/"-i", "X")."""
    head, _, rest = text.partition(" ")
    if head.startswith("--"):
        name, eq, value = head.partition("=")
        return name, (value if eq else rest.strip())
    if len(head) > 2:  # -rfile.txt
        return head[:2], head[2:]
    return head, rest.strip()


def _split_hashes(text: str, where: str) -> tuple[str, list[str]]:
    """The requirement part of a line and the sha256 values of its --hash options."""
    tokens = text.split()
    first = next((i for i, token in enumerate(tokens) if token.startswith("-")), len(tokens))
    spec, options = " ".join(tokens[:first]), tokens[first:]
    hashes: list[str] = []
    position = 0
    while position < len(options):
        token = options[position]
        if token == "--hash" and position + 1 < len(options):
            value, position = options[position + 1], position + 2
        elif token.startswith("--hash="):
            value, position = token.partition("=")[2], position + 1
        else:
            raise ConfigError(f"{where}: option {token} is not supported on a requirement line",
                              "only --hash=sha256:... may follow a requirement")
        algorithm, _, digest = value.partition(":")
        if algorithm != "sha256":
            raise ConfigError(f"{where}: --hash={value}: only sha256 hashes are supported",
                              "use --hash=sha256:<64 hex digits>")
        if not _SHA256.match(digest):
            raise ConfigError(f"{where}: --hash={value} is not a sha256 (64 hex digits)", "fix the hash")
        hashes.append(digest.lower())
    return spec, hashes


def _editable(value: str, folder: Path, where: str) -> Editable:
    """`-e ./path[extra,...]`: a local project folder, relative to the file that wrote it."""
    if "://" in value or value.startswith("git+"):
        raise ConfigError(f"{where}: -e {value}: only a local project folder can be installed editable",
                          "write `NAME @ git+URL` to install it (not editable), or clone it and use -e PATH")
    location, _, extras = value.partition("[")
    target = Path(os.path.normpath(folder / Path(location.strip()).expanduser()))
    if not (target / "pyproject.toml").is_file() and not (target / "setup.py").is_file():
        raise ConfigError(f"{where}: -e {value}: {target} is not a Python project folder (no pyproject.toml "
                          "or setup.py)", "point -e at the folder that holds the project's pyproject.toml")
    names = tuple(name.strip() for name in extras.rstrip("]").split(",") if name.strip())
    return Editable(target, names, where)


_URL_START = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_USERINFO = re.compile(r"(://)[^/@\s]+@")


def scrubbed(text: str) -> str:
    """`text` with the credentials of any URL in it blanked, for messages."""
    return _USERINFO.sub(r"\1***@", text)


def _named(spec: str, folder: Path, where: str) -> str:
    """A bare path or URL line (`./dist/x-1.0-py3-none-any.whl`, `../lib`, `https://.../x.tar.gz`)
    as `name @ URL`: the name from a wheel's or sdist's file name, or a folder's pyproject.toml."""
    location, semicolon, marker = spec.partition(";")
    location = location.strip()
    remote = "://" in location
    url = location if remote else Path(os.path.normpath(folder / Path(location).expanduser())).as_uri()
    filename = urllib.parse.unquote(urllib.parse.urlsplit(url).path.rstrip("/").rpartition("/")[2])
    name = _name_from_filename(filename)
    if name is None and not remote:
        name = _project_name(Path(urllib.parse.unquote(urllib.parse.urlsplit(url).path)))
    if name is None:
        raise ConfigError(f"{where}: {scrubbed(location)!r}: can't tell which package this is",
                          "name it: `NAME @ URL` (a path relative to this file works too), as PEP 508 writes it")
    return f"{name} @ {url}" + (f" ;{marker}" if semicolon else "")


def _name_from_filename(filename: str) -> str | None:
    from packaging.utils import InvalidSdistFilename, InvalidWheelFilename, parse_sdist_filename, parse_wheel_filename

    try:
        if filename.endswith(".whl"):
            return str(parse_wheel_filename(filename)[0])
        if filename.endswith((".tar.gz", ".zip")):
            return str(parse_sdist_filename(filename)[0])
    except (InvalidWheelFilename, InvalidSdistFilename):
        return None
    return None


def _project_name(folder: Path) -> str | None:
    """A local project folder's name, when its pyproject.toml states it (`[project] name`)."""
    import tomllib

    try:
        document = tomllib.loads((folder / "pyproject.toml").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, RecursionError):
        return None
    project = document.get("project")
    name = project.get("name") if isinstance(project, dict) else None
    return name if isinstance(name, str) and name else None


def _anchored(requirement: Requirement, folder: Path) -> Requirement:
    """A `name @ URL` requirement whose local path (`./x.whl`, `file:x.whl`) is made absolute
    against the folder of the file that wrote it, as pip reads it; remote URLs stay as written."""
    url = requirement.url or ""
    if url.startswith("file:"):
        local = urllib.parse.unquote(urllib.parse.urlsplit(url).path)
    elif "://" in url or url.startswith("git+"):
        return requirement
    else:
        local = url
    absolute = Path(os.path.normpath(folder / Path(local).expanduser()))
    anchored = Requirement(str(requirement))
    anchored.url = absolute.as_uri()
    return anchored


def _is_direct_reference(spec: str) -> bool:
    name_part = spec.split(";", 1)[0].strip()
    if _URL_START.match(name_part):
        return True  # a bare URL, credentials (`user:token@host`) and all
    if " @ " in name_part or "@" in name_part.split("[", 1)[0]:
        return False  # `name @ url`: parsed, then refused with its own message
    return ("/" in name_part or "\\" in name_part or name_part.startswith(".")
            or name_part.endswith((".whl", ".zip", ".tar.gz")))


def read_files(base: Path, requirements: Sequence[tuple[Path, str]], constraints: Sequence[tuple[Path, str]],
               environ: dict[str, str] | None = None) -> ParsedFiles:
    """Read each (file, where-it-was-named) as requirements or constraints, includes followed."""
    reader = _Reader(base=base, environ=dict(os.environ) if environ is None else environ)
    for path, where in requirements:
        reader.read(path, False, (), where)
    for path, where in constraints:
        reader.read(path, True, (), where)
    if reader.require_hashes:
        for line in reader.requirements:
            if not line.hashes:
                raise ConfigError(f"{line.where}: {line.requirement} has no --hash, but hashes are required "
                                  "for this env (a line of its files has --hash)",
                                  "add --hash=sha256:... for each of its files (pip-compile --generate-hashes "
                                  "writes them)")
    return ParsedFiles(
        requirements=tuple(reader.requirements),
        constraints=tuple(reader.constraints),
        index_url=reader.index_url,
        extra_index_urls=tuple(reader.extra_index_urls),
        find_links=tuple(reader.find_links),
        pre=reader.pre,
        require_hashes=reader.require_hashes,
        files=tuple(reader.files.items()),
        variables=tuple(reader.variables),
        editables=tuple(reader.editables),
    )
