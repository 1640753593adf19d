"""Find a Python interpreter for a request ("3.12", a range, a path); probe it once for markers and wheel tags."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from envsync.errors import InterpreterNotFound
from envsync.files.cache import cache_subdir, write_atomic
from envsync.model import Interpreter

MIN_VERSION = (3, 8)  # the oldest Python an env may use (and the probe script must run on)
_CACHE_FORMAT = 3  # bump when the probe script, the cached layout or the tag generator changes
_PROBE_TIMEOUT = 60.0

# Runs inside the probed interpreter: Python 3.8+, standard library only, prints one JSON object.
# Run with -S: site imports each .pth file in site-packages, none of which changes the answer,
# and that took 30 of the probe's 50 ms here (a .pth importing certifi); `prefix` does site's one part that matters.
_PROBE_SCRIPT = r"""
import json, os, platform, struct, subprocess, sys, sysconfig
from importlib.machinery import EXTENSION_SUFFIXES

def full_version(info):
    version = "%d.%d.%d" % (info.major, info.minor, info.micro)
    if info.releaselevel != "final":
        version += info.releaselevel[0] + str(info.serial)
    return version

def libc():
    try:
        return ["glibc", os.confstr("CS_GNU_LIBC_VERSION").rsplit()[1]]
    except (AttributeError, OSError, ValueError, IndexError):
        pass
    import glob
    for loader in sorted(glob.glob("/lib/ld-musl-*.so.1")):
        try:
            out = subprocess.run([loader], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                 universal_newlines=True).stderr
        except OSError:
            continue
        for line in out.splitlines():
            if line.startswith("Version "):
                return ["musl", line.split()[1]]
    return None

def mac_version():
    release, _, machine = platform.mac_ver()
    if release.startswith("10.16"):  # built with an old SDK: ask for the real version
        release = subprocess.run(
            [sys.executable, "-sS", "-c", "import platform; print(platform.mac_ver()[0])"],
            env={"SYSTEM_VERSION_COMPAT": "0"}, stdout=subprocess.PIPE, universal_newlines=True,
        ).stdout.strip()
    return [release, machine]

def prefix():
    # Run without site (-S), which is where a venv's prefix is set: read pyvenv.cfg as site.venv does.
    executable = sys.executable
    if sys.platform == "darwin" and "__PYVENV_LAUNCHER__" in os.environ:
        executable = os.environ["__PYVENV_LAUNCHER__"]
    exe_dir = os.path.dirname(os.path.abspath(executable))
    for folder in (exe_dir, os.path.dirname(exe_dir)):
        if os.path.isfile(os.path.join(folder, "pyvenv.cfg")):
            return os.path.dirname(exe_dir)
    return sys.prefix

