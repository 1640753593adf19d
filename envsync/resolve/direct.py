"""Packages that don't come from an index: the env's own project, and `name @ URL` requirements.

Each becomes a `DirectDist` before the resolve: its name, version and dependencies (so the
resolver treats it as the one candidate for its name) and the DirectSource the lock and
the planner record. A project folder's metadata is read from pyproject.toml's [project]
table when every field we need is static there, so `plan` builds nothing; otherwise the
backend's `prepare_metadata_for_build_wheel` answers, cached by the project's build files.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import tomllib
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from packaging.metadata import parse_email
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import NormalizedName, canonicalize_name, parse_wheel_filename
from packaging.version import InvalidVersion, Version

from envsync.errors import BuildFailed, ConfigError, EnvsyncError
from envsync.files.cache import cache_subdir, write_atomic
from envsync.files.metadata import entry_points_digest, parse_entry_points
from envsync.model import Artifact, DirectSource, EnvSpec, Pin, ProjectSpec

# [project] fields that decide what we need; if any is dynamic, the backend must be asked.

if TYPE_CHECKING:
    from envsync.build.pep517 import Builder

_NEEDED = ("version", "dependencies", "optional-dependencies", "scripts", "gui-scripts", "entry-points")
_BUILD_FILES = ("pyproject.toml", "setup.py", "setup.cfg")


@dataclass(frozen=True)
class DirectDist:
    """One package from a direct source, as the resolver and the lock need it."""

    name: NormalizedName
    version: Version
    requires: tuple[Requirement, ...]  # Requires-Dist, extras as `extra == "x"` markers
    artifact: Artifact
    source: DirectSource
    # A version the project's backend computes (setuptools-scm, hatch-vcs): it moves with every
    # commit and tag, so it must not make a lock stale.
    dynamic_version: bool = False

    def digest_entry(self) -> list:
        """What of it feeds the lock's input digest (a change re-resolves)."""
        version = None if self.dynamic_version else str(self.version)
        return [version, sorted(map(str, self.requires)), self.source.url, self.source.editable,
                self.source.entry_points]

    def pin(self) -> Pin:
        return Pin(self.name, self.version, self.artifact, source=self.source)


def project_requirement(project: ProjectSpec, dist: DirectDist) -> Requirement:
    """The root requirement that puts the project (with its extras) into the env."""
    extras = f"[{','.join(project.extras)}]" if project.extras else ""
    return Requirement(f"{dist.name}{extras} @ {dist.source.url}")


def local_dists(spec: EnvSpec, config_dir: Path, builder: Callable[[], Builder]) -> dict[NormalizedName, DirectDist]:
    """The project and every `name @ file:///folder` requirement: their metadata, read now,
    since a change to it (dependencies, version, entry points) must show in the plan."""
    found: dict[NormalizedName, DirectDist] = {}
    if spec.project is not None:
        dist = folder_dist(spec.project.path, spec.project.editable, builder, f"envs.{spec.name}.project")
        found[dist.name] = dist
    for requirement in spec.requirements:
        if requirement.url is None:
            continue
        path = local_path(requirement.url, config_dir)
        if path is not None and path.is_dir():
            dist = folder_dist(path, False, builder, f"{requirement.name} @ {requirement.url}")
            _check_name(requirement, dist)
            found[dist.name] = dist
    return found


def remote_dists(spec: EnvSpec, config_dir: Path, builder: Callable[[], Builder],
                 skip: Mapping[NormalizedName, DirectDist]) -> dict[NormalizedName, DirectDist]:
    """Every other `name @ URL` requirement: archives (fetched and hashed) and git revisions
    (cloned, the revision fixed to a commit). Only called when the env is resolved."""
    found: dict[NormalizedName, DirectDist] = {}
    for requirement in spec.requirements:
        name = canonicalize_name(requirement.name)
        if requirement.url is None or name in skip:
            continue
        url = requirement.url
        if url.startswith("git+"):
            dist = git_dist(url, builder, str(requirement))
        else:
            dist = archive_dist(url, config_dir, builder, str(requirement))
        _check_name(requirement, dist)
        found[name] = dist
    return found


def _check_name(requirement: Requirement, dist: DirectDist) -> None:
    if canonicalize_name(requirement.name) != dist.name:
        raise ConfigError(f"requirement {str(requirement)!r}: the source is the package {dist.name!r}, "
                          f"not {requirement.name!r}", "write the package's own name before the @")


