"""Which python-build-standalone builds can be installed on this machine, and the one a request gets.

Two lists of builds exist. By default, the table shipped with pbs-installer (kept by PDM's
authors and used by PDM and Hatch): its version pins the table, and "the newest patch" means the
newest it lists. ENVSYNC_PYTHON_DOWNLOADS_JSON names a file or URL in the format of uv's
`download-metadata.json` instead, so a company (or a test) can list its own builds.
ENVSYNC_PYTHON_INSTALL_MIRROR replaces the release host in every URL (a base URL, or a `file://`
folder laid out like the release assets: `<mirror>/<release>/<file>`).

Only the builds' names are looked at here; downloading and unpacking are `installs.py`'s.
"""

from __future__ import annotations

import json
import os
import platform as platform_module
import sys
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from packaging.specifiers import SpecifierSet
from packaging.version import Version

from envsync.errors import PythonDownloadError

DOWNLOADS_JSON_VARIABLE = "ENVSYNC_PYTHON_DOWNLOADS_JSON"
MIRROR_VARIABLE = "ENVSYNC_PYTHON_INSTALL_MIRROR"
# Where python-build-standalone's release assets live; a mirror replaces this prefix.
RELEASE_PREFIXES = (
    "https://github.com/astral-sh/python-build-standalone/releases/download",
    "https://github.com/indygreg/python-build-standalone/releases/download",
)
OLDEST_MINOR, NEWEST_MINOR = 8, 20  # the CPython 3 minors a request is looked up among
MAX_LIST_BYTES = 64 << 20


@dataclass(frozen=True)
class Platform:
    """This machine as the build lists name it: os "linux" | "macos" | "windows", arch, libc."""

    os: str
    arch: str
    libc: str  # "gnu", "musl", or "none" where the OS has one C library


@dataclass(frozen=True)
class Build:
    """One installable CPython build: an `install_only` archive (a `python/` folder inside)."""

    version: Version
    platform: Platform
    url: str
    sha256: str | None

    @property
    def key(self) -> str:
        """The install folder's name, as uv names its own: cpython-3.12.7-linux-x86_64-gnu."""
        return f"cpython-{self.version}-{self.platform.os}-{self.platform.arch}-{self.platform.libc}"

    @property
    def filename(self) -> str:
        return unquote(urlsplit(self.url).path.rsplit("/", 1)[-1])


def this_platform() -> Platform:
    """The platform builds are chosen for: this machine's OS, CPU and C library."""
    os_name = {"darwin": "macos", "win32": "windows"}.get(sys.platform, sys.platform)
    machine = platform_module.machine().lower()
    arch = {"amd64": "x86_64", "arm64": "aarch64", "i686": "x86", "i386": "x86"}.get(machine, machine)
    libc = "none"
    if os_name == "linux":
        libc = "gnu" if platform_module.libc_ver()[0] == "glibc" else "musl"
    return Platform(os_name, arch, libc)


def find_build(spec: SpecifierSet, request: str, where: Platform | None = None) -> Build:
    """The newest build for this machine whose version `spec` admits: the newest minor first,
    and within it the newest patch the list has. Raises PythonDownloadError naming the request."""
    where = where or this_platform()
    if where.libc == "musl" and not os.environ.get(DOWNLOADS_JSON_VARIABLE):
        raise PythonDownloadError(
            f"Python {request} is not installed, and envsync has no list of builds for musl Linux",
            "install it with the system's package manager (apk add python3), or name a list of musl builds "
            f"with {DOWNLOADS_JSON_VARIABLE}")
    for build in _candidates(spec, where):
        if spec.contains(build.version, prereleases=True):
            return _mirrored(build)
    raise PythonDownloadError(
        f"Python {request} is not installed, and no python-build-standalone build for "
        f"{where.os} {where.arch} matches it",
        "install it another way (pyenv, the system's packages, python.org) and put it on PATH")