config = sysconfig.get_config_var
info = {
    "executable": sys.executable,
    "prefix": prefix(),
    "base_prefix": getattr(sys, "base_prefix", sys.prefix),
    "version": full_version(sys.version_info),
    "implementation": sys.implementation.name,
    "markers": {
        "implementation_name": sys.implementation.name,
        "implementation_version": full_version(sys.implementation.version),
        "os_name": os.name,
        "platform_machine": platform.machine(),
        "platform_release": platform.release(),
        "platform_system": platform.system(),
        "platform_version": platform.version(),
        "python_full_version": platform.python_version(),
        "platform_python_implementation": platform.python_implementation(),
        "python_version": ".".join(platform.python_version_tuple()[:2]),
        "sys_platform": sys.platform,
    },
    "platform": sysconfig.get_platform(),
    "libc": libc() if sys.platform.startswith("linux") else None,
    "mac_ver": mac_version() if sys.platform == "darwin" else None,
    "abiflags": getattr(sys, "abiflags", ""),
    "soabi": config("SOABI"),
    "ext_suffix": config("EXT_SUFFIX"),
    "extension_suffixes": list(EXTENSION_SUFFIXES),
    "py_debug": config("Py_DEBUG"),
    "gil_disabled": config("Py_GIL_DISABLED"),
    "has_refcount": hasattr(sys, "gettotalrefcount"),
    "py_version_nodot": config("py_version_nodot"),
    "stdlib": sysconfig.get_paths()["stdlib"],
    "pointer_bits": struct.calcsize("P") * 8,
}
sys.stdout.write(json.dumps(info))
"""

_PATH_NAME = re.compile(r"python(?:3(?:\.(\d+))?)?")  # python3.12, python3, python
_VERSIONED_NAME = re.compile(r"python(\d+)\.(\d+)")  # what python3 often links to
_PYENV_NAME = re.compile(r"(\d+)\.(\d+)\.(\d+)")  # pyenv's folder for a CPython release
_VERSION_REQUEST = re.compile(r"(?:c?python-?)?(\d+(?:\.\d+){0,2})", re.IGNORECASE)
_UNKNOWN = Version("999999")  # the best a candidate whose name gives no version could be


# -- finding -----------------------------------------------------------------------------


def find_interpreter(request: str | None, base_dir: Path) -> Interpreter:
    """The interpreter for an env's `python` request: None (our own), a version, a range, or a path."""
    if request is None:
        return probe(Path(sys.executable))
    request = request.strip()
    if _looks_like_path(request):
        return _interpreter_at(request, base_dir)
    if _PYPY_REQUEST.fullmatch(request):
        return _find_pypy(request)
    spec = _parse_version_request(request)
    candidates = list(_discover())
    # One already on the machine wins over one envsync downloaded, whatever their patch releases.
    found = _select([c for c in candidates if c.source < _INSTALLED], spec)
    if found is None:
        found = _select([c for c in candidates if c.source == _INSTALLED], spec)
    if found is None:
        raise _not_found(request, spec, candidates)
    return found


def is_version_request(request: str) -> bool:
    """Whether `request` asks for a CPython version or range (so a build could serve it), not a path or PyPy."""
    request = request.strip()
    return not _looks_like_path(request) and not _PYPY_REQUEST.fullmatch(request)


def version_spec(request: str) -> SpecifierSet:
    """The versions a `python` request admits: "3.12" -> ==3.12.*."""
    return _parse_version_request(request.strip())
_PYPY_REQUEST = re.compile(r"pypy(\d+)\.(\d+)")  # a matrix's "pypy3.10": PyPy implementing Python 3.10


def _find_pypy(request: str) -> Interpreter:
    """A PyPy for "pypy3.10": named pypy3.10 on PATH, or a pyenv pypy3.10-* version, that says it is PyPy 3.10."""
    major, minor = _PYPY_REQUEST.fullmatch(request).groups()  # type: ignore[union-attr]
    pyenv = _pyenv_root() / "versions"
    named = [Path(folder) / request for folder in os.environ.get("PATH", "").split(os.pathsep) if folder]
    with contextlib.suppress(OSError):
        named += [pyenv / name / "bin" / request for name in sorted(os.listdir(pyenv)) if name.startswith(request)]
    for path in named:
        if not (path.is_file() and os.access(path, os.X_OK)):
            continue
        try:
            found = probe(path)
        except InterpreterNotFound:
            continue
        if found.implementation == "pypy" and (found.version.major, found.version.minor) == (int(major), int(minor)):
            return found
    # Not found, and PyPy builds are not downloaded (only CPython ones are): the error stands.
    raise InterpreterNotFound(f"No PyPy interpreter matches python = {request!r} (looked for {request} on PATH "
                              "and in pyenv's versions).",
                              hint=f"install PyPy {major}.{minor} (for example `pyenv install {request}`) "
                                   "so that `" + request + "` is on PATH")


def _looks_like_path(request: str) -> bool:
    return "/" in request or "\\" in request or request.startswith(("~", "."))


