"""Pythons envsync installed itself: where they live, installing one, listing and removing them.

They live in envsync's data folder (location.py). Each build has a folder named by its key
(cpython-3.12.7-linux-x86_64-gnu), made whole or not at all: the archive is checked against its
sha256, unpacked aside with the same link and path checks as sdists, and renamed into place
under a lock, so two runs installing one Python end with one copy and a Ctrl-C leaves nothing.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from packaging.version import Version

from envsync.errors import EnvsyncError, PythonDownloadError
from envsync.pythons.catalogue import Build
from envsync.pythons.location import INSTALL_DIR_VARIABLE, install_dir

_KEY = re.compile(r"cpython-(\d+\.\d+\.\d+)-([a-z0-9_]+)-([a-z0-9_]+)-([a-z]+)")
_STAGING_PREFIX = ".staging-"


@dataclass(frozen=True)
class InstalledPython:
    """A Python envsync installed: its folder (named by the build's key) and its executable."""

    folder: Path
    version: Version

    @property
    def key(self) -> str:
        return self.folder.name

    @property
    def executable(self) -> Path:
        return executable_in(self.folder)


def executable_in(folder: Path) -> Path:
    return folder / "python.exe" if os.name == "nt" else folder / "bin" / "python3"


def installed() -> list[InstalledPython]:
    """Every whole install in the install folder, newest version first."""
    found = []
    with contextlib.suppress(OSError):
        for entry in os.scandir(install_dir()):
            match = _KEY.fullmatch(entry.name)
            if match and entry.is_dir() and executable_in(Path(entry.path)).is_file():
                found.append(InstalledPython(Path(entry.path), Version(match.group(1))))
    return sorted(found, key=lambda python: (python.version, python.key), reverse=True)


def install(build: Build, say: Callable[[str], None] = lambda _: None) -> InstalledPython:
    """Install `build` (or find it already installed, by this run or another) and return it."""
    if not build.sha256:
        raise PythonDownloadError(f"{build.url} is listed without a sha256, so it can't be checked",
                                  "list the build with its sha256, or install that Python another way")
    root = install_dir()
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise PythonDownloadError(f"can't create the Python install folder {root}: {exc.strerror}",
                                  f"set {INSTALL_DIR_VARIABLE} to a folder you can write") from None
    target = root / build.key
    with _held(root / f".{build.key}.lock"):
        if executable_in(target).is_file():
            return InstalledPython(target, build.version)
        _sweep(root, build.key)
        started = time.monotonic()
        say(f"installing Python {build.version} from {_shown(build.url)}")
        staging = Path(tempfile.mkdtemp(prefix=f"{_STAGING_PREFIX}{build.key}-", dir=root))
        try:
            archive = _download(build, staging)
            unpacked = _unpack(archive, staging / "unpacked", build)
            os.rename(unpacked, target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        say(f"installed Python {build.version} in {time.monotonic() - started:.1f}s ({target})")
    return InstalledPython(target, build.version)


def uninstall(python: InstalledPython) -> None:
    """Remove an installed Python: renamed aside first, so no run ever sees half of one."""
    root = python.folder.parent
    with _held(root / f".{python.key}.lock"):
        aside = root / f"{_STAGING_PREFIX}{python.key}-removed-{os.getpid()}"
        os.rename(python.folder, aside)
        shutil.rmtree(aside, ignore_errors=True)


@contextlib.contextmanager
def _held(lock_path: Path) -> Iterator[None]:
    """An exclusive lock across processes for one build's folder (released when the process dies)."""
    with open(lock_path, "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _sweep(root: Path, key: str) -> None:
    """What a killed install of `key` left aside (its lock is held now, so nothing else owns it)."""
    for leftover in root.glob(f"{_STAGING_PREFIX}{key}-*"):
        shutil.rmtree(leftover, ignore_errors=True)


def _download(build: Build, folder: Path) -> Path:
    """The archive, streamed into `folder` while hashed; a size or sha256 mismatch stops here."""
    from envsync.model import Artifact
    from envsync.resolve.http import CHUNK, store

    artifact = Artifact(filename=build.filename, url=build.url, sha256=build.sha256)
    try:
        if build.url.startswith("file:"):
            from envsync.resolve.pages import file_path

            with open(file_path(build.url), "rb") as handle:
                return store(iter(lambda: handle.read(CHUNK), b""), artifact, folder, _shown(build.url))
        from envsync.resolve.http import make_client

        with make_client() as client, client.stream("GET", build.url) as response:
            response.raise_for_status()
            return store(response.iter_bytes(CHUNK), artifact, folder, _shown(build.url))
    except EnvsyncError as exc:
        raise PythonDownloadError(f"Python {build.version}: {exc.message}", _another_way(build)) from None
    except Exception as exc:  # noqa: BLE001 - httpx's and the OS's failures alike: the download failed
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise PythonDownloadError(f"could not download Python {build.version} from {_shown(build.url)}: {detail}",
                                  _another_way(build)) from None


def _unpack(archive: Path, target: Path, build: Build) -> Path:
    """The archive's `python/` folder, unpacked under `target` with every link and path checked."""
    from envsync.files.archives import UnreadableArchive, UnsafeArchive, extract

    try:
        extract(archive, target)
    except UnsafeArchive as exc:
        raise PythonDownloadError(f"refusing to unpack {build.filename}: {exc.message}",
                                  "the build may be corrupt or malicious; " + _another_way(build)) from None
    except UnreadableArchive as exc:
        raise PythonDownloadError(exc.message, "the archive is damaged; " + _another_way(build)) from None
    top = target / "python"
    if not executable_in(top).is_file():
        raise PythonDownloadError(f"{build.filename} holds no {executable_in(Path('python'))}",
                                  "it is not an install_only build; " + _another_way(build))
    return top


def _another_way(build: Build) -> str:
    minor = f"{build.version.major}.{build.version.minor}"
    return (f"install Python {minor} another way (`pyenv install {minor}`, the system's packages) and put it on "
            "PATH, or set ENVSYNC_PYTHON_INSTALL_MIRROR to a reachable copy of the builds")


def _shown(url: str) -> str:
    from envsync.resolve.urls import redact

    return redact(url)
