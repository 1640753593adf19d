"""A local folder: the env's own project, or a `name @ file:///folder` requirement.

Its metadata is read from pyproject.toml's [project] table when every field we need is static
there, so `plan` builds nothing; otherwise the backend's `prepare_metadata_for_build_wheel`
answers, cached by the project's build files. PEP 751 records it as a `directory` with no
`version` (a source tree's version can change without the lock knowing).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import InvalidVersion, Version

from envsync.errors import ConfigError
from envsync.files.cache import cache_subdir, write_atomic
from envsync.files.metadata import entry_points_digest, parse_entry_points
from envsync.model import EnvSpec, Installed, Pin, ProjectSpec
from envsync.sources.base import (
    BuilderFactory,
    DirectDist,
    Source,
    check_name,
    local_path,
    lock_relative,
    moved,
    parse_metadata,
    shown,
)

if TYPE_CHECKING:
    from collections.abc import Iterable

    from packaging.direct_url import DirectUrl
    from packaging.pylock import Package

    from envsync.build.pep517 import Builder

    # A project's (name, version, requirements, entry points digest), unpacked where it is read.
    ProjectMetadata = tuple[NormalizedName, Version, tuple[Requirement, ...], str]

# [project] fields that decide what we need; if any is dynamic, the backend must be asked.
_NEEDED = ("version", "dependencies", "optional-dependencies", "scripts", "gui-scripts", "entry-points")
_BUILD_FILES = ("pyproject.toml", "setup.py", "setup.cfg")


@dataclass(frozen=True)
class FolderSource(Source):
    """A project folder, installed editable (a wheel pointing back at the folder) or built."""

    kind: ClassVar[str] = "directory"
    path: Path  # absolute
    editable: bool = False
    entry_points: str | None = None  # digest of its declared entry points (a change reinstalls)
    # A version its backend derives (setuptools-scm, hatch-vcs): it moves with each commit and tag.
    dynamic_version: bool = False
    requires: tuple[str, ...] = ()  # its Requires-Dist, normalised and sorted

    @property
    def url(self) -> str:  # type: ignore[override]
        return self.path.as_uri()

    @property
    def key(self) -> str:
        return f"{self.url} {'editable' if self.editable else 'built'}"

    def wheel(self, pin: Pin, builder: Builder, work: Path) -> Path:
        return builder.build_wheel(self.path, work, f"{pin.name} ({self.path})", editable=self.editable)

    def direct_url(self) -> DirectUrl:
        from packaging.direct_url import DirectUrl, DirInfo

        return DirectUrl(url=self.url, dir_info=DirInfo(editable=self.editable or None))

    def lock_entry(self, pin: Pin, lock_folder: Path) -> dict[str, Any]:
        from packaging.pylock import PackageDirectory

        return {"directory": PackageDirectory(path=lock_relative(self.path, lock_folder), editable=self.editable)}

    def locks_version(self) -> bool:
        return False

    def digest_entry(self) -> list[Any]:
        return [self.url, self.editable, self.entry_points]

    def tool_entry(self) -> dict[str, Any]:
        return {"entry-points": self.entry_points} if self.entry_points else {}

    def export_line(self, package: Package, base: Path) -> str:
        relative = lock_relative(self.path, base)
        relative = relative if relative.startswith(".") else f"./{relative}"
        return f"-e {relative}" if self.editable else relative

    def is_project(self) -> bool:
        return True

    @property
    def computes_version(self) -> bool:
        return self.dynamic_version

    @property
    def decides_version(self) -> bool:
        return self.editable and self.dynamic_version

    def reinstall_reason(self, pin: Pin, have: Installed) -> str | None:
        """An editable install runs the folder's code as it is: only what its metadata adds to the env
        (dependencies and extras, seen by the resolve; entry points, seen here) needs a reinstall, not a
        version that moves with each commit. A built install is rebuilt when its version changes."""
        reason = moved(self, have)
        if reason:
            return reason
        if self.entry_points is not None and have.entry_points != self.entry_points:
            return "its entry points changed"
        if self.decides_version and have.requires is not None and normalised(have.requires) != self.requires:
            return "its dependencies changed"
        return None


class FolderKind:
    name = "directory"
    local = True

    def claims(self, url: str, config_dir: Path) -> bool:
        path = local_path(url, config_dir)
        return path is not None and path.is_dir()

    def read(self, requirement: Requirement, config_dir: Path, builder: BuilderFactory) -> DirectDist:
        path = local_path(requirement.url or "", config_dir)
        assert path is not None
        dist = folder_dist(path, False, builder, shown(requirement))
        check_name(requirement, dist)
        return dist

    def from_lock(self, package: Package, lock_path: Path) -> Source | None:
        if package.directory is None:
            return None
        tool = (package.tool or {}).get("envsync") or {}
        entry_points = tool.get("entry-points") if isinstance(tool, dict) else None
        return FolderSource(Path(os.path.normpath(lock_path.parent / package.directory.path)),
                            editable=bool(package.directory.editable),
                            entry_points=entry_points if isinstance(entry_points, str) else None)


KIND = FolderKind()


def project_dist(project: ProjectSpec, env: str, builder: BuilderFactory) -> DirectDist:
    """The env's own project (`project = "."`)."""
    return folder_dist(project.path, project.editable, builder, project.where or f"envs.{env}.project")