def _interpreter_at(request: str, base_dir: Path) -> Interpreter:
    path = Path(request).expanduser()
    if not path.is_absolute():
        path = base_dir / path
    if path.is_dir():  # a prefix or a venv folder: use the python inside it
        path = next((p for p in (path / "bin" / "python3", path / "bin" / "python") if p.exists()), path)
    if not path.is_file():
        raise InterpreterNotFound(
            f"Python interpreter {request!r} not found: {path} does not exist.",
            hint="give the path of a python executable, or a version such as \"3.12\"",
        )
    interpreter = probe(path)
    if (interpreter.version.major, interpreter.version.minor) < MIN_VERSION:
        raise InterpreterNotFound(
            f"{path} is Python {interpreter.version}; envsync envs need Python {_min_text()} or newer.",
            hint="point `python` at a newer interpreter",
        )
    return interpreter


def _parse_version_request(request: str) -> SpecifierSet:
    """"3" / "3.12" / "3.12.1" become ==3.* / ==3.12.* / ==3.12.1; anything else must be a specifier set."""
    match = _VERSION_REQUEST.fullmatch(request)
    if match:
        number = match.group(1)
        return SpecifierSet(f"=={number}" if number.count(".") == 2 else f"=={number}.*")
    try:
        return SpecifierSet(request)
    except InvalidSpecifier:
        raise InterpreterNotFound(
            f"python = {request!r} is neither a version, a version range nor a path.",
            hint='write a version ("3.12"), a range (">=3.11,<3.13") or a path ("/usr/bin/python3")',
        ) from None


@dataclass(frozen=True)
class _Candidate:
    """An executable that may be a Python, with what its name says about its version."""

    path: Path  # as found
    source: int  # 0: PATH, 1: pyenv, 2: installed by envsync; lower wins a tie
    order: int  # discovery order; lower wins a tie
    version: Version | None  # exact when `exact`, else major.minor; None when the name says nothing
    exact: bool = False
    probed: Interpreter | None = None

    @property
    def best_possible(self) -> Version:
        """The highest version this candidate could turn out to be (its name may only give X.Y)."""
        if self.version is None:
            return _UNKNOWN
        if self.exact:
            return self.version
        return Version(f"{self.version.major}.{self.version.minor}.999999")

    def may_satisfy(self, spec: SpecifierSet) -> bool:
        if self.probed is not None and self.probed.implementation != "cpython":
            return False
        if self.version is None:
            return True
        if (self.version.major, self.version.minor) < MIN_VERSION:
            return False
        if self.exact:
            return spec.contains(self.version, prereleases=True)
        return any(spec.contains(v, prereleases=True) for v in _patches_to_try(self.version, spec))


def _patches_to_try(minor: Version, spec: SpecifierSet) -> Iterator[Version]:
    """Enough X.Y.z versions to tell whether any patch release of X.Y satisfies `spec`."""
    patches = {0, 999999}
    for specifier in spec:
        release = specifier.version.rstrip(".*").split(".")
        if len(release) >= 3 and release[2].isdigit():
            patch = int(release[2])
            patches.update({max(patch - 1, 0), patch, patch + 1})
    for patch in sorted(patches):
        yield Version(f"{minor.major}.{minor.minor}.{patch}")


def _select(candidates: list[_Candidate], spec: SpecifierSet) -> Interpreter | None:
    """The newest candidate satisfying `spec`, probing only where the names can't decide."""
    pending = [c for c in candidates if c.may_satisfy(spec)]
    while pending:
        pending.sort(key=lambda c: (c.best_possible, -c.source, -c.order), reverse=True)
        best = pending.pop(0)
        if best.probed is not None:
            return best.probed
        try:
            interpreter = probe(best.path)
        except InterpreterNotFound:
            continue  # not a working Python: skip it
        learned = replace(best, version=interpreter.version, exact=True, probed=interpreter)
        if learned.may_satisfy(spec):
            pending.append(learned)
    return None


