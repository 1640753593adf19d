"""The frozen values that flow between stages: config → desired → plan ← actual.

Nothing here does I/O. Every stage takes and returns these, so each stage can be
tested with plain values and the planner stays a pure function.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:  # annotations only: the no-op path must not pay for importing packaging
    from packaging.requirements import Requirement
    from packaging.utils import NormalizedName
    from packaging.version import Version

    from envsync.sources.base import Source


FIRST_INDEX = "first-index"
UNSAFE_BEST_MATCH = "unsafe-best-match"


@dataclass(frozen=True)
class IndexSettings:
    """Where packages come from, after environment overrides are applied.

    Indexes are searched extra-index-urls first, in order, then index-url, then the indexes
    a requirements file added (so a file can't put an index ahead of the config's). Under
    "first-index" a name is taken only from the first index that has it, so a public
    index can't shadow a private package; "unsafe-best-match" takes the best version
    from any of them.
    """

    index_url: str | None
    extra_index_urls: tuple[str, ...] = ()
    find_links: tuple[str, ...] = ()
    prereleases: bool = False
    # index-url then extra-index-urls as the config wrote them, before ENVSYNC_* overrides
    configured: tuple[str, ...] = ()
    strategy: str = FIRST_INDEX
    # (normalised package name, position in (index_url, *extra_index_urls)): taken from that index only
    index_for: tuple[tuple[str, int], ...] = ()
    # The extra_index_urls a requirements file added (searched after every other index)
    added_by_files: tuple[str, ...] = ()
    # (URL, where it came from: "requirements.txt:3") of each index a requirements file named
    from_files: tuple[tuple[str, str], ...] = ()

    def index_at(self, position: int) -> str | None:
        """The URL at `position` of (index_url, *extra_index_urls), as in `index_for`."""
        urls = (self.index_url, *self.extra_index_urls)
        return urls[position] if 0 <= position < len(urls) else None

    def search_order(self) -> tuple[str, ...]:
        """The indexes a name is looked for on, in priority order: the config's extras first, then
        index-url, then the extras requirements files added."""
        own = [url for url in self.extra_index_urls if url not in self.added_by_files]
        return tuple(url for url in (*own, self.index_url, *self.added_by_files) if url)


@dataclass(frozen=True)
class ProjectSpec:
    """The project (a folder with a pyproject.toml) an env installs, editable unless told otherwise."""

    path: Path  # absolute
    display_path: str  # as written in the config
    editable: bool = True
    extras: tuple[str, ...] = ()
    where: str = ""  # the key (or requirements file line) that declared it, for messages


@dataclass(frozen=True)
class EnvSpec:
    """One env as the user declared it, with inheritance already flattened."""

    name: str
    path: Path  # absolute
    display_path: str  # as written in the config, or relative to the config's folder
    python: str | None  # "3.12", ">=3.11,<3.13", a path, or None for envsync's own
    requirements: tuple[Requirement, ...]
    index: IndexSettings
    # From requirements/constraints files: constraints cap versions of required names only.
    constraints: tuple[Requirement, ...] = ()
    # Hash-checking mode (pip's --require-hashes): per name, (allowed sha256s, "file:line");
    # None when no file asked for it.
    hashes: tuple[tuple[str, frozenset[str], str], ...] | None = None
    # Every requirements/constraints file read for this env: (path relative to the config, sha256).
    files: tuple[tuple[str, str], ...] = ()
    # Envs naming the same solve group are resolved together: one version per shared package.
    solve_group: str | None = None
    # The local projects installed into the env (`project`, `projects` and `-e` lines, one set).
    projects: tuple[ProjectSpec, ...] = ()
    seed: tuple[str, ...] = ()  # tools kept in the env though nothing requires them, e.g. ("pip",)
    # Where each of `requirements` was written, in the same order, for messages: "envs.dev.dependencies",
    # "envs.base.dependencies, inherited", "group 'test' in pyproject.toml", "requirements.txt:3".
    origins: tuple[str, ...] = ()
    # PEP 508 markers of the platforms one lock serves (empty: the lock serves this machine's), and
    # the key that declared them ("envs.dev.environments" or "settings.environments"), for messages.
    environments: tuple[str, ...] = ()
    environments_key: str = ""
    # The declared env this one is an expansion of (`test` for test-py311), or None for a plain env.
    matrix_of: str | None = None
    # An expansion's value of each matrix key, in the order written: ("python", "3.12"), ("django", "4.2").
    matrix_values: tuple[tuple[str, str], ...] = ()
    # For `run`, inheritance applied: named commands (name, lines as written in envs.toml) and the
    # variables set for every command run in the env (name, value as written: ${VAR}s expand then).
    scripts: tuple[tuple[str, tuple[str, ...]], ...] = ()
    env_vars: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Config:
    """A loaded and validated envs.toml."""

    path: Path  # the envs.toml file, absolute
    root: Path  # absolute parent folder of envs that have no explicit path
    envs: tuple[EnvSpec, ...]
    # Inputs beyond envs.toml and pyproject.toml: every file an env read (absolute path, sha256)
    # and every ${VAR} expanded (name, sha256 of its value), so a cached Config can be checked.
    files: tuple[tuple[str, str], ...] = ()
    variables: tuple[tuple[str, str], ...] = ()
    # settings.python-downloads: whether a missing Python is installed ("automatic"), only by
    # `envsync python install` ("manual"), or never.
    python_downloads: str = "automatic"
    skip_missing_pythons: bool = False  # a matrix expansion whose Python is not found is skipped, not an error

    @property
    def directory(self) -> Path:
        return self.path.parent

    def env(self, name: str) -> EnvSpec:
        for spec in self.envs:
            if spec.name == name:
                return spec
        raise KeyError(name)


@dataclass(frozen=True)
class PythonInstall:
    """A Python build that a plan installs before the envs that need it (python-build-standalone)."""

    version: Version
    source: str  # "python-build-standalone"
    url: str
    size: int | None  # bytes to download, when known
    key: str  # the install folder's name: cpython-3.12.7-linux-x86_64-gnu


@dataclass(frozen=True)
class Interpreter:
    """A Python interpreter on this machine, as it describes itself. One with `install` set is not
    here yet: a plan describes the build it would install, with this machine's markers and tags."""

    executable: Path
    version: Version  # full, e.g. 3.12.4
    implementation: str  # "cpython", "pypy"
    markers: dict[str, str] = field(hash=False)  # PEP 508 marker environment
    tags: tuple[str, ...] = field(hash=False)  # supported wheel tags, most preferred first
    stdlib: Path | None = None
    install: PythonInstall | None = None

    @property
    def short_version(self) -> str:
        return f"{self.version.major}.{self.version.minor}"