def project_requirement(project: ProjectSpec, dist: DirectDist) -> Requirement:
    """The root requirement that puts the project (with its extras) into the env."""
    extras = f"[{','.join(project.extras)}]" if project.extras else ""
    return Requirement(f"{dist.name}{extras} @ {dist.source.url}")


def folder_dist(folder: Path, editable: bool, builder: BuilderFactory, label: str) -> DirectDist:
    """A project folder's metadata: static from pyproject.toml when it can be, else from its backend."""
    folder = Path(os.path.abspath(folder))
    if not (folder / "pyproject.toml").is_file() and not (folder / "setup.py").is_file():
        raise ConfigError(f"{label}: {folder} is not a Python project (no pyproject.toml or setup.py)",
                          "point it at the folder that holds the project's pyproject.toml")
    static = _static_metadata(folder, label)
    name, version, requires, entry_points = static if static else _prepared_metadata(folder, builder, label)
    source = FolderSource(folder, editable=editable, entry_points=entry_points,
                          dynamic_version=static is None and _version_is_dynamic(folder),
                          requires=normalised(map(str, requires)))
    return DirectDist(name, version, requires, source)


def normalised(requires: Iterable[str]) -> tuple[str, ...]:
    """Requires-Dist lines in one spelling (quotes, spaces), sorted: two backends' metadata compare equal."""
    found = set()
    for text in requires:
        try:
            found.add(str(Requirement(text)))
        except InvalidRequirement:
            found.add(text)
    return tuple(sorted(found))


