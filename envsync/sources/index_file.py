"""A file from an index or a find-links folder: a wheel, or an sdist built into one.

Pins from an index carry no source of their own (`Pin.source is None`, the common case kept
cheap); `IndexFile` speaks for them wherever a source is asked.
"""

from __future__ import annotations

import os
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, TypedDict

from envsync.errors import BuildFailed, LockError
from envsync.files.hashes import sha256_of_file
from envsync.model import Artifact, Installed, Pin
from envsync.resolve.pages import checked_sha256
from envsync.resolve.urls import strip_credentials
from envsync.sources.base import Source, hash_lines, hashes_of

if TYPE_CHECKING:
    from packaging.pylock import Package, PackageArchive, PackageSdist, PackageWheel

    from envsync.build.pep517 import Builder


@dataclass(frozen=True)
class IndexFile(Source):
    """The file a pin names (its `artifact`): no direct_url.json, never editable."""

    kind: ClassVar[str] = "index"
    url: str = ""

    @property
    def key(self) -> str:
        raise AssertionError("an index file is keyed by its artifact")

    def wheel(self, pin: Pin, builder: Builder, work: Path) -> Path:
        return build_sdist(pin, builder)

    def lock_entry(self, pin: Pin, lock_folder: Path) -> dict[str, Any]:
        assert pin.artifact is not None
        return file_entry(pin.artifact, lock_folder)

    def export_line(self, package: Package, base: Path) -> str:
        head = f"{package.name}=={package.version}"
        if package.marker is not None:
            head += f" ; {package.marker}"
        return hash_lines(head, hashes_of(package))

    def reinstall_reason(self, pin: Pin, have: Installed) -> str | None:
        return "installed from another source" if have.direct_url is not None else None


def build_sdist(pin: Pin, builder: Builder) -> Path:
    """The wheel built (once, then cached) from the pin's sdist."""
    from envsync.build.sdist import is_sdist
    from envsync.build.wheels import built_sdist

    artifact = pin.artifact
    if artifact is None or not is_sdist(artifact.filename):
        shown = artifact.filename if artifact else pin.name
        raise BuildFailed(f"{shown}: envsync does not know how to install this file",
                          "use a wheel, an sdist, a project folder or a git+ URL")
    return built_sdist(artifact, builder)


INDEX_FILE = IndexFile()


def locked_file(lock_path: Path, wheel: PackageWheel | PackageSdist | PackageArchive) -> Artifact:
    url = wheel.url
    if url is None:
        assert wheel.path is not None  # Pylock's validation: a file has a url or a path
        url = (lock_path.parent / wheel.path).resolve().as_uri()
    filename = getattr(wheel, "filename", None) or urllib.parse.unquote(urllib.parse.urlsplit(url).path.rsplit("/", 1)[-1])
    sha256 = wheel.hashes.get("sha256")
    if not sha256:
        raise LockError(f"{lock_path.name}: file {filename} has no sha256 hash",
                        "every locked file must carry a sha256; re-lock with `envsync lock`")
    try:
        sha256 = checked_sha256(sha256, f"the sha256 of file {filename}")
    except ValueError as exc:
        raise LockError(f"{lock_path.name}: {exc}",
                        "the lock is damaged or was edited by hand; delete it and run `envsync lock`") from None
    return Artifact(filename=filename, url=url, sha256=sha256, size=wheel.size)


def file_entry(artifact: Artifact, config_dir: Path) -> dict[str, object]:
    """An index's (or find-links folder's) file as PEP 751 keys: `wheels` or `sdist`."""
    from packaging.pylock import PackageSdist, PackageWheel

    hashes = {"sha256": sha256_of(artifact)}
    if not artifact.filename.endswith(".whl"):
        return {"sdist": PackageSdist(name=artifact.filename, **location(artifact, config_dir),
                                      size=artifact.size, hashes=hashes)}
    return {"wheels": [PackageWheel(name=artifact.filename, **location(artifact, config_dir),
                                    size=artifact.size, hashes=hashes)]}


def sha256_of(artifact: Artifact) -> str:
    """The artifact's sha256; a find-links file is only hashed when it gets locked."""
    if artifact.sha256:
        return artifact.sha256
    return sha256_of_file(urllib.parse.unquote(urllib.parse.urlsplit(artifact.url).path))


def location(artifact: Artifact, config_dir: Path) -> Location:
    """An index URL without credentials, or a local file as a path relative to the lock."""
    if artifact.url.startswith("file:"):
        local = urllib.parse.unquote(urllib.parse.urlsplit(artifact.url).path)
        return {"path": Path(os.path.relpath(local, config_dir)).as_posix()}
    return {"url": strip_credentials(artifact.url)}


class Location(TypedDict, total=False):
    """Where a locked file is: PEP 751's `url` or `path` key."""

    url: str
    path: str