@dataclass(frozen=True)
class Artifact:
    """One file of a project: a wheel, or an sdist (built into a wheel when installed)."""

    filename: str
    url: str
    sha256: str | None
    size: int | None = None
    requires_python: str | None = None
    yanked: bool = False
    yank_reason: str | None = None  # why the index yanked it, when it says (PEP 592)
    has_metadata_file: bool = False  # PEP 658/714: url + ".metadata" exists
    metadata_sha256: str | None = None
    index: str | None = None  # the index page that listed it (its file may be on another host)


@dataclass(frozen=True)
class Pin:
    """A package version chosen for an env, with the file it installs from."""

    name: NormalizedName
    version: Version
    artifact: Artifact | None  # None for a source that is no file (a project folder, a git commit)
    required_by: tuple[str, ...] = ()  # "<root>" or names of packages that pulled it in
    dependencies: tuple[NormalizedName, ...] = ()
    # (who, the requirement that pulled it in): who is "<root>" or a package name; for `tree`.
    reasons: tuple[tuple[str, str], ...] = ()
    source: Source | None = None  # not from an index: a project folder, an archive URL, a git commit
    # The file's Requires-Dist lines as its metadata wrote them (markers kept), recorded in the lock
    # so a re-lock can keep this pin without fetching its page or metadata again; None if unknown.
    requires: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Desired:
    """What an env should be: its interpreter and exactly these packages."""

    spec: EnvSpec
    interpreter: Interpreter
    pins: dict[NormalizedName, Pin] = field(hash=False)