def _not_found(request: str, spec: SpecifierSet, candidates: list[_Candidate]) -> InterpreterNotFound:
    found = sorted({c.version for c in candidates if c.version is not None}, reverse=True)
    found_text = ", ".join(str(v) for v in found) or "none"
    supported = _admits_supported(spec)
    if not supported:  # said once, whether or not such an interpreter is installed
        newer = [str(v) for v in found if v >= Version(_min_text())]
        return InterpreterNotFound(
            f"python = {request!r} is too old: envsync envs need Python {_min_text()} or newer.",
            hint=f"set `python` to {_min_text()} or newer" + (f" (found here: {', '.join(newer)})" if newer else ""))
    message = f"No Python interpreter matches python = {request!r} (found: {found_text})."
    example = request if supported and _VERSION_REQUEST.fullmatch(request) else "3.12"
    return InterpreterNotFound(
        message,
        hint=f"install it (for example `pyenv install {example}`) or set `python` to the path of an interpreter",
    )


def _admits_supported(spec: SpecifierSet) -> bool:
    """False when `spec` only admits Pythons older than MIN_VERSION (e.g. "3.7")."""

    def admits(major: int, minors: range) -> bool:
        return any(
            spec.contains(v, prereleases=True) for m in minors for v in _patches_to_try(Version(f"{major}.{m}"), spec)
        )

    too_old = admits(2, range(8)) or admits(3, range(MIN_VERSION[1]))
    return not too_old or admits(3, range(MIN_VERSION[1], MIN_VERSION[1] + 30))


def _min_text() -> str:
    return ".".join(map(str, MIN_VERSION))


# -- discovery ----------------------------------------------------------------------------


def _discover() -> Iterator[_Candidate]:
    """Pythons on PATH, then pyenv's; each real file once. Only file names are read here."""
    seen: set[str] = set()
    order = 0
    for source, (path, version, exact) in _all_sources():
        real = os.path.realpath(path)
        if real in seen:
            continue
        seen.add(real)
        if version is None:
            version = _version_from_name(Path(real).name)
        yield _Candidate(path, source, order, version, exact)
        order += 1


_INSTALLED = 2  # the source number of Pythons envsync installed itself (chosen last)


SOURCE_NAMES = {0: "PATH", 1: "pyenv", 2: "installed by envsync"}


def discovered() -> Iterator[tuple[Interpreter, str]]:
    """Every working Python found here, probed, with where it was found (for `envsync python list`)."""
    for candidate in _discover():
        try:
            interpreter = probe(candidate.path)
        except InterpreterNotFound:
            continue
        yield interpreter, SOURCE_NAMES[candidate.source]


def _all_sources() -> Iterator[tuple[int, tuple[Path, Version | None, bool]]]:
    for found in _path_pythons():
        yield 0, found
    for found in _pyenv_pythons():
        yield 1, found
    for found in _installed_pythons():
        yield _INSTALLED, found


def _installed_pythons() -> Iterator[tuple[Path, Version | None, bool]]:
    from envsync.pythons.installs import installed

    for python in installed():
        yield python.executable, python.version, True


def _pyenv_root() -> Path:
    return Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")


def _path_pythons() -> Iterator[tuple[Path, Version | None, bool]]:
    # pyenv's shims pick a version by the current folder; the versions themselves are found below.
    shims = os.path.realpath(_pyenv_root() / "shims")
    seen: set[str] = set()
    for entry in os.environ.get("PATH", "").split(os.pathsep):
        folder = os.path.realpath(entry) if entry else ""
        if not folder or folder in seen or folder == shims:
            continue
        seen.add(folder)
        yield from _pythons_in(Path(entry))


def _pythons_in(folder: Path) -> Iterator[tuple[Path, Version | None, bool]]:
    try:
        names = os.listdir(folder)
    except OSError:
        return
    matches = [(name, _PATH_NAME.fullmatch(name)) for name in names]
    # python3.13, python3.12, ..., then python3, then python
    ranked = sorted(
        ((m.group(1), name) for name, m in matches if m),
        key=lambda item: (item[0] is not None, int(item[0] or 0), item[1] == "python3"),
        reverse=True,
    )
    for _minor, name in ranked:
        path = folder / name
        if os.path.isfile(path) and os.access(path, os.X_OK):
            yield path, _version_from_name(name), False


