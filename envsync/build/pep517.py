"""Call a project's PEP 517 build backend (through pyproject-hooks) in an isolated build env.

A build env is a venv that envsync makes with its own machinery: the build requirements
are resolved for the target interpreter against the env's index settings (wheels only),
and installed like any env. It lives in the cache under a key of those requirements, the
interpreter and the indexes, so every later build with the same needs reuses it as it is.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from packaging.requirements import InvalidRequirement, Requirement

from envsync.build.workspace import work_folder
from envsync.errors import BuildFailed, EnvsyncError
from envsync.files.cache import cache_subdir
from envsync.model import Interpreter

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    from pyproject_hooks import BuildBackendHookCaller
    from pyproject_hooks._impl import SubprocessRunner

    from envsync.resolve.index import IndexClient

T = TypeVar("T")  # what a build hook returns

# PEP 517: a project without [build-system] is built by setuptools' legacy backend.
DEFAULT_REQUIRES = ("setuptools>=40.8.0",)
DEFAULT_BACKEND = "setuptools.build_meta:__legacy__"
_TAIL = 20  # lines of the backend's output shown when it fails
_COMPLETE = "envsync-build-env.json"  # written last into a build env: its presence means it is whole


@dataclass(frozen=True)
class BuildSystem:
    """A project's [build-system] table."""

    requires: tuple[str, ...]
    backend: str
    backend_path: tuple[str, ...] | None


@dataclass(frozen=True)
class PreparedMetadata:
    """What a backend says a project's wheel will be, without building it (when it can)."""

    metadata: bytes  # the METADATA file
    entry_points: str  # entry_points.txt, "" when there is none


def read_build_system(source: Path, label: str) -> BuildSystem:
    """The [build-system] of the project at `source`, PEP 517's default when it has none."""
    pyproject = source / "pyproject.toml"
    try:
        document = tomllib.loads(pyproject.read_text(encoding="utf-8")) if pyproject.is_file() else {}
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, RecursionError) as exc:
        reason = "values nested too deeply" if isinstance(exc, RecursionError) else exc
        raise BuildFailed(f"{label}: cannot read {pyproject}: {reason}", "fix the file's TOML syntax") from None
    table = document.get("build-system")
    if not isinstance(table, dict):
        if not (source / "setup.py").is_file() and not pyproject.is_file():
            raise BuildFailed(f"{label}: {source} has neither a pyproject.toml nor a setup.py",
                              "point at the folder of a Python project")
        return BuildSystem(DEFAULT_REQUIRES, DEFAULT_BACKEND, None)
    requires = table.get("requires", [])
    backend = table.get("build-backend", DEFAULT_BACKEND)
    backend_path = table.get("backend-path")
    if not isinstance(requires, list) or not all(isinstance(item, str) for item in requires):
        raise BuildFailed(f"{label}: {pyproject}: build-system.requires must be a list of strings")
    if not isinstance(backend, str) or not backend:
        raise BuildFailed(f"{label}: {pyproject}: build-system.build-backend must be a string")
    if backend_path is not None and (not isinstance(backend_path, list)
                                     or not all(isinstance(item, str) for item in backend_path)):
        raise BuildFailed(f"{label}: {pyproject}: build-system.backend-path must be a list of strings")
    return BuildSystem(tuple(requires), backend, tuple(backend_path) if backend_path is not None else None)


class _HookFailed(Exception):
    def __init__(self, code: int, tail: list[str], log: Path | None = None) -> None:
        super().__init__(code)
        self.code, self.tail, self.log = code, tail, log


