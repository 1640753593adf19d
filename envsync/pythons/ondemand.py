"""An env's interpreter: one found on this machine, else (as `python-downloads` allows) a
python-build-standalone build, installed now or, while only planning, described without it.

A plan changes nothing, so `plan` and `lock` get a planned interpreter: the build's version with
this machine's markers and wheel tags computed for it, as multi-platform locks compute them for
platforms that are not here. `apply`, `run` and `watch` install it before the env is made.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

from envsync.errors import ConfigError, InterpreterNotFound
from envsync.model import Interpreter, PythonInstall

DOWNLOADS_VARIABLE = "ENVSYNC_PYTHON_DOWNLOADS"
POLICIES = ("automatic", "manual", "never")
SOURCE = "python-build-standalone"


def downloads_policy(configured: str) -> str:
    """`settings.python-downloads`, unless ENVSYNC_PYTHON_DOWNLOADS says otherwise for this run."""
    value = os.environ.get(DOWNLOADS_VARIABLE, "").strip()
    if not value:
        return configured
    if value not in POLICIES:
        raise ConfigError(f"{DOWNLOADS_VARIABLE}={value!r} is not one of {', '.join(POLICIES)}",
                          "set it to automatic, manual or never, or unset it")
    return value


def interpreter_for(request: str | None, base_dir: Path, policy: str, *, install: bool,
                    say: Callable[[str], None] = lambda _: None) -> Interpreter:
    """The interpreter for an env's `python` request, installing or planning a download when none
    is here and `policy` is "automatic". An interpreter already on the machine always wins."""
    from envsync.pythons.interpreters import find_interpreter, is_version_request, version_spec

    try:
        return find_interpreter(request, base_dir)
    except InterpreterNotFound as missing:
        if request is None or not is_version_request(request):
            raise
        if policy != "automatic":
            how = (f"run `envsync python install {request}`" if policy == "manual"
                   else "install it, or allow downloads with settings.python-downloads = \"automatic\"")
            raise InterpreterNotFound(missing.message, f"{how}; {missing.hint}" if missing.hint else how) from None
        from envsync.pythons.catalogue import find_build

        build = find_build(version_spec(request), request)
    if install:
        from envsync.pythons.installs import install as install_build
        from envsync.pythons.interpreters import probe

        return probe(install_build(build, say).executable)
    from envsync.pythons.installs import executable_in
    from envsync.pythons.location import install_dir

    plan = PythonInstall(version=build.version, source=SOURCE, url=build.url, size=_size_of(build.url),
                         key=build.key)
    return planned_interpreter(executable_in(install_dir() / build.key), plan)


def planned_interpreter(executable: Path, plan: PythonInstall) -> Interpreter:
    """What the build will say of itself once installed: this machine's markers and tags, with
    the build's version (envsync's own interpreter is probed for everything else)."""
    from envsync.pythons.interpreters import probe_info, supported_tags

    info = dict(probe_info(Path(sys.executable)))
    version = plan.version
    text = f"{version.major}.{version.minor}.{version.micro}"
    info.update(version=text, implementation="cpython", py_version_nodot=f"{version.major}{version.minor}",
                soabi=None, ext_suffix=None, extension_suffixes=[], abiflags="", py_debug=0, gil_disabled=0)
    markers = dict(info["markers"], python_version=f"{version.major}.{version.minor}", python_full_version=text,
                   implementation_name="cpython", implementation_version=text,
                   platform_python_implementation="CPython")
    return Interpreter(executable=executable, version=version, implementation="cpython", markers=markers,
                       tags=tuple(supported_tags(info)), install=plan)


def _size_of(url: str) -> int | None:
    """The archive's size when it is cheap to know (a local mirror); shown in the plan."""
    if url.startswith("file:"):
        from envsync.resolve.pages import file_path

        try:
            return file_path(url).stat().st_size
        except OSError:
            return None
    return None