def _pyenv_pythons() -> Iterator[tuple[Path, Version | None, bool]]:
    try:
        names = os.listdir(_pyenv_root() / "versions")
    except OSError:
        return
    for name in sorted(names, key=_natural_key):
        path = _pyenv_root() / "versions" / name / "bin" / "python3"
        if not path.is_file():
            continue
        exact = _PYENV_NAME.fullmatch(name)
        yield path, (Version(name) if exact else None), bool(exact)


def _natural_key(name: str) -> tuple[Any, ...]:
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name))


def _version_from_name(name: str) -> Version | None:
    match = _VERSIONED_NAME.fullmatch(name)
    return Version(f"{match.group(1)}.{match.group(2)}") if match else None


# -- probing ------------------------------------------------------------------------------


def probe(executable: Path) -> Interpreter:
    """Ask `executable` what it is (cached by file identity). A venv's python yields its base interpreter."""
    path = Path(os.path.abspath(Path(executable).expanduser()))
    info = _probe_info(path)
    if info.get("wrapper"):  # a script (a shim) that may run another Python tomorrow: use the one it ran
        path = Path(info["executable"])
        info = _probe_info(path)
    if info["prefix"] != info["base_prefix"]:
        return _base_of_venv(path, info)
    return _to_interpreter(path, info)


def probe_info(path: Path) -> dict[str, Any]:
    """What `path` says of itself (the probe's JSON), from the cache when the file is unchanged."""
    return _probe_info(path)


def _probe_info(path: Path) -> dict[str, Any]:
    """The probe's answer for `path`, from the cache when the file is unchanged."""
    try:
        real = path.resolve(strict=True)
        stat = real.stat()
    except (OSError, RuntimeError):
        raise _not_python(path, "no such file") from None
    key = f"{_CACHE_FORMAT}\0{path}\0{real}\0{stat.st_mtime_ns}\0{stat.st_size}"
    cache_file = cache_subdir("interpreters") / f"{hashlib.sha256(key.encode()).hexdigest()}.json"
    cached = _read_json(cache_file)
    if cached is not None:
        return cached
    info = _run_probe(path)
    if _is_script(real):
        info["wrapper"] = Path(info["executable"]).resolve() != real
        return info
    info["tags"] = supported_tags(info)
    write_atomic(cache_file, json.dumps(info).encode())
    return info


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _is_script(path: Path) -> bool:
    try:
        with open(path, "rb") as handle:
            return handle.read(2) == b"#!"
    except OSError:
        return False


def _run_probe(path: Path) -> dict[str, Any]:
    try:
        done = subprocess.run(
            [str(path), "-I", "-S", "-c", _PROBE_SCRIPT],
            capture_output=True, text=True, timeout=_PROBE_TIMEOUT, stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.SubprocessError) as error:
        raise _not_python(path, str(error)) from error
    if done.returncode != 0:
        last_line = (done.stderr.strip().splitlines() or [f"exit code {done.returncode}"])[-1]
        raise _not_python(path, last_line)
    try:
        info: dict[str, Any] = json.loads(done.stdout)
        Version(info["version"])
    except (ValueError, KeyError, TypeError, InvalidVersion):
        raise _not_python(path, "it printed something other than the expected answer") from None
    return info


def _not_python(path: Path, reason: str) -> InterpreterNotFound:
    return InterpreterNotFound(
        f"{path} is not a working Python interpreter ({reason}).",
        hint=f"check the path, or run `{path} -V` to see what is wrong",
    )