class Builder:
    """Builds wheels and prepares metadata for one interpreter, from one set of indexes."""

    def __init__(self, interpreter: Interpreter, index: IndexClient, *, prereleases: bool = False,
                 note: Callable[[str], None] | None = None) -> None:
        self.interpreter = interpreter
        self.index = index  # an IndexClient: where build requirements come from
        self.prereleases = prereleases
        self.note = note  # told where a finished build's output is (shown under -v)

    # -- what callers use ------------------------------------------------------------------

    def prepare_metadata(self, source: Path, label: str) -> PreparedMetadata:
        """The project's wheel metadata from `prepare_metadata_for_build_wheel`; a backend without
        that hook builds the wheel, and its metadata is read from it."""
        caller, _ = self._caller(source, label, editable=False)
        with work_folder("metadata") as scratch:
            folder = str(scratch)
            name = self._call(label, lambda: caller.prepare_metadata_for_build_wheel(folder, _allow_fallback=True))
            dist_info = Path(folder) / name
            try:
                metadata = (dist_info / "METADATA").read_bytes()
            except OSError:
                raise BuildFailed(f"{label}: the build backend wrote no METADATA",
                                  "the project's build configuration is broken") from None
            entry_points = dist_info / "entry_points.txt"
            text = entry_points.read_text(encoding="utf-8", errors="replace") if entry_points.is_file() else ""
            return PreparedMetadata(metadata, text)

    def build_wheel(self, source: Path, out: Path, label: str, *, editable: bool = False) -> Path:
        """A wheel of the project at `source`, written into `out`: `build_editable` when asked
        and the backend has it, else `build_wheel`."""
        from pyproject_hooks import HookMissing

        out.mkdir(parents=True, exist_ok=True)
        caller, _ = self._caller(source, label, editable=editable)
        if editable:
            try:
                name = self._call(label, lambda: caller.build_editable(str(out)))
                self._built(label)
                return out / name
            except HookMissing:
                caller, _ = self._caller(source, label, editable=False)
        name = self._call(label, lambda: caller.build_wheel(str(out)))
        self._built(label)
        return out / name

    def _built(self, label: str) -> None:
        if self.note is not None:
            self.note(f"built {label}; the build backend's output is in {build_log(label)}")

    # -- hooks ---------------------------------------------------------------------------

    def _caller(self, source: Path, label: str, *, editable: bool) -> tuple[BuildBackendHookCaller, Path]:
        """A hook caller running in a build env that has both the static and the dynamic
        (`get_requires_for_build_*`) build requirements."""
        from pyproject_hooks import BuildBackendHookCaller, HookMissing

        system = read_build_system(source, label)
        env = self.build_env(system.requires, label)
        tail: list[str] = []
        log = build_log(label)
        log.write_text(f"# the build backend's output for {label}\n", encoding="utf-8")

        def make(env: Path) -> BuildBackendHookCaller:
            return BuildBackendHookCaller(str(source), system.backend, list(system.backend_path or []) or None,
                                          runner=_runner(env, tail, log), python_executable=str(env / "bin" / "python"))

        caller = make(env)
        try:
            more = self._call(label, lambda: caller.get_requires_for_build_editable() if editable
                              else caller.get_requires_for_build_wheel())
        except HookMissing:
            more = []
        missing = [text for text in more if not _satisfied(text, env, self.interpreter, label)]
        if missing:
            env = self.build_env((*system.requires, *missing), label)
            caller = make(env)
        return caller, env

    def _call(self, label: str, hook: Callable[[], T]) -> T:
        """Run one hook; a backend failure becomes a BuildFailed naming the package and its last lines."""
        from pyproject_hooks import BackendUnavailable

        try:
            return hook()
        except _HookFailed as exc:
            shown = "\n    ".join(exc.tail) or "(no output)"
            whole = f"\n  its whole output: {exc.log}" if exc.log is not None else ""
            raise BuildFailed(f"{label}: the build backend failed (exit status {exc.code}); its last lines:\n    {shown}"
                              f"{whole}", "fix the build (or pin a version that has a wheel), then run envsync again") from None
        except BackendUnavailable as exc:
            message = getattr(exc, "message", None)  # pyproject-hooks 1.1 and newer say why
            detail = f": {message}" if message else ""
            raise BuildFailed(f"{label}: the build backend {exc.backend_name!r} could not be imported{detail}",
                              "check build-system.build-backend and build-system.requires") from None

    # -- build envs ------------------------------------------------------------------------

    def build_env(self, requires: Sequence[str], label: str) -> Path:
        """A venv with `requires` installed, made once per (requirements, interpreter, indexes)."""
        requirements = []
        for text in requires:
            try:
                requirements.append(Requirement(text))
            except InvalidRequirement as exc:
                raise BuildFailed(f"{label}: build requirement {text!r} is not valid: {exc}",
                                  "fix build-system.requires") from None
        settings = self.index.settings
        key = hashlib.sha256(json.dumps({
            "requires": sorted(str(r) for r in requirements),
            "python": [str(self.interpreter.executable), str(self.interpreter.version)],
            "indexes": [settings.search_order(), list(settings.find_links)],
        }, sort_keys=True).encode()).hexdigest()[:32]
        folder = cache_subdir("build-envs") / key
        if (folder / _COMPLETE).is_file():
            return folder
        with _locked(folder.with_suffix(".lock")):
            if (folder / _COMPLETE).is_file():
                return folder
            self._make_env(folder, requirements, label)
        return folder

    def _make_env(self, folder: Path, requirements: list[Requirement], label: str) -> None:
        from envsync.install.layout import layout_for
        from envsync.install.site import install_wheel
        from envsync.install.venv import create_venv
        from envsync.install.wheel import unpack_wheel
        from envsync.resolve.resolver import resolve

        try:
            pins = resolve(requirements, self.interpreter, self.index, prereleases=self.prereleases)
        except EnvsyncError as exc:
            raise BuildFailed(f"{label}: cannot resolve its build requirements "
                              f"({', '.join(map(str, requirements))}): {exc.message}", exc.hint) from None
        if os.path.lexists(folder):
            shutil.rmtree(folder)  # a build env left half made by an interrupted run
        create_venv(folder, self.interpreter, prompt="envsync-build")
        layout = layout_for(folder, self.interpreter.short_version)
        for pin in pins.values():
            assert pin.artifact is not None  # a build env's pins all come from an index
            path = self.index.download(pin.artifact)
            from envsync.files.hashes import sha256_of_file

            unpacked = unpack_wheel(path, pin.artifact.sha256 or sha256_of_file(path), cache_subdir("unpacked"))
            install_wheel(unpacked, layout)
        locked = {name: str(pin.version) for name, pin in pins.items()}
        (folder / _COMPLETE).write_text(json.dumps({"requires": [str(r) for r in requirements], "pins": locked}))