def local_path(url: str, config_dir: Path) -> Path | None:
    """The local path a direct reference names (a file:// URL or a plain path), or None for a remote one."""
    if url.startswith("file:"):
        return Path(urllib.parse.unquote(urllib.parse.urlsplit(url).path))
    if "://" in url:
        return None
    return Path(os.path.normpath(config_dir / Path(url).expanduser()))


# -- project folders --------------------------------------------------------------------


def folder_dist(folder: Path, editable: bool, builder: Callable[[], Builder], label: str) -> DirectDist:
    """A project folder's metadata: static from pyproject.toml when it can be, else from its backend."""
    folder = Path(os.path.abspath(folder))
    if not (folder / "pyproject.toml").is_file() and not (folder / "setup.py").is_file():
        raise ConfigError(f"{label}: {folder} is not a Python project (no pyproject.toml or setup.py)",
                          "point it at the folder that holds the project's pyproject.toml")
    static = _static_metadata(folder, label)
    name, version, requires, entry_points = static if static else _prepared_metadata(folder, builder, label)
    url = folder.as_uri()
    shown = f"{name}-{version}" + (" (editable)" if editable else "")
    return DirectDist(name, version, requires, Artifact(filename=shown, url=url, sha256=None),
                      DirectSource("directory", url, editable=editable, entry_points=entry_points),
                      dynamic_version=not static and not _static_version(folder))


def _static_version(folder: Path) -> bool:
    """Whether pyproject.toml's [project] writes the version itself (else the backend computes it)."""
    try:
        table = tomllib.loads((folder / "pyproject.toml").read_text(encoding="utf-8")).get("project")
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return False
    return isinstance(table, dict) and "version" in table and "version" not in (table.get("dynamic") or [])


def _static_metadata(folder: Path, label: str):
    """(name, version, requires, entry points digest) from [project], or None when any is dynamic."""
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


def _with_extra(requirement: Requirement, extra: str) -> Requirement:
    """An optional dependency as Requires-Dist writes it: its marker and `extra == "name"`."""
    marker = requirement.marker
    requirement.marker = None
    condition = f'extra == "{canonicalize_name(extra)}"'
    return Requirement(f"{requirement}; ({marker}) and {condition}" if marker else f"{requirement}; {condition}")


def _prepared_metadata(folder: Path, builder: Callable[[], Builder], label: str):
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


def parse_metadata(metadata: bytes, label: str) -> tuple[NormalizedName, Version, tuple[Requirement, ...]]:
    raw, _ = parse_email(metadata)
    try:
        name, version = canonicalize_name(raw["name"]), Version(raw["version"])
    except (KeyError, InvalidVersion) as exc:
        raise BuildFailed(f"{label}: its metadata has no valid Name and Version ({exc})",
                          "the project's build configuration is broken") from None
    requires = []
    for text in raw.get("requires_dist", []):
        try:
            requires.append(Requirement(text))
        except InvalidRequirement:
            continue
    return name, version, tuple(requires)


# -- archives -----------------------------------------------------------------------------


def archive_dist(url: str, config_dir: Path, builder: Callable[[], Builder], label: str) -> DirectDist:
    """A wheel or sdist by URL or path: fetched (checked against a #sha256= fragment if given)."""
    from envsync.build.sdist import is_sdist
    from envsync.build.wheels import sdist_metadata

    base, _, fragment = url.partition("#")
    expected = dict(urllib.parse.parse_qsl(fragment)).get("sha256")
    path = local_path(base, config_dir)
    location = path.as_uri() if path is not None else base
    filename = urllib.parse.unquote(urllib.parse.urlsplit(location).path.rsplit("/", 1)[-1])
    if not (filename.endswith(".whl") or is_sdist(filename)):
        raise ConfigError(f"{label}: {filename!r} is neither a wheel nor an sdist",
                          "point at a .whl, .tar.gz or .zip file, a project folder, or a git+ URL")
    if path is not None and not path.is_file():
        raise ConfigError(f"{label}: {path} does not exist", "fix the path")
    build = builder()
    artifact = Artifact(filename=filename, url=location, sha256=expected.lower() if expected else None)
    try:
        downloaded = build.index.download(artifact)
    except EnvsyncError as exc:
        raise type(exc)(f"{label}: {exc.message}", exc.hint) from None
    from envsync.files.hashes import sha256_of_file

    artifact = replace(artifact, sha256=artifact.sha256 or sha256_of_file(downloaded))
    if filename.endswith(".whl"):
        import zipfile

        _, version, _, _ = parse_wheel_filename(filename)
        with zipfile.ZipFile(downloaded) as archive:
            entries = [info.filename for info in archive.infolist()
                       if info.filename.count("/") == 1 and info.filename.endswith(".dist-info/METADATA")]
            if not entries:
                raise BuildFailed(f"{label}: {filename} has no .dist-info/METADATA", "the wheel is broken")
            metadata = archive.read(entries[0])
    else:
        metadata = sdist_metadata(artifact, build, label)
    name, version, requires = parse_metadata(metadata, label)
    return DirectDist(name, version, requires, artifact,
                      DirectSource("archive", location, sha256=artifact.sha256))


