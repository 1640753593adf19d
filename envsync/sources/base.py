"""What every source kind shares: the `Source` a pin carries, the `DirectDist` read before a
resolve, and the small helpers the kinds use to read a requirement and a package's metadata.

A source kind is where a package's files come from: an index file, an archive URL, a local
folder, a git commit. Each kind is one module of this package and owns everything that differs
between kinds (see `Source`); the rest of envsync asks the source, never its kind's name.
"""

from __future__ import annotations

import os
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from packaging.requirements import Requirement
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import InvalidVersion, Version

from envsync.errors import BuildFailed, ConfigError
from envsync.model import Artifact, Installed, Pin
from envsync.resolve.urls import redact

if TYPE_CHECKING:
    from packaging.direct_url import DirectUrl
    from packaging.pylock import Package

    from envsync.build.pep517 import Builder

BuilderFactory = Callable[[], "Builder"]


class Source:
    """Where one pinned package installs from, and everything that depends on that.

    Subclasses are frozen dataclasses, one per kind. A pin from an index carries no source
    (`Pin.source is None`); `envsync.sources.source_of` stands an `IndexFile` in for it.
    """

    kind: ClassVar[str]  # the PEP 610/751 word for it, for messages and [tool.envsync] only
    url: str  # what direct_url.json records: never with credentials
    editable: bool = False

    @property
    def key(self) -> str:
        """Names the wheel it installs from, so two envs installing the same one build it once."""
        raise NotImplementedError

    @property
    def computes_version(self) -> bool:
        """Whether the version is computed when built (setuptools-scm, hatch-vcs: from git), so two
        commits' versions say nothing about a change (a review does not compare them)."""
        return False

    @property
    def decides_version(self) -> bool:
        """Whether a different installed version is a reason for this source to judge (an editable
        project whose version moves with each commit), not an upgrade or downgrade by itself."""
        return False

    def wheel(self, pin: Pin, builder: Builder, work: Path) -> Path:
        """A wheel file to install the pin from, built in `work` (or taken from the build cache)."""
        raise NotImplementedError

    def direct_url(self) -> DirectUrl | None:
        """PEP 610's record of it, for the installed package's direct_url.json."""
        return None

    def lock_entry(self, pin: Pin, lock_folder: Path) -> dict[str, Any]:
        """The PEP 751 keys saying where it installs from (`wheels`, `archive`, `directory`, ...)."""
        raise NotImplementedError

    def locks_version(self) -> bool:
        """Whether its [[packages]] entry carries a `version` (PEP 751: not for a source tree)."""
        return True

    def tool_entry(self) -> dict[str, Any]:
        """What envsync keeps about it under the package's [tool.envsync] table."""
        return {}

    def export_line(self, package: Package, base: Path) -> str:
        """Its line in an exported requirements file (paths relative to `base`)."""
        raise NotImplementedError

    def is_project(self) -> bool:
        """A local project folder (what `export --no-emit-project` leaves out)."""
        return False

    def reinstall_reason(self, pin: Pin, have: Installed) -> str | None:
        """Why `have`, already installed, must be installed again from this source; None if it needn't."""
        raise NotImplementedError

    def digest_entry(self) -> list[Any]:
        """What of it enters a lock's input digest, with no credentials in it."""
        return [self.url, self.editable]

    def file(self) -> Artifact | None:
        """The file it is, when it is one (an archive): the pin's `artifact`."""
        return None


def moved(source: Source, have: Installed) -> str | None:
    """The reason every direct source shares: the package was installed from somewhere else, or
    installed editable where a regular install is wanted (or the other way round)."""
    if have.direct_url is None or have.direct_url.rstrip("/") != source.url.rstrip("/"):
        return "installed from another source"
    if have.editable != source.editable:
        return "editable install -> regular install" if have.editable else "regular install -> editable install"
    return None


