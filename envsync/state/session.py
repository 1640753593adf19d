"""One command's session: the loaded config, and the costly helpers every plan of it shares.

A Session caches index clients and interpreter probes, never results, so one process can
plan many times (watch mode) without leftovers. It also turns env names from the command
line into envs, and offers did-you-mean for a package no index has.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from envsync.errors import ConfigError
from envsync.model import Artifact, Config, EnvSpec, IndexSettings, Interpreter

if TYPE_CHECKING:
    from typing import Any

    from envsync.build.pep517 import Builder
    from envsync.resolve.index import IndexClient


Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    return None


@dataclass
class Session:
    """Shared, lazily built helpers for one command: index clients and interpreters.

    It caches what is costly to make and the same for every plan (clients, interpreter probes);
    it holds no results, so one session can plan many times (watch mode) without leftovers.
    """

    config: Config
    progress: Progress = _quiet
    refresh: bool = False  # revalidate every index page, however fresh the HTTP cache says it is
    inputs: list[Any] | None = None  # the stamp's view of the config's inputs, taken before loading it
    warn: Progress = _quiet  # what is worth telling the user but stops nothing (an unknown extra)
    # Install a missing Python now (apply, run, watch) rather than plan its install (plan, lock).
    install_pythons: bool = False
    skip_missing_pythons: bool = False  # --skip-missing-pythons (the setting is in the config)
    _indexes: dict[IndexSettings, IndexClient] = field(default_factory=dict)
    _interpreters: dict[str | None, Interpreter] = field(default_factory=dict)
    _ahead: dict[str | None, threading.Thread] = field(default_factory=dict)  # see find_interpreters_ahead
    # The fetch threads ask for a client at once: one is made per settings, never one per thread.
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def index(self, settings: IndexSettings) -> IndexClient:
        from envsync.resolve.index import IndexClient

        with self._lock:
            client = self._indexes.get(settings)
            if client is None:
                client = self._indexes[settings] = IndexClient(settings, revalidate=self.refresh)
            return client

    def find_interpreters_ahead(self, requests: Iterable[str | None]) -> None:
        """Start finding the interpreters these `python` requests name on this machine, each in a
        thread: a probe runs the interpreter (50-60 ms when its answer is not cached yet), and the
        caller reads locks meanwhile. A thread only warms the probe cache; `interpreter` waits for
        it and then finds the interpreter as it always does, so what it answers or reports (a
        request nothing here satisfies, a Python to download) is the same as without it."""
        from envsync.pythons.interpreters import find_interpreter

        def find_quietly(request: str | None) -> None:
            with contextlib.suppress(Exception):  # `interpreter` finds it again, and reports what fails
                find_interpreter(request, self.config.directory)

        for request in dict.fromkeys(requests):
            if request not in self._interpreters and request not in self._ahead:
                thread = threading.Thread(target=find_quietly, args=(request,), daemon=True,
                                          name="envsync-find-interpreter")
                self._ahead[request] = thread
                thread.start()

    def interpreter(self, request: str | None) -> Interpreter:
        """The interpreter for a `python` request: found here, else a python-build-standalone build,
        installed now (`install_pythons`) or planned, as settings.python-downloads allows."""
        from envsync.pythons.ondemand import downloads_policy, interpreter_for

        ahead = self._ahead.pop(request, None)
        if ahead is not None:
            ahead.join()
        if request not in self._interpreters:
            self._interpreters[request] = interpreter_for(
                request, self.config.directory, downloads_policy(self.config.python_downloads),
                install=self.install_pythons, say=self.progress)
        return self._interpreters[request]

    def builder(self, spec: EnvSpec, interpreter: Interpreter) -> Builder:
        """The builder of `spec`'s sources (project, sdists, direct references) for `interpreter`."""
        from envsync.build.pep517 import Builder

        return Builder(interpreter, self.index(spec.index), prereleases=spec.index.prereleases)

    def builds_on_demand(self, spec: EnvSpec, interpreter: Interpreter) -> Builds:
        """`builder` and an sdist's metadata for a resolve, each made only when first needed: most
        resolves build nothing, and importing the build machinery is then time spent for nothing."""
        return Builds(lambda: self.builder(spec, interpreter))

    def close(self) -> None:
        for client in self._indexes.values():
            client.close()


class Builds:
    """One builder, made at the first call of `builder` (see Session.builds_on_demand)."""

    def __init__(self, make: Callable[[], Builder]) -> None:
        self._make = make
        self._builder: Builder | None = None
        self._lock = threading.Lock()

    def builder(self) -> Builder:
        with self._lock:
            if self._builder is None:
                self._builder = self._make()
            return self._builder

    def sdist_metadata(self, artifact: Artifact) -> bytes:
        """The METADATA of an sdist, from its backend (build/wheels.py)."""
        from envsync.build.wheels import sdist_metadata

        return sdist_metadata(artifact, self.builder())


def open_session(config_path: Path, *, progress: Progress = _quiet, warn: Progress = _quiet,
                 refresh: bool = False, install_pythons: bool = False,
                 skip_missing_pythons: bool = False) -> Session:
    """Load the config into a Session. The stamp's view of its inputs is taken before the config
    is read (an edit made meanwhile voids any stamp this run records) and then extended by the
    requirements files and variables the config read, so an edit to any of them is seen."""
    from envsync.config.load import load
    from envsync.state.stamp import extend_inputs, inputs_digest

    inputs = inputs_digest(config_path)
    config = load(config_path)
    return Session(config, progress=progress, refresh=refresh, inputs=extend_inputs(inputs, config), warn=warn,
                   install_pythons=install_pythons,
                   skip_missing_pythons=skip_missing_pythons or config.skip_missing_pythons)


def select_envs(config: Config, names: Sequence[str]) -> list[EnvSpec]:
    """The envs named on the command line (all when none), in config order. A matrix env's
    declared name (`test`) stands for all its expansions (test-py310, test-py311, ...)."""
    if not names:
        return list(config.envs)
    known = list(dict.fromkeys(name for env in config.envs for name in (env.matrix_of, env.name) if name))
    for name in names:
        if name not in known:
            import difflib

            close = difflib.get_close_matches(name, known, n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"declared envs: {', '.join(known) or 'none'}"
            raise ConfigError(f"{config.path.name}: no env named {name!r}", hint)
    return [env for env in config.envs if env.name in names or env.matrix_of in names]


def similar_to(session: Session, spec: EnvSpec) -> Callable[[str], list[str]]:
    """Did-you-mean for a package no index has: the env's installed packages and the config's
    names first, then the index's project list (fetched only now, when a name was not found)."""
    def similar(name: str) -> list[str]:
        from envsync.resolve.suggest import suggest
        from envsync.state.survey import survey  # here: `run` picks its envs without importing the survey

        known = {r.name for env in session.config.envs for r in env.requirements}
        known |= set(survey(spec.path).installed)
        known |= _locked_names(session, spec)
        return suggest(name, known, spec.index.search_order(), session.index(spec.index).client)

    return similar


def _locked_names(session: Session, spec: EnvSpec) -> set[str]:
    """The packages the env's lock holds (any lock envsync can read), for did-you-mean."""
    from envsync.config.paths import lock_path
    from envsync.errors import EnvsyncError
    from envsync.resolve.lockfile import read_lock

    try:
        lock = read_lock(lock_path(session.config.path, spec.name))
    except EnvsyncError:
        return set()
    return {package.name for package in lock.document.packages} if lock is not None else set()