@dataclass(frozen=True)
class Installed:
    """One distribution found in a venv's site-packages."""

    name: NormalizedName
    version: Version
    dist_info: Path
    installer: str | None = None
    direct_url: str | None = None  # the url from direct_url.json, if any
    intact: bool = True  # False when its dist-info is half written (no RECORD or INSTALLER), or doubled
    # Only looked for when the survey verifies files (--refresh): paths as shown to people.
    missing_files: tuple[str, ...] = ()  # listed in RECORD, or a declared script, but not there
    changed_files: tuple[str, ...] = ()  # there, but not the size (or hash) RECORD gives
    # From direct_url.json and entry_points.txt, read only for packages that have a direct_url.json:
    editable: bool = False
    source_id: str | None = None  # the vcs commit_id, or the archive's sha256
    entry_points: str | None = None  # digest of its entry points (see envsync.files.metadata.entry_points_digest)
    requires: tuple[str, ...] | None = None  # an editable install's Requires-Dist lines, as written


class EnvKind(enum.Enum):
    MISSING = "missing"
    VENV = "venv"
    FOREIGN = "foreign"  # something that is not a venv: never touched


@dataclass(frozen=True)
class Actual:
    """What is really at an env's path."""

    path: Path
    kind: EnvKind
    python_version: Version | None = None
    python_home: str | None = None
    interpreter_ok: bool = True  # False when bin/python is missing or dangling
    installed: dict[NormalizedName, Installed] = field(default_factory=dict, hash=False)
    owner: str | None = None  # the config that created it, as recorded in its pyvenv.cfg
    verified: bool = False  # every installed file was checked against its RECORD (--refresh)
    # Entries of the folder that are not part of the venv (src/, notes...): looked for only
    # when the venv would be recreated, which they forbid.
    strangers: tuple[str, ...] = ()


class ActionKind(enum.Enum):
    CREATE_ENV = "create-env"
    RECREATE_ENV = "recreate-env"
    REMOVE_ENV = "remove-env"
    INSTALL = "install"
    UPGRADE = "upgrade"
    DOWNGRADE = "downgrade"
    REINSTALL = "reinstall"
    REMOVE = "remove"

    @property
    def installs(self) -> bool:
        """True for the kinds that put a wheel into the env."""
        return self in _INSTALLING

    @property
    def replaces(self) -> bool:
        """True for the kinds that take an installed version out of the env."""
        return self in _REPLACING


_INSTALLING = frozenset({ActionKind.INSTALL, ActionKind.UPGRADE, ActionKind.DOWNGRADE, ActionKind.REINSTALL})
_REPLACING = frozenset({ActionKind.UPGRADE, ActionKind.DOWNGRADE, ActionKind.REINSTALL, ActionKind.REMOVE})


@dataclass(frozen=True)
class Action:
    """One change to one env. `reason` is for people; apply never looks at it."""

    kind: ActionKind
    package: NormalizedName | None = None
    from_version: Version | None = None
    to_version: Version | None = None
    reason: str | None = None


@dataclass(frozen=True)
class LockWrite:
    """A lock file the plan (re)writes: the env's lock is missing or no longer matches its resolve."""

    path: Path
    text: str = field(repr=False)


@dataclass(frozen=True)
class EnvPlan:
    """The ordered changes that bring one declared env from its actual to its desired state."""

    name: str
    path: Path
    display_path: str
    python: str | None  # the full version the env will have
    actions: tuple[Action, ...]
    desired: Desired = field(compare=False, hash=False)
    error: str | None = None  # the env can't be planned: e.g. its path is not a venv
    lock_write: LockWrite | None = None
    # (.pth file, "package version") the installs add: code that runs at every interpreter start.
    startup_hooks: tuple[tuple[str, str], ...] = ()
    # The same, of the env's own local projects (an editable install's path hook): named only under -v.
    project_hooks: tuple[tuple[str, str], ...] = ()
    # What apply must download first: (files not in the cache, their bytes as the index or lock gives them).
    to_fetch: tuple[int, int] = (0, 0)
    verified: bool = False  # planned against a survey that checked every file: apply re-plans the same way

    @property
    def in_sync(self) -> bool:
        """The env on disk already matches (a lock may still have to be written)."""
        return not self.actions and self.error is None

    @property
    def has_changes(self) -> bool:
        return bool(self.actions) or self.lock_write is not None


