"""An archive by URL or path: `name @ https://host/name-1.0-py3-none-any.whl`, a local sdist.

It is fetched once (checked against a `#sha256=` fragment when given) and hashed; its metadata
is the wheel's METADATA or the sdist's prepared metadata. Credentials in its URL are sent to its
own host only and are written nowhere: the source keeps the URL without them.
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from packaging.requirements import Requirement
from packaging.utils import parse_wheel_filename

from envsync.errors import BuildFailed, ConfigError, EnvsyncError
from envsync.model import Artifact, Installed, Pin
from envsync.resolve.urls import redact, strip_credentials
from envsync.sources.base import (
    BuilderFactory,
    DirectDist,
    Source,
    check_name,
    hash_lines,
    hashes_of,
    local_path,
    moved,
    parse_metadata,
    shown,
)
from envsync.sources.index_file import build_sdist

if TYPE_CHECKING:
    from packaging.direct_url import DirectUrl
    from packaging.pylock import Package

    from envsync.build.pep517 import Builder


@dataclass(frozen=True)
class ArchiveSource(Source):
    """A wheel or sdist file named by URL or path: the file is the pin's `artifact`."""

    kind: ClassVar[str] = "archive"
    archive: Artifact  # its url has no credentials

    @property
    def url(self) -> str:  # type: ignore[override]
        return self.archive.url

    @property
    def key(self) -> str:
        raise AssertionError("an archive is keyed by its artifact")

    def wheel(self, pin: Pin, builder: Builder, work: Path) -> Path:
        return build_sdist(pin, builder)

    def file(self) -> Artifact:
        return self.archive

    def direct_url(self) -> DirectUrl:
        from packaging.direct_url import ArchiveInfo, DirectUrl

        hashes = {"sha256": self.archive.sha256} if self.archive.sha256 else None
        return DirectUrl(url=self.url, archive_info=ArchiveInfo(hashes=hashes))

    def lock_entry(self, pin: Pin, lock_folder: Path) -> dict[str, Any]:
        from packaging.pylock import PackageArchive

        from envsync.sources.index_file import location, sha256_of

        return {"archive": PackageArchive(**location(self.archive, lock_folder), size=self.archive.size,
                                          hashes={"sha256": sha256_of(self.archive)})}

    def export_line(self, package: Package, base: Path) -> str:
        url = self.url
        if url.startswith("file:"):
            url = Path(urllib.parse.unquote(urllib.parse.urlsplit(url).path)).as_uri()
        head = f"{package.name} @ {url}"
        if package.marker is not None:
            head += f" ; {package.marker}"
        return hash_lines(head, hashes_of(package))

    def reinstall_reason(self, pin: Pin, have: Installed) -> str | None:
        reason = moved(self, have)
        if reason:
            return reason
        if self.archive.sha256 and have.source_id != self.archive.sha256:
            return "the archive changed"
        return None

    def digest_entry(self) -> list[Any]:
        return [redact(self.url), False]


class ArchiveKind:
    name = "archive"
    local = False

    def claims(self, url: str, config_dir: Path) -> bool:
        return not url.startswith("git+")

    def read(self, requirement: Requirement, config_dir: Path, builder: BuilderFactory) -> DirectDist:
        dist = archive_dist(requirement.url or "", config_dir, builder, shown(requirement))
        check_name(requirement, dist)
        return dist

    def from_lock(self, package: Package, lock_path: Path) -> Source | None:
        if package.archive is None:
            return None
        from envsync.sources.index_file import locked_file

        return ArchiveSource(locked_file(lock_path, package.archive))


KIND = ArchiveKind()


def archive_dist(url: str, config_dir: Path, builder: BuilderFactory, label: str) -> DirectDist:
    """A wheel or sdist by URL or path: fetched (checked against a #sha256= fragment if given)."""
    from envsync.build.sdist import is_sdist
    from envsync.build.wheels import sdist_metadata
    from envsync.files.hashes import sha256_of_file

    base, _, fragment = url.partition("#")
    expected = dict(urllib.parse.parse_qsl(fragment)).get("sha256")
    path = local_path(base, config_dir)
    location = path.as_uri() if path is not None else strip_credentials(base)
    filename = urllib.parse.unquote(urllib.parse.urlsplit(location).path.rsplit("/", 1)[-1])
    if not (filename.endswith(".whl") or is_sdist(filename)):
        raise ConfigError(f"{label}: {filename!r} is neither a wheel nor an sdist",
                          "point at a .whl, .tar.gz or .zip file, a project folder, or a git+ URL")
    if path is not None and not path.is_file():
        raise ConfigError(f"{label}: {path} does not exist", "fix the path")
    build = builder()
    if path is None:
        build.index.add_credentials([base])  # for this URL's own host only
    artifact = Artifact(filename=filename, url=location, sha256=expected.lower() if expected else None)
    try:
        downloaded = build.index.download(artifact)
    except EnvsyncError as exc:
        raise type(exc)(f"{label}: {exc.message}", exc.hint) from None
    artifact = replace(artifact, sha256=artifact.sha256 or sha256_of_file(downloaded))
    if filename.endswith(".whl"):
        metadata = _wheel_metadata(downloaded, filename, label)
    else:
        metadata = sdist_metadata(artifact, build, label)
    name, version, requires = parse_metadata(metadata, label)
    return DirectDist(name, version, requires, ArchiveSource(artifact), artifact)


def _wheel_metadata(path: Path, filename: str, label: str) -> bytes:
    import zipfile

    parse_wheel_filename(filename)
    with zipfile.ZipFile(path) as archive:
        entries = [info.filename for info in archive.infolist()
                   if info.filename.count("/") == 1 and info.filename.endswith(".dist-info/METADATA")]
        if not entries:
            raise BuildFailed(f"{label}: {filename} has no .dist-info/METADATA", "the wheel is broken")
        return archive.read(entries[0])