def _candidates(spec: SpecifierSet, where: Platform) -> Iterator[Build]:
    source = os.environ.get(DOWNLOADS_JSON_VARIABLE)
    if source:
        builds = [build for build in _builds_from_json(source) if build.platform == where]
        yield from sorted(builds, key=lambda build: build.version, reverse=True)
        return
    yield from _builds_from_table(spec, where)


def _builds_from_table(spec: SpecifierSet, where: Platform) -> Iterator[Build]:
    """pbs-installer's table, asked through its public lookup: newest patch of each minor first,
    then each older patch of it (a request such as "==3.12.4" needs one in particular)."""
    from pbs_installer import get_download_link

    for minor in range(NEWEST_MINOR, OLDEST_MINOR - 1, -1):
        if not any(spec.contains(Version(f"3.{minor}.{patch}"), prereleases=True) for patch in range(40)):
            continue
        request = f"3.{minor}"
        while True:
            try:
                with warnings.catch_warnings():  # its table is read with a deprecated importlib.resources call
                    warnings.simplefilter("ignore", DeprecationWarning)
                    found, (url, sha256) = get_download_link(request, arch=where.arch, platform=where.os)
            except ValueError:
                break
            yield Build(Version(f"{found.major}.{found.minor}.{found.micro}"), where, url, sha256)
            if found.micro == 0:
                break
            request = f"3.{minor}.{found.micro - 1}"


def _builds_from_json(source: str) -> list[Build]:
    """Builds listed in uv's download-metadata.json format: {key: {name, arch: {family}, os, libc,
    major, minor, patch, prerelease, url, sha256, variant}}. Only plain CPython builds are kept."""
    data = _read_list(source)
    if not isinstance(data, dict):
        raise PythonDownloadError(f"{DOWNLOADS_JSON_VARIABLE}: {source} is not a JSON object of builds",
                                  "give it the format of uv's download-metadata.json")
    builds = []
    for key, entry in data.items():
        try:
            if entry.get("name") != "cpython" or entry.get("variant") or entry.get("prerelease"):
                continue
            arch = entry["arch"]["family"] if isinstance(entry["arch"], dict) else entry["arch"]
            os_name = {"darwin": "macos"}.get(entry["os"], entry["os"])
            version = Version(f"{int(entry['major'])}.{int(entry['minor'])}.{int(entry['patch'])}")
            platform = Platform(str(os_name), str({"arm64": "aarch64"}.get(arch, arch)), str(entry.get("libc") or "none"))
            builds.append(Build(version, platform, str(entry["url"]), entry.get("sha256")))
        except (KeyError, TypeError, ValueError, AttributeError):
            raise PythonDownloadError(f"{DOWNLOADS_JSON_VARIABLE}: entry {key!r} of {source} is malformed",
                                      "each entry needs name, arch, os, libc, major, minor, patch and url") from None
    return builds


def _read_list(source: str) -> object:
    try:
        if source.startswith(("http://", "https://")):
            from envsync.resolve.http import make_client

            with make_client() as client:
                response = client.get(source)
                response.raise_for_status()
                text = response.text
        else:
            path = Path(unquote(urlsplit(source).path)) if source.startswith("file:") else Path(source)
            with open(path, "rb") as handle:
                text = handle.read(MAX_LIST_BYTES).decode("utf-8")
        return json.loads(text)
    except Exception as exc:  # noqa: BLE001 - any failure to read the list is the same failure for the user
        raise PythonDownloadError(f"{DOWNLOADS_JSON_VARIABLE}: could not read {source}: {exc}",
                                  "fix the variable, or unset it to use the builds envsync knows") from None


def _mirrored(build: Build) -> Build:
    mirror = os.environ.get(MIRROR_VARIABLE, "").rstrip("/")
    if not mirror:
        return build
    for prefix in RELEASE_PREFIXES:
        if build.url.startswith(prefix):
            return Build(build.version, build.platform, mirror + build.url[len(prefix):], build.sha256)
    return build
