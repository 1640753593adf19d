"""`envsync plan --base GITREF`: what a change does to every env, for code review.

Both sides are read, never built. The config, pyproject.toml and locks as they are at
GITREF come from `git show` (nothing is checked out, the worktree is never touched);
the other side is the working tree. A side whose lock is fresh gives its packages from
the lock without asking any index; a side whose lock is missing or stale is resolved,
as `envsync lock` would, and a note says so. No venv is looked at, so it runs in a
fresh CI checkout. The diff is a pure function of the two sides; rendering is separate.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from envsync.config.paths import lock_path
from envsync.errors import ConfigError, EnvsyncError, GitError
from envsync.model import Config, EnvSpec

if TYPE_CHECKING:
    from envsync.state.session import Session

FORMAT_VERSION = 1
# The lock of a side: up to date with that side's config, out of date with it, or absent.
FRESH, STALE, MISSING = "fresh", "stale", "missing"
ADDED, REMOVED, UPGRADED, DOWNGRADED = "added", "removed", "upgraded", "downgraded"
CHANGED, UNCHANGED = "changed", "unchanged"


# -- values ------------------------------------------------------------------------------


@dataclass(frozen=True)
class EnvSide:
    """One env as one side declares it: its Python request and the packages it would hold."""

    python: str | None  # the request as written; None means envsync's own interpreter
    interpreter: str  # the full version that request finds on this machine
    packages: Mapping[str, str] = field(hash=False)  # normalised name -> version
    direct: frozenset[str] = frozenset()  # the names the env asks for itself
    lock: str = FRESH  # FRESH, STALE or MISSING


@dataclass(frozen=True)
class PackageChange:
    name: str
    change: str  # ADDED, REMOVED, UPGRADED, DOWNGRADED
    before: str | None
    after: str | None
    direct: bool  # asked for by the env itself (on either side), not only pulled in by another package


@dataclass(frozen=True)
class EnvDiff:
    name: str
    status: str  # ADDED, REMOVED, CHANGED, UNCHANGED
    base: EnvSide | None
    head: EnvSide | None
    packages: tuple[PackageChange, ...]

    @property
    def python_changed(self) -> bool:
        return self.base is not None and self.head is not None and self.base.python != self.head.python


@dataclass(frozen=True)
class Review:
    """Every selected env, before (at `ref`) and after (the working tree)."""

    ref: str
    commit: str
    config: str  # envs.toml's path relative to the repository's top
    envs: tuple[EnvDiff, ...]
    notes: tuple[str, ...] = ()

    @property
    def changed(self) -> tuple[EnvDiff, ...]:
        return tuple(env for env in self.envs if env.status != UNCHANGED)

    @property
    def stale_locks(self) -> tuple[EnvDiff, ...]:
        """Envs whose lock in the working tree is missing or out of date: `--locked` fails on them."""
        return tuple(env for env in self.envs if env.head is not None and env.head.lock != FRESH)

    @property
    def has_changes(self) -> bool:
        return bool(self.changed or self.stale_locks)


# -- the diff (pure) ---------------------------------------------------------------------


def diff_packages(before: Mapping[str, str], after: Mapping[str, str],
                  direct: frozenset[str] = frozenset()) -> tuple[PackageChange, ...]:
    """Each package whose presence or version differs, by name; versions compare as PEP 440."""
    from packaging.version import InvalidVersion, Version

    def newer(old: str, new: str) -> bool:
        try:
            return Version(new) > Version(old)
        except InvalidVersion:
            return new > old

    changes = []
    for name in sorted(set(before) | set(after)):
        old, new = before.get(name), after.get(name)
        if old == new:
            continue
        if old is None:
            kind = ADDED
        elif new is None:
            kind = REMOVED
        else:
            kind = UPGRADED if newer(old, new) else DOWNGRADED
        changes.append(PackageChange(name, kind, old, new, name in direct))
    return tuple(changes)


def diff_env(name: str, base: EnvSide | None, head: EnvSide | None) -> EnvDiff:
    """One env's change: added, removed, changed (packages or Python request) or unchanged."""
    direct = (base.direct if base else frozenset()) | (head.direct if head else frozenset())
    packages = diff_packages(base.packages if base else {}, head.packages if head else {}, direct)
    if base is None:
        status = ADDED
    elif head is None:
        status = REMOVED
    elif packages or base.python != head.python:
        status = CHANGED
    else:
        status = UNCHANGED
    return EnvDiff(name, status, base, head, packages)