@dataclass(frozen=True)
class EnvRemoval:
    """A venv this config's envsync made that the config no longer declares: apply deletes it."""

    name: str
    path: Path
    display_path: str
    python: str | None  # the version it has
    owner: str  # the config it was made for (from its pyvenv.cfg)
    reason: str = "no longer declared in the config"
    error: ClassVar[None] = None
    lock_write: ClassVar[None] = None
    startup_hooks: ClassVar[tuple[tuple[str, str], ...]] = ()
    has_changes: ClassVar[bool] = True

    @property
    def actions(self) -> tuple[Action, ...]:
        return (Action(ActionKind.REMOVE_ENV, reason=self.reason),)


@dataclass(frozen=True)
class SkippedEnv:
    """A selected matrix expansion left out because its Python is not found (skip-missing-pythons)."""

    spec: EnvSpec
    reason: str  # "Python 3.9 not found"

    @property
    def name(self) -> str:
        return self.spec.name


@dataclass(frozen=True)
class GroupPlan:
    """A solve group a plan touches: all its envs (selected or not), resolved together, and the
    package versions more than one of them installs: decided once for the whole group."""

    name: str
    envs: tuple[str, ...]
    in_common: tuple[tuple[str, str], ...] = ()  # (package, version), sorted


@dataclass(frozen=True)
class Plan:
    """Every selected env's plan, in config order, and the undeclared envs to remove."""

    config_path: Path
    envs: tuple[EnvPlan, ...]
    removals: tuple[EnvRemoval, ...] = ()
    # Every solve group of a selected env.
    solve_groups: tuple[GroupPlan, ...] = ()
    # Locks of envs not selected but in a selected env's solve group: a group's locks are written together.
    group_locks: tuple[LockWrite, ...] = ()
    # Lock files beside the config for envs it no longer declares: apply deletes them.
    lock_removals: tuple[Path, ...] = ()
    # Matrix expansions left out for a Python not found (skip-missing-pythons), in config order.
    skipped: tuple[SkippedEnv, ...] = ()
    order: tuple[str, ...] = ()  # the selected envs' names in config order (where skipped ones are shown)

    @property
    def entries(self) -> tuple[EnvPlan | EnvRemoval, ...]:
        """Declared envs then removals: the order in which plans are shown and carried out."""
        return self.envs + self.removals

    @property
    def has_changes(self) -> bool:
        """Anything `apply` would change on disk: env actions, removals, lock files or Pythons to install."""
        return bool(self.removals or self.group_locks or self.lock_removals or self.python_installs) or any(
            env.has_changes for env in self.envs)

    @property
    def python_installs(self) -> tuple[PythonInstall, ...]:
        """The Pythons apply installs before the envs that need them, each once, in config order."""
        found: dict[str, PythonInstall] = {}
        for env in self.envs:
            install = env.desired.interpreter.install
            if install is not None:
                found.setdefault(install.key, install)
        return tuple(found.values())

    @property
    def lock_writes(self) -> tuple[LockWrite, ...]:
        return tuple(env.lock_write for env in self.envs if env.lock_write is not None) + self.group_locks

    def as_applied(self) -> Plan:
        """The plan of the same envs once this one has been carried out: nothing left to do."""
        return Plan(self.config_path, tuple(replace(env, actions=(), lock_write=None, to_fetch=(0, 0))
                                            for env in self.envs),
                    solve_groups=self.solve_groups, skipped=self.skipped, order=self.order)

    @property
    def errors(self) -> tuple[EnvPlan, ...]:
        return tuple(env for env in self.envs if env.error)

    def summary(self) -> dict[str, int]:
        counts = {kind.value: 0 for kind in ActionKind}
        for env in self.entries:
            for action in env.actions:
                counts[action.kind.value] += 1
        order = ["install", "upgrade", "downgrade", "reinstall", "remove",
                 "create-env", "recreate-env", "remove-env"]
        return {**{key: counts[key] for key in order}, "write-lock": len(self.lock_writes),
                "install-python": len(self.python_installs)}