def _static_metadata(folder: Path, label: str) -> ProjectMetadata | None:
    """(name, version, requires, entry points digest) from [project], or None when any is dynamic."""
    import tomllib  # here, not at the top: reading a lock needs this module, not a TOML parser

    try:
        document = tomllib.loads((folder / "pyproject.toml").read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{label}: cannot read {folder / 'pyproject.toml'}: {exc}", "fix its TOML syntax") from None
    table = document.get("project")
    if not isinstance(table, dict) or "name" not in table:
        return None
    dynamic = table.get("dynamic", [])
    if not isinstance(dynamic, list) or any(field in dynamic for field in _NEEDED) or "version" not in table:
        return None
    where = f"{folder / 'pyproject.toml'}: [project]"
    try:
        name = canonicalize_name(str(table["name"]))
        version = Version(str(table["version"]))
        requires = [Requirement(text) for text in table.get("dependencies", [])]
        for extra, texts in (table.get("optional-dependencies") or {}).items():
            requires += [_with_extra(Requirement(text), extra) for text in texts]
    except (InvalidVersion, InvalidRequirement, TypeError, AttributeError) as exc:
        raise ConfigError(f"{label}: {where}: {exc}", "fix the project's metadata") from None
    groups: dict[str, dict[str, str]] = {}
    for key, group in (("scripts", "console_scripts"), ("gui-scripts", "gui_scripts")):
        if isinstance(table.get(key), dict):
            groups[group] = {str(k): str(v) for k, v in table[key].items()}
    for group, entries in (table.get("entry-points") or {}).items():
        if isinstance(entries, dict):
            groups[str(group)] = {str(k): str(v) for k, v in entries.items()}
    return name, version, tuple(requires), entry_points_digest(groups)


def _version_is_dynamic(folder: Path) -> bool:
    """Whether the backend derives the version (pyproject.toml lists it as dynamic, or has no
    [project] table: a setup.py project, whose version may come from anywhere)."""
    import tomllib  # here, not at the top: reading a lock needs this module, not a TOML parser

    try:
        table = tomllib.loads((folder / "pyproject.toml").read_text(encoding="utf-8")).get("project")
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return True
    if not isinstance(table, dict):
        return True
    dynamic = table.get("dynamic", [])
    return "version" not in table or (isinstance(dynamic, list) and "version" in dynamic)


def _with_extra(requirement: Requirement, extra: str) -> Requirement:
    """An optional dependency as Requires-Dist writes it: its marker and `extra == "name"`."""
    marker = requirement.marker
    requirement.marker = None
    condition = f'extra == "{canonicalize_name(extra)}"'
    return Requirement(f"{requirement}; ({marker}) and {condition}" if marker else f"{requirement}; {condition}")


def _prepared_metadata(folder: Path, builder: BuilderFactory, label: str) -> ProjectMetadata:
    """The backend's answer, cached by the bytes of the project's build files, the interpreter and,
    in a git checkout, the commit and the tags that describe it: a backend that versions the
    project from git (setuptools-scm, hatch-vcs) answers differently after a commit or `git tag`,
    and a cached answer must never disagree with what a build would install."""
    build = builder()
    digest = hashlib.sha256(f"{build.interpreter.executable}\0{build.interpreter.version}\0{folder}".encode())
    for name in _BUILD_FILES:
        try:
            digest.update(name.encode() + b"\0" + (folder / name).read_bytes())
        except OSError:
            digest.update(name.encode() + b"\0absent")
    for name in _dynamic_files(folder):
        try:
            digest.update(b"\0file\0" + name.encode() + b"\0" + (folder / name).read_bytes())
        except OSError:
            continue
    digest.update(b"\0git\0" + _git_state(folder).encode())
    digest.update(b"\0pretend\0" + os.environ.get("SETUPTOOLS_SCM_PRETEND_VERSION", "").encode())
    cached = cache_subdir("project-metadata") / f"{digest.hexdigest()[:40]}.json"
    try:
        document = json.loads(cached.read_text())
        metadata, entry_points = document["metadata"].encode(), document["entry_points"]
    except (OSError, ValueError, KeyError):
        prepared = build.prepare_metadata(folder, label)
        metadata, entry_points = prepared.metadata, prepared.entry_points
        write_atomic(cached, json.dumps({"metadata": metadata.decode("utf-8", "replace"),
                                         "entry_points": entry_points}).encode())
    name, version, requires = parse_metadata(metadata, label)
    return name, version, requires, entry_points_digest(parse_entry_points(entry_points))


def _dynamic_files(folder: Path) -> list[str]:
    """The files setuptools reads dynamic metadata from (`[tool.setuptools.dynamic]`, e.g.
    `dependencies = {file = ["requirements.in"]}`): they decide the answer as the build files do."""
    import tomllib  # here, not at the top: reading a lock needs this module, not a TOML parser

    try:
        table = tomllib.loads((folder / "pyproject.toml").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return []
    dynamic: object = table
    for key in ("tool", "setuptools", "dynamic"):
        dynamic = dynamic.get(key, {}) if isinstance(dynamic, dict) else {}
    found: list[str] = []
    for entry in (dynamic.values() if isinstance(dynamic, dict) else ()):
        files = entry.get("file") if isinstance(entry, dict) else None
        found += [files] if isinstance(files, str) else [f for f in files or () if isinstance(f, str)]
    return found


def _git_state(folder: Path) -> str:
    """Where the folder's git checkout stands (its commit and the tags that describe it), or ""
    outside one: what a version computed from git depends on."""
    try:
        result = subprocess.run(["git", "-C", str(folder), "describe", "--tags", "--long", "--always", "--abbrev=40"],
                                capture_output=True, text=True, check=False, stdin=subprocess.DEVNULL,
                                env={**os.environ, "GIT_OPTIONAL_LOCKS": "0"})
    except OSError:
        return ""
    return result.stdout.strip() if result.returncode == 0 else ""


def check_local_versions(spec: EnvSpec, local: Mapping[NormalizedName, DirectDist], markers: Mapping[str, str],
                         config_dir: Path) -> None:
    """A local project asked for by name (api's `dependencies = ["corelib>=2"]`) is the env's own
    folder, never an index's: when the folder's version does not fit the requirement, the error
    names both projects' files rather than leaving the resolver to report an empty candidate set."""
    from envsync.resolve.markers import marker_holds

    projects = {dist.name: dist for dist in local.values() if isinstance(dist.source, FolderSource)}
    if len(projects) < 2:
        return
    extras_of = {project.path.as_uri(): ("", *project.extras) for project in spec.projects}
    for requirer in projects.values():
        extras = extras_of.get(requirer.source.url, ("",))
        for requirement in requirer.requires:
            wanted = projects.get(canonicalize_name(requirement.name))
            if wanted is None or wanted is requirer or requirement.specifier.contains(wanted.version, prereleases=True):
                continue
            if not any(marker_holds(requirement.marker, markers, extra=extra, if_unevaluable=True) for extra in extras):
                continue
            asking, holding = (_project_file(dist, config_dir) for dist in (requirer, wanted))
            raise ConfigError(f"env {spec.name}: {asking} asks for {requirement.name}{requirement.specifier}, but the "
                              f"local project {wanted.name} ({holding}) is version {wanted.version}; a local "
                              "project's name is never looked up on an index",
                              f"change the requirement in {asking}, or the version in {holding}")


def _project_file(dist: DirectDist, config_dir: Path) -> str:
    folder = dist.source.path if isinstance(dist.source, FolderSource) else config_dir
    return Path(os.path.relpath(folder / "pyproject.toml", config_dir)).as_posix()