@dataclass(frozen=True)
class DirectDist:
    """One package from a direct source, as the resolver and the lock need it."""

    name: NormalizedName
    version: Version
    requires: tuple[Requirement, ...]  # Requires-Dist, extras as `extra == "x"` markers
    source: Source
    artifact: Artifact | None = None  # the file, when the source is one (an archive)

    def digest_entry(self) -> list[Any]:
        """What of it feeds the lock's input digest (a change re-resolves)."""
        # A version the source itself judges (an editable project's, derived from git) would make
        # every commit's lock stale: its dependencies and entry points are what count.
        version = None if self.source.decides_version else str(self.version)
        return [version, sorted(map(str, self.requires)), *self.source.digest_entry()]

    def pin(self) -> Pin:
        return Pin(self.name, self.version, self.artifact, source=self.source)


class Kind(Protocol):
    """A source kind, as the registry (envsync.sources) knows it."""

    name: str
    local: bool  # read on every plan (a folder: its metadata may change any time), else only when resolving

    def claims(self, url: str, config_dir: Path) -> bool:
        """Whether a requirement's URL is of this kind."""
        ...

    def read(self, requirement: Requirement, config_dir: Path, builder: BuilderFactory) -> DirectDist:
        """The package the requirement names, its metadata read from the source."""
        ...

    def from_lock(self, package: Package, lock_path: Path) -> Source | None:
        """The source a PEP 751 package entry records, or None when it is not of this kind."""
        ...


def shown(requirement: Requirement | str) -> str:
    """A requirement as messages, locks and plans show it: any credentials in its URL blanked."""
    if isinstance(requirement, str):
        return requirement
    if requirement.url is None or "@" not in urllib.parse.urlsplit(requirement.url).netloc:
        return str(requirement)
    return str(requirement).replace(requirement.url, redact(requirement.url))


def without_credentials(requirement: Requirement) -> Requirement:
    """The requirement as the resolver and the lock see it: its URL's credentials blanked."""
    return requirement if shown(requirement) == str(requirement) else Requirement(shown(requirement))


def check_name(requirement: Requirement, dist: DirectDist) -> None:
    if canonicalize_name(requirement.name) != dist.name:
        raise ConfigError(f"requirement {shown(requirement)!r}: the source is the package {dist.name!r}, "
                          f"not {requirement.name!r}", "write the package's own name before the @")


def local_path(url: str, config_dir: Path) -> Path | None:
    """The local path a direct reference names (a file:// URL or a plain path), or None for a remote one."""
    if url.startswith("file:"):
        return Path(urllib.parse.unquote(urllib.parse.urlsplit(url).path))
    if "://" in url:
        return None
    return Path(os.path.normpath(config_dir / Path(url).expanduser()))


def lock_relative(path: Path, lock_folder: Path) -> str:
    """A local path as a lock (or an export) writes it: relative to its folder, `/`-separated."""
    return Path(os.path.relpath(path, lock_folder)).as_posix()


def parse_metadata(metadata: bytes, label: str) -> tuple[NormalizedName, Version, tuple[Requirement, ...]]:
    """Name, Version and Requires-Dist from core metadata; a malformed Requires-Dist line is skipped."""
    from packaging.metadata import parse_email  # email's parser: 15 ms, needed only when metadata is read

    from envsync.files.metadata import valid_requirements

    raw, _ = parse_email(metadata)
    try:
        name, version = canonicalize_name(raw["name"]), Version(raw["version"])
    except (KeyError, InvalidVersion) as exc:
        raise BuildFailed(f"{label}: its metadata has no valid Name and Version ({exc})",
                          "the project's build configuration is broken") from None
    return name, version, tuple(valid_requirements(raw.get("requires_dist", [])))


def hashes_of(package: Package) -> list[str]:
    """Every sha256 a locked package's files carry, sorted."""
    files = [*(package.wheels or ()), *([package.sdist] if package.sdist else ()),
             *([package.archive] if package.archive else ())]
    return sorted({value for file in files for algorithm, value in file.hashes.items() if algorithm == "sha256"})


def hash_lines(head: str, hashes: list[str]) -> str:
    """A requirements-file line with its `--hash` options, one per continuation line."""
    return " \\\n".join([head, *(f"    --hash=sha256:{value}" for value in hashes)])
