"""`envsync plan --base GITREF`: what a change does to every env, for code review.

Each side is what `envsync plan` would take as the envs' desired state: the tree at GITREF is
written into a temporary folder by `git archive` (nothing is checked out, the work tree is never
touched), the other side is the working tree, and both go through the one lock-or-resolve policy
(state/desired.py). A side whose locks are fresh gives its packages from them without asking any
index; a side whose lock is missing or stale is resolved, as `envsync lock` would, and a note
says so. No venv is looked at, so it runs in a fresh CI checkout. The diff is a pure function of
the two sides; rendering is separate.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from envsync.commands.gitrefs import Checkout, find_checkout, materialise, read_at, resolve_ref
from envsync.errors import ConfigError, EnvsyncError
from envsync.model import Config, EnvSpec

if TYPE_CHECKING:
    import argparse

    from packaging.utils import NormalizedName

    from envsync.cli import Output
    from envsync.model import Interpreter, Pin
    from envsync.sources.base import DirectDist
    from envsync.state.desired import Resolution
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
    # Local projects whose version their backend computes (from git): it moves with every commit,
    # and an archive of the base has no .git to compute it from, so it is never compared.
    dynamic: frozenset[str] = frozenset()


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
                  direct: frozenset[str] = frozenset(), dynamic: frozenset[str] = frozenset()
                  ) -> tuple[PackageChange, ...]:
    """Each package whose presence or version differs, by name; versions compare as PEP 440,
    except the `dynamic` ones (computed from git), whose presence only counts."""
    from packaging.version import InvalidVersion, Version

    def newer(old: str, new: str) -> bool:
        try:
            return Version(new) > Version(old)
        except InvalidVersion:
            return new > old

    changes = []
    for name in sorted(set(before) | set(after)):
        old, new = before.get(name), after.get(name)
        if old == new or (name in dynamic and old is not None and new is not None):
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
    dynamic = (base.dynamic if base else frozenset()) | (head.dynamic if head else frozenset())
    packages = diff_packages(base.packages if base else {}, head.packages if head else {}, direct, dynamic)
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


# -- reading both sides (I/O) ------------------------------------------------------------

Progress = Callable[[str], None]


def review(config_path: Path, ref: str, names: Sequence[str] = (), *, progress: Progress = lambda _: None,
           refresh: bool = False) -> Review:
    """Read both sides of the selected envs (all when none are named) and diff them.

    Each side is what `envsync plan` would take as the envs' desired state at that commit: the
    same policy (desired.py) reads the committed locks, or resolves where one is stale, from a
    whole copy of the tree at GITREF (`git archive`), so local projects, requirements files
    and their includes are there as they were committed."""
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
            base_config = _base_config(checkout, commit, ref, config_path, Path(scratch))
            if base_config is None:
                notes.append(f"{shown} does not exist at {ref}: every env counts as added")
            selected = _select(head_config, base_config, names)
            base = {}
            if base_config is not None:
                # Another session for the other config, sharing the clients and interpreter probes.
                at_base = Session(base_config, progress=progress, refresh=refresh, _indexes=session._indexes,
                                  _interpreters=session._interpreters)
                try:
                    with _without_git_versions():
                        base = _sides(at_base, [s for s in base_config.envs if s.name in selected],
                                      f"at {ref}", notes)
                except EnvsyncError as exc:
                    raise type(exc)(f"at {ref}: {exc.message}", exc.hint) from None
            head = _sides(session, [s for s in head_config.envs if s.name in selected], "in the working tree", notes)
    finally:
        session.close()
    return diff(ref, commit[:12], shown, base, head, notes)


def _base_config(checkout: Checkout, commit: str, ref: str, config_path: Path, scratch: Path) -> Config | None:
    """The config at `commit`, loaded from the whole tree at that commit, written into `scratch`."""
    from envsync.config.load import _load  # not load(): its cache would keep a copy per scratch folder

    if read_at(checkout, commit, config_path.name) is None:
        return None
    materialise(checkout, commit, scratch)
    try:
        config = _load(scratch / checkout.prefix / config_path.name)
    except EnvsyncError as exc:
        raise type(exc)(f"at {ref}: {exc.message}", exc.hint) from None
    return _with_local_find_links(config, config_path.parent)


def _with_local_find_links(config: Config, home: Path) -> Config:
    """`config` with each find-links folder the commit doesn't hold (an untracked wheel folder)
    read from the working tree instead."""
    def moved(spec: EnvSpec) -> EnvSpec:
        links = tuple(link if Path(link).exists() or "://" in link
                      else os.path.normpath(home / os.path.relpath(link, config.directory))
                      for link in spec.index.find_links)
        return spec if links == spec.index.find_links else replace(spec, index=replace(spec.index, find_links=links))

    return replace(config, envs=tuple(moved(spec) for spec in config.envs))


@contextmanager
def _without_git_versions() -> Iterator[None]:
    """While the base is prepared: a project versioned from git (setuptools-scm, hatch-vcs) finds
    no .git in an archive, so it is given a stand-in version; the review never compares versions
    computed from git (see `EnvSide.dynamic`)."""
    variable = "SETUPTOOLS_SCM_PRETEND_VERSION"
    if variable in os.environ:
        yield
        return
    os.environ[variable] = "0"
    try:
        yield
    finally:
        os.environ.pop(variable, None)


def _sides(session: Session, specs: Sequence[EnvSpec], where: str, notes: list[str]) -> dict[str, EnvSide]:
    """The selected envs as `plan` would take them: from their locks when fresh, else resolved
    (a note says so); nothing is written."""
    from packaging.utils import canonicalize_name

    from envsync.state.desired import FRESH as LOCK_FRESH
    from envsync.state.desired import MISSING as LOCK_MISSING
    from envsync.state.desired import desired_states

    states = desired_states(session, specs, here=False)
    sides = {}
    for spec in specs:
        resolution = states[spec.name]
        path = resolution.lock_path
        if resolution.lock_state != LOCK_FRESH:
            why = "does not exist" if resolution.lock_state == LOCK_MISSING else "is out of date with the config"
            notes.append(f"{path.name} {why} {where}: resolved env {spec.name} against the index instead, "
                         f"keeping the lock's versions where they still fit, as `envsync lock {spec.name}` would")
        pins = resolution.desired.pins
        interpreter = resolution.desired.interpreter
        if spec.environments:
            pins, interpreter = _platform_pins(spec, resolution, _local_dists(session, spec), where, notes)
        direct = {canonicalize_name(requirement.name) for requirement in spec.requirements}
        local = {name for name, pin in pins.items() if pin.source is not None and pin.source.is_project()}
        sides[spec.name] = EnvSide(spec.python, str(interpreter.version),
                                   {name: str(pin.version) for name, pin in pins.items()},
                                   frozenset(direct | local), resolution.lock_state,
                                   dynamic=_dynamic_versions(session, spec, local))
    return sides


def _dynamic_versions(session: Session, spec: EnvSpec, local: set[NormalizedName]) -> frozenset[str]:
    """The env's local projects whose version their backend computes (from git, say)."""
    if not local:
        return frozenset()
    dists = _local_dists(session, spec)
    return frozenset(name for name, dist in dists.items() if dist.source.computes_version)