def diff(ref: str, commit: str, config: str, base: Mapping[str, EnvSide], head: Mapping[str, EnvSide],
         notes: Sequence[str] = ()) -> Review:
    """The review of two sides: the working tree's envs in its order, then those only the base has."""
    names = [*head, *(name for name in base if name not in head)]
    return Review(ref, commit, config, tuple(diff_env(name, base.get(name), head.get(name)) for name in names),
                  tuple(notes))


def counts(review: Review) -> dict[str, int]:
    """The numbers the summary line and the JSON `summary` give."""
    result = {"envs_added": 0, "envs_removed": 0, "envs_changed": 0, "envs_unchanged": 0,
              ADDED: 0, UPGRADED: 0, DOWNGRADED: 0, REMOVED: 0, "stale_locks": len(review.stale_locks)}
    for env in review.envs:
        result[f"envs_{env.status}"] += 1
        for change in env.packages:
            result[change.change] += 1
    return result


# -- git ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Checkout:
    """The git repository holding the config: its top folder and the config folder's path inside it."""

    top: Path
    prefix: str  # "" or "sub/dir/", as git prints it

    def git(self, *args: str) -> subprocess.CompletedProcess[bytes]:
        return _git(self.top, *args)


def _git(folder: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(["git", "-C", str(folder), *args], capture_output=True, check=False,
                              env={**os.environ, "GIT_OPTIONAL_LOCKS": "0", "LC_ALL": "C"})
    except FileNotFoundError:
        raise GitError("`plan --base` needs git, and git is not installed here",
                       "install git, or run `envsync plan` without --base") from None


def find_checkout(folder: Path) -> Checkout:
    """The repository `folder` is in, or a GitError saying it is in none."""
    result = _git(folder, "rev-parse", "--show-toplevel", "--show-prefix")
    if result.returncode != 0:
        message = result.stderr.decode(errors="replace").strip().splitlines()
        raise GitError(f"{folder} is not in a git repository, so there is no --base to compare with"
                       + (f" ({message[-1]})" if message else ""),
                       "run `envsync plan --base` inside a git clone, or drop --base")
    top, prefix = (result.stdout.decode().splitlines() + ["", ""])[:2]
    return Checkout(Path(top), prefix)


def resolve_ref(checkout: Checkout, ref: str) -> str:
    """The commit `ref` names; a GitError that says how to fetch it when the clone lacks it."""
    if not ref or ref.startswith("-"):
        raise GitError(f"--base {ref!r} is not a git revision", "give a branch, tag or commit, e.g. --base main")
    result = checkout.git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    if result.returncode == 0:
        return result.stdout.decode().strip()
    shallow = checkout.git("rev-parse", "--is-shallow-repository").stdout.decode().strip() == "true"
    if shallow:
        raise GitError(f"--base {ref}: this is a shallow clone and it does not hold that commit",
                       "fetch more history: `git fetch --deepen=50 origin` (or `git fetch --unshallow`), "
                       f"and fetch the base branch if it is a branch (`git fetch origin {ref}`); in GitHub "
                       "Actions, give actions/checkout `fetch-depth: 0`")
    raise GitError(f"--base {ref}: no such branch, tag or commit in {checkout.top}",
                   "check the name (`git branch -a`, `git tag`), or fetch it: `git fetch origin`")


def read_at(checkout: Checkout, commit: str, name: str) -> bytes | None:
    """The bytes of `name` (in the config's folder) at `commit`, or None when it has no such file."""
    spec = f"{commit}:{checkout.prefix}{name}"
    if checkout.git("cat-file", "-e", spec).returncode != 0:
        return None
    result = checkout.git("show", spec)
    if result.returncode != 0:
        raise GitError(f"git show {spec} failed: {result.stderr.decode(errors='replace').strip()}",
                       "check the repository with `git fsck`")
    return result.stdout


# -- reading both sides (I/O) ------------------------------------------------------------

Progress = Callable[[str], None]


def review(config_path: Path, ref: str, names: Sequence[str] = (), *, progress: Progress = lambda _: None,
           refresh: bool = False) -> Review:
    """Read both sides of the selected envs (all when none are named) and diff them."""
    from envsync.config.load import load
    from envsync.state.session import Session

    checkout = find_checkout(config_path.parent)
    commit = resolve_ref(checkout, ref)
    head_config = load(config_path)
    shown = f"{checkout.prefix}{config_path.name}"
    session = Session(head_config, progress=progress, refresh=refresh)
    notes: list[str] = []
    try:
        with tempfile.TemporaryDirectory(prefix="envsync-base-") as scratch:
            base_config = _base_config(checkout, commit, ref, config_path.name, Path(scratch))
            if base_config is None:
                notes.append(f"{shown} does not exist at {ref}: every env counts as added")
            selected = _select(head_config, base_config, names)
            base = {}
            if base_config is not None:
                for spec in base_config.envs:
                    if spec.name in selected:
                        try:
                            base[spec.name] = _side(session, spec, base_config.directory, f"at {ref}", notes,
                                                    find_links_home=config_path.parent)
                        except EnvsyncError as exc:
                            raise type(exc)(f"at {ref}: {exc.message}", exc.hint) from None
            head = {spec.name: _side(session, spec, head_config.directory, "in the working tree", notes)
                    for spec in head_config.envs if spec.name in selected}
    finally:
        session.close()
    return diff(ref, commit[:12], shown, base, head, notes)


def _base_config(checkout: Checkout, commit: str, ref: str, config_name: str, scratch: Path) -> Config | None:
    """The config at `commit`, loaded from a copy in `scratch` beside its pyproject.toml and locks."""
    from envsync.config.load import _load  # not load(): its cache would keep a copy per scratch folder

    text = read_at(checkout, commit, config_name)
    if text is None:
        return None
    (scratch / config_name).write_bytes(text)
    pyproject = read_at(checkout, commit, "pyproject.toml")
    if pyproject is not None:
        (scratch / "pyproject.toml").write_bytes(pyproject)
    try:
        config = _load(scratch / config_name)
    except EnvsyncError as exc:
        raise type(exc)(f"at {ref}: {exc.message}", exc.hint) from None
    for spec in config.envs:
        lock = read_at(checkout, commit, lock_path(config.path, spec.name).name)
        if lock is not None:
            lock_path(config.path, spec.name).write_bytes(lock)
    return config


def _select(head: Config, base: Config | None, names: Sequence[str]) -> set[str]:
    specs = [*head.envs, *(base.envs if base else ())]
    known = list(dict.fromkeys(spec.name for spec in specs))
    matrices = {spec.matrix_of for spec in specs if spec.matrix_of}
    if names:  # a matrix env's declared name stands for its expansions on either side
        names = [*names, *(spec.name for spec in specs if spec.matrix_of in names)]
        known += sorted(matrices)
    for name in names:
        if name not in known:
            import difflib

            close = difflib.get_close_matches(name, known, n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"envs on either side: {', '.join(known) or 'none'}"
            raise ConfigError(f"{head.path.name}: no env named {name!r} in the working tree or the base", hint)
    return set(names) - matrices if names else set(known)


def _side(session: Session, spec: EnvSpec, config_dir: Path, where: str, notes: list[str],
          find_links_home: Path | None = None) -> EnvSide:
    """One env on one side: its lock's packages when the lock is fresh, else a resolve."""
    from packaging.utils import canonicalize_name

    from envsync.resolve.lockfile import input_digest, pins_from_lock, read_lock

    interpreter = session.interpreter(spec.python)
    path = lock_path(config_dir / "envs.toml", spec.name)
    lock = read_lock(path)
    digest = input_digest(spec, interpreter, config_dir)
    if spec.environments:
        interpreter = _review_platform(spec, interpreter, where, notes)
    direct = frozenset(canonicalize_name(requirement.name) for requirement in spec.requirements)
    if lock is not None and lock.is_fresh(digest, interpreter):
        pins = pins_from_lock(lock, interpreter, strict=False)
        state = FRESH
    else:
        from envsync.resolve.resolver import resolve

        state = MISSING if lock is None else STALE
        why = "does not exist" if lock is None else "is out of date with the config"
        notes.append(f"{path.name} {why} {where}: resolved env {spec.name} against the index instead, "
                     f"keeping the lock's versions where they still fit, as `envsync lock {spec.name}` would")
        preferred = lock.versions() if lock is not None and lock.valid_for(interpreter) else {}
        index = spec.index
        if find_links_home is not None and index.find_links:  # the base's copy has no find-links folders
            index = replace(index, find_links=tuple(
                os.path.normpath(find_links_home / os.path.relpath(link, config_dir)) for link in index.find_links))
        session.progress(f"resolving {spec.name} {where} for Python {interpreter.version}")
        from envsync.sources import direct_requirements

        pins = resolve(direct_requirements(spec), interpreter, session.index(index), prereleases=index.prereleases,
                       preferred=preferred)
    return EnvSide(spec.python, str(interpreter.version), {name: str(pin.version) for name, pin in pins.items()},
                   direct, state)


def _review_platform(spec: EnvSpec, interpreter, where: str, notes: list[str]):
    """The platform a review of a multi-platform env shows: this machine when it is one of the
    declared platforms, else the first declared one (said in a note)."""
    from envsync.resolve.platforms import platform_of, targets

    declared = targets(spec.environments, interpreter, f"envs.toml: {spec.environments_key}")
    here = platform_of(interpreter)
    if any(target.platform == here for target in declared):
        return interpreter
    shown = declared[0]
    notes.append(f"env {spec.name} {where} is locked for other platforms than this machine's: "
                 f"its packages are shown as on {shown.platform.label}")
    return shown.interpreter


# -- the summary line every format gives (the formats themselves: envsync/render/) ---------


def _plural(count: int, word: str, plural: str | None = None) -> str:
    return f"{count} {word if count == 1 else (plural or word + 's')}"


def _listing(parts: Sequence[tuple[int, str]], noun: str) -> str:
    """[(2, "added"), (1, "removed")], "env" -> '2 envs added, 1 removed' (zeros left out)."""
    shown = [(count, word) for count, word in parts if count]
    if not shown:
        return ""
    first = f"{shown[0][0]} {noun if shown[0][0] == 1 else noun + 's'} {shown[0][1]}"
    return ", ".join([first, *(f"{count} {word}" for count, word in shown[1:])])


def summary_line(review: Review) -> str:
    """'1 env added, 1 changed (3 packages added, 1 upgraded)', or 'no environment changes'."""
    numbers = counts(review)
    envs = _listing([(numbers[f"envs_{status}"], status) for status in (ADDED, REMOVED, CHANGED)], "env")
    packages = _listing([(numbers[kind], kind) for kind in (ADDED, UPGRADED, DOWNGRADED, REMOVED)], "package")
    line = (envs + (f" ({packages})" if packages else "")) if envs else "no environment changes"
    if numbers["stale_locks"]:
        line += f"; {_plural(numbers['stale_locks'], 'lock')} missing or out of date in the working tree"
    return line


# -- the command -------------------------------------------------------------------------


def run(args, out) -> int:
    """`plan --base`/`--format`, handed over by cli.py's `plan`: check the options, review, print."""
    from envsync.config.paths import find_config

    if args.base is None:
        raise EnvsyncError("--format needs --base GITREF", "for the ordinary plan use --json, or add --base main")
    if args.locked or args.frozen:
        raise EnvsyncError("--base reads locks and never installs, so --locked/--frozen don't apply to it",
                           "run `envsync plan --locked` separately to fail on a stale lock")
    result = review(find_config(args.config), args.base, args.envs, progress=out.progress, refresh=args.refresh)
    form = "json" if args.json else args.format or "text"
    if form != "text" or not args.quiet:
        from envsync.render import renderer

        out.result(renderer(form).render_review(result))
    return 2 if args.detailed_exitcode and result.has_changes else 0