# -- git ----------------------------------------------------------------------------------


def split_git_url(url: str) -> tuple[str, str | None, str | None]:
    """`git+SCHEME://host/repo@rev#subdirectory=x` -> (SCHEME://host/repo, rev, subdirectory)."""
    base, _, fragment = url.removeprefix("git+").partition("#")
    subdirectory = dict(urllib.parse.parse_qsl(fragment)).get("subdirectory")
    parts = urllib.parse.urlsplit(base)
    path, at, revision = parts.path.rpartition("@")
    if not at or "/" in revision:
        return base, None, subdirectory
    return urllib.parse.urlunsplit(parts._replace(path=path)), revision or None, subdirectory


def git_checkout(repository: str, revision: str | None, label: str) -> tuple[Path, str]:
    """A checkout of `revision` (default: the default branch) in the cache, and its commit id."""
    mirror = cache_subdir("git") / hashlib.sha256(repository.encode()).hexdigest()[:32]
    if not (mirror / "HEAD").exists():
        _git(["clone", "--quiet", "--bare", "--", repository, str(mirror)], None, label)
    else:
        _git(["fetch", "--quiet", "--force", "--", repository, "+refs/heads/*:refs/heads/*",
              "+refs/tags/*:refs/tags/*"], mirror, label)
    commit = _git(["rev-parse", "--verify", f"{revision or 'HEAD'}^{{commit}}"], mirror, label).strip()
    checkout = cache_subdir("git-checkouts") / commit
    if not checkout.is_dir():
        staging = checkout.with_name(f".{commit}.tmp-{os.getpid()}")
        _git(["worktree", "prune"], mirror, label)
        _git(["clone", "--quiet", "--no-checkout", "--", str(mirror), str(staging)], None, label)
        _git(["checkout", "--quiet", commit], staging, label)
        os.replace(staging, checkout) if not checkout.exists() else None
    return checkout, commit


def _git(args: Sequence[str], cwd: Path | None, label: str) -> str:
    try:
        result = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False,
                                stdin=subprocess.DEVNULL, env={**os.environ, "GIT_TERMINAL_PROMPT": "0"})
    except FileNotFoundError:
        raise BuildFailed(f"{label}: git is not installed", "install git to use git+ requirements") from None
    if result.returncode != 0:
        from envsync.resolve.urls import redact

        lines = [line.strip() for line in result.stderr.splitlines() if line.strip()]
        # git's first "fatal:"/"error:" line says what went wrong; what follows is advice for its own CLI.
        said = next((line for line in lines if line.startswith(("fatal:", "error:"))), lines[0] if lines else "")
        detail = redact(said or "no output")
        raise BuildFailed(f"{label}: git {args[0]} failed: {detail}", "check the repository URL and revision")
    return result.stdout


def git_dist(url: str, builder: Callable[[], Builder], label: str, commit: str | None = None) -> DirectDist:
    """A `git+` requirement: its revision fixed to a commit, its metadata from the checkout."""
    repository, revision, subdirectory = split_git_url(url)
    checkout, commit = git_checkout(repository, commit or revision, label)
    folder = checkout / subdirectory if subdirectory else checkout
    dist = folder_dist(folder, False, builder, label)
    from envsync.resolve.urls import strip_credentials

    shown = strip_credentials(repository)
    source = DirectSource("vcs", shown, requested_revision=revision, commit_id=commit)
    artifact = Artifact(filename=f"{dist.name}-{dist.version}", url=f"git+{shown}@{commit}"
                        + (f"#subdirectory={subdirectory}" if subdirectory else ""), sha256=None)
    return replace(dist, artifact=artifact, source=source)