def _local_dists(session: Session, spec: EnvSpec) -> dict[NormalizedName, DirectDist]:
    """The env's local projects and folders as they are on this side of the review."""
    from envsync.sources import local_dists

    interpreter = session.interpreter(spec.python)
    return local_dists(spec, session.config.directory, lambda: session.builder(spec, interpreter))


def _platform_pins(spec: EnvSpec, resolution: Resolution, local: Mapping[NormalizedName, DirectDist], where: str,
                   notes: list[str]) -> tuple[dict[NormalizedName, Pin], Interpreter]:
    """A multi-platform env's pins as its lock gives them on the platform the review shows; the
    lock records a local project without a version (PEP 751), which `local` supplies."""
    from envsync.resolve.lockfile import lock_from_text, pins_from_lock, read_lock

    lock = (lock_from_text(resolution.lock_path, resolution.lock_write.text)
            if resolution.lock_write is not None else read_lock(resolution.lock_path))
    interpreter = _review_platform(spec, resolution.desired.interpreter, where, notes)
    return (pins_from_lock(lock, interpreter, local) if lock is not None else {}), interpreter


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


def _review_platform(spec: EnvSpec, interpreter: Interpreter, where: str, notes: list[str]) -> Interpreter:
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


def run(args: argparse.Namespace, out: Output) -> int:
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
