"""Turn an sdist into a wheel (built once, cached by its sha256), and read an sdist's metadata.
Called at plan time for metadata and at apply time for the wheel itself; project folders and
git commits are built by their source kinds (envsync.sources)."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path

from envsync.build.sdist import extract_sdist
from envsync.build.workspace import work_folder
from envsync.files.cache import cache_subdir, write_atomic
from envsync.model import Artifact

TYPE_CHECKING = False  # not `typing.TYPE_CHECKING`: annotations only, no import at run time
if TYPE_CHECKING:
    from envsync.build.pep517 import Builder


def _label(artifact: Artifact) -> str:
    return artifact.filename


def sdist_metadata(artifact: Artifact, builder: Builder, label: str | None = None) -> bytes:
    """An sdist's METADATA from its backend's `prepare_metadata_for_build_wheel` (no build when
    the backend has that hook), cached by the sdist's sha256 and the interpreter's version."""
    label = label or _label(artifact)
    path = builder.index.download(artifact)
    sha256 = artifact.sha256 or _sha256(path)
    cached = cache_subdir("sdist-metadata") / f"{sha256}-{builder.interpreter.implementation}" \
        f"{builder.interpreter.short_version}.METADATA"
    if cached.is_file():
        return cached.read_bytes()
    with work_folder("sdist") as folder:
        source = extract_sdist(path, folder / "src", label)
        metadata = builder.prepare_metadata(source, label).metadata
    write_atomic(cached, metadata)
    return metadata


def built_sdist(artifact: Artifact, builder: Builder, label: str | None = None) -> Path:
    """The wheel built from an sdist: built once per sdist sha256 (and interpreter, for the
    wheels only some interpreters can use), then reused by every env and every run."""
    from envsync.resolve.tags import UNSUPPORTED, WheelRanker

    label = label or _label(artifact)
    path = builder.index.download(artifact)
    sha256 = artifact.sha256 or _sha256(path)
    folder = cache_subdir("built") / sha256
    ranker = WheelRanker(builder.interpreter.tags)
    if folder.is_dir():
        for wheel in sorted(folder.glob("*.whl")):
            if ranker.rank(wheel.name) != UNSUPPORTED:
                return wheel
    with work_folder("sdist") as work:
        source = extract_sdist(path, work / "src", label)
        wheel = builder.build_wheel(source, work / "out", label)
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / wheel.name
        _copy_atomic(wheel, target)
    return target


def _copy_atomic(source: Path, target: Path) -> None:
    """Copy through a temp name of this copy's own, then rename: two runs building one sdist at
    once each put a whole wheel in place, never a mix of both."""
    fd, temp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as out, open(source, "rb") as data:
            shutil.copyfileobj(data, out, 1 << 20)
        os.chmod(temp, 0o644)
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise


def _sha256(path: Path) -> str:
    from envsync.files.hashes import sha256_of_file

    return sha256_of_file(path)
