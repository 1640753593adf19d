"""A file from an index or a find-links folder: a wheel, or an sdist built into one.

Pins from an index carry no source of their own (`Pin.source is None`, the common case kept
cheap); `IndexFile` speaks for them wherever a source is asked.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from envsync.errors import BuildFailed
from envsync.model import Installed, Pin
from envsync.sources.base import Source, hash_lines, hashes_of

if TYPE_CHECKING:
    from packaging.pylock import Package

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
        from envsync.resolve.lockfile import file_entry

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