def _base_of_venv(path: Path, info: dict[str, Any]) -> Interpreter:
    """Envs are never made from venvs: follow a venv's python to the interpreter it was made from."""
    version = Version(info["version"])
    bin_dir = Path(info["base_prefix"]) / ("Scripts" if os.name == "nt" else "bin")
    names = [f"python{version.major}.{version.minor}", f"python{version.major}", "python"]
    for name in names:
        base = bin_dir / name
        if base.is_file():
            interpreter = _to_interpreter(base, _probe_info(base))
            if interpreter.version == version:
                return interpreter
    raise InterpreterNotFound(
        f"{path} belongs to a virtual environment whose base interpreter ({bin_dir}) is gone.",
        hint="give the path of a Python installation instead of a venv's python",
    )


def _to_interpreter(path: Path, info: dict[str, Any]) -> Interpreter:
    return Interpreter(
        executable=path,
        version=Version(info["version"]),
        implementation=info["implementation"],
        markers=dict(info["markers"]),
        tags=tuple(info.get("tags") or supported_tags(info)),
        stdlib=Path(info["stdlib"]) if info.get("stdlib") else None,
    )


# -- wheel tags ---------------------------------------------------------------------------


def supported_tags(info: dict[str, Any]) -> list[str]:
    """The wheel tags a probed interpreter accepts, most preferred first (as its own packaging.tags would say)."""
    from envsync.pythons.wheel_tags import linux_platforms, wheel_tags

    version = Version(info["version"])
    python_version = (version.major, version.minor)
    nodot = str(info.get("py_version_nodot") or f"{version.major}{version.minor}")
    system = info["markers"]["platform_system"]
    is_32bit = info.get("pointer_bits") == 32
    platforms: list[str]
    if system == "Darwin" and info.get("mac_ver"):
        from packaging.tags import mac_platforms

        release, machine = info["mac_ver"]
        major, minor = ([int(n) for n in release.split(".")[:2]] + [0])[:2]
        arch = ("ppc" if machine.startswith("ppc") else "i386") if is_32bit else machine
        platforms = list(mac_platforms((major, minor), arch))
    elif system == "Linux":
        libc = info.get("libc")
        platforms = list(linux_platforms(str(info["platform"]), tuple(libc) if libc else None, is_32bit))
    else:
        platforms = [_normalize(info["platform"])]
    implementation = info["implementation"]
    abis = (_cpython_abis(info, python_version) if implementation == "cpython"
            else _generic_abis(info, python_version))
    return wheel_tags(implementation, python_version, nodot, abis, platforms)


def _cpython_abis(info: dict[str, Any], python_version: tuple[int, int]) -> list[str]:
    nodot = f"{python_version[0]}{python_version[1]}"
    debug_var = info.get("py_debug")
    has_debug_ext = "_d.pyd" in info.get("extension_suffixes", [])
    debug = "d" if debug_var or (debug_var is None and (info.get("has_refcount") or has_debug_ext)) else ""
    threading = "t" if python_version >= (3, 13) and info.get("gil_disabled") else ""
    abis = [f"cp{nodot}{threading}{debug}"]
    if debug:  # debug builds also load ordinary extension modules
        abis.append(f"cp{nodot}{threading}")
    return abis


def _generic_abis(info: dict[str, Any], python_version: tuple[int, int]) -> list[str]:
    """The ABI named by EXT_SUFFIX, e.g. '.pypy310-pp73-x86_64-linux-gnu.so' -> pypy310_pp73."""
    parts = str(info.get("ext_suffix") or "").split(".")
    if len(parts) < 3:
        return _cpython_abis(info, python_version)
    soabi = parts[1]
    if soabi.startswith("cpython"):
        abi = "cp" + soabi.split("-")[1]
    elif soabi.startswith("cp"):
        abi = soabi.split("-")[0]
    elif soabi.startswith("pypy"):
        abi = "-".join(soabi.split("-")[:2])
    elif soabi.startswith("graalpy"):
        abi = "-".join(soabi.split("-")[:3])
    elif soabi:
        abi = soabi
    else:
        return []
    return [_normalize(abi)]


def _normalize(text: str) -> str:
    return text.replace(".", "_").replace("-", "_").replace(" ", "_")