def _satisfied(text: str, env: Path, interpreter: Interpreter, label: str) -> bool:
    """Whether the build env already has a version meeting requirement `text` (a backend's dynamic
    build requirement): one whose marker can't be evaluated is the backend's error, named."""
    from envsync.resolve.markers import marker_holds
    from envsync.state.survey import installed_dists, site_packages

    try:
        requirement = Requirement(text)
    except InvalidRequirement:
        return False

    def error(exc: Exception) -> BuildFailed:
        return BuildFailed(f"{label}: its build backend asks for {text!r}, whose marker can't be evaluated for "
                           f"Python {interpreter.version}: {exc}", "report it to the project's authors")

    if not marker_holds(requirement.marker, interpreter.markers, if_unevaluable=error):
        return True
    from packaging.utils import canonicalize_name

    folder = site_packages(env, interpreter.version)
    have = installed_dists(folder).get(canonicalize_name(requirement.name)) if folder else None
    return have is not None and requirement.specifier.contains(have.version, prereleases=True)


def build_log(label: str) -> Path:
    """Where the output of the last build of `label` is kept: a file under the cache, one per
    package, so a backend's warnings never reach the terminal yet can always be read."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", label).strip("-.")[:100] or "build"
    return cache_subdir("build-logs") / f"{name}.log"


def _runner(env: Path, tail: list[str], log: Path | None = None) -> SubprocessRunner:
    """A pyproject-hooks runner: the hook process gets the build env first on PATH, no user
    site-packages and none of our PYTHONPATH; its output goes to the build's log file, and its
    last lines are kept for the error message."""

    def run(cmd: Sequence[str], cwd: str | None = None, extra_environ: Mapping[str, str] | None = None) -> None:
        environ = {key: value for key, value in os.environ.items()
                   if key not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP")}
        environ.update(extra_environ or {})
        environ["PYTHONNOUSERSITE"] = "1"
        environ["VIRTUAL_ENV"] = str(env)
        environ["PATH"] = os.pathsep.join([str(env / "bin"), environ.get("PATH", "")])
        returncode, output = run_in_own_group([cmd[0], "-c", _GUARD, str(os.getpid()), *cmd], cwd, environ)
        text = output.decode("utf-8", "replace")
        if log is not None:
            with contextlib.suppress(OSError), open(log, "a", encoding="utf-8") as handle:
                handle.write(text)
        lines = text.splitlines()
        tail[:] = lines[-_TAIL:]
        if returncode != 0:
            raise _HookFailed(returncode, tail[:], log)

    return run


# Runs each backend hook, as the leader of a process group of its own, in the build env's
# Python: the backend and everything it starts (compilers...) are in that group. When
# envsync dies, however it dies (even SIGKILL), the kernel sends this guard SIGTERM
# (PR_SET_PDEATHSIG), and the guard kills its whole group: no backend outlives envsync.
_GUARD = """
import ctypes, os, signal, subprocess, sys
def end(*_):
    os.killpg(0, signal.SIGKILL)
signal.signal(signal.SIGTERM, end)
try:
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG (Linux)
except (OSError, AttributeError):
    pass
if os.getppid() != int(sys.argv[1]):
    end()  # envsync died before the guard was in place
sys.exit(subprocess.call(sys.argv[2:]))
"""


def run_in_own_group(command: Sequence[str], cwd: str | None, environ: dict[str, str]) -> tuple[int, bytes]:
    """Run `command` as a new process group, output captured; the group is killed if we are
    interrupted while it runs. Returns (exit status, output)."""
    process = subprocess.Popen(list(command), cwd=cwd, env=environ, stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        output, _ = process.communicate()
    except BaseException:
        with contextlib.suppress(OSError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        raise
    return process.returncode, output


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock on `path`, so two runs don't build the same env at once."""
    with open(path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
