"""`envsync add` and `envsync remove`: edit one env's dependencies in envs.toml, then sync it.

The edit is made with tomlkit, which keeps the file's comments, order and layout. The
new requirements are resolved first; the env is then applied and its lock written
(unless --no-sync), and envs.toml is written last, atomically. Any failure on the way
leaves envs.toml byte for byte as it was.
"""

from __future__ import annotations

import os
import stat
from dataclasses import replace
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from envsync.errors import ConfigError
from envsync.model import EnvSpec
from envsync.state.session import Session, select_envs

TYPE_CHECKING = False  # not `typing.TYPE_CHECKING`: annotations only, no import at run time
if TYPE_CHECKING:
    import argparse
    from collections.abc import Mapping, Sequence

    from packaging.utils import NormalizedName
    from tomlkit.items import Array, Table

    from envsync.cli import Output
    from envsync.model import Pin


def run(args: argparse.Namespace, out: Output, session: Session) -> int:
    from envsync.install.apply import env_lock

    try:
        # Held from reading envs.toml to writing it: a second `add` waits, then edits what this one wrote.
        with env_lock(_real_path(session.config.path), out.emit):
            return _edit(args, out, session)
    finally:
        session.close()


def _real_path(path: Path) -> Path:
    """The file a (possibly symlinked) config really is: edits are written there, so the link stays."""
    return Path(os.path.realpath(path))


def _edit(args: argparse.Namespace, out: Output, session: Session) -> int:
    import tomlkit

    from envsync.commands.edit_targets import CONFIG, choose_target, edit_requirements
    from envsync.config.load import load

    session.config = load(session.config.path)  # as it is now, under the lock: another edit may have landed
    config = session.config
    removing = args.command == "remove"
    asked = {str(canonicalize_name(text)) for text in args.packages} if removing else None
    declared, specs = _target_envs(session, args.env, asked)
    original = _real_path(config.path).read_bytes()
    document = tomlkit.parse(original.decode("utf-8"))
    table = document["envs"][declared]
    key = f"envs.{declared}.dependencies"
    files = [str(entry).removeprefix("./") for entry in table.get("requirements", [])]
    # What each edited file holds afterwards (CONFIG: envs.toml), written last, once the sync worked.
    edits: dict[str, list[tuple[set[str], list[str]]]] = {}
    if not removing:
        wanted = [_parse(text) for text in args.packages]
        names: set[str] = {canonicalize_name(r.name) for r in wanted}
        said = ", ".join(str(r) for r in wanted)
        target = choose_target(getattr(args, "to", None), files, "dependencies" in table, declared, said,
                               config.path.name)
        label = key if target == CONFIG else target
        trials = [_with_own(spec, key, names, wanted, target) for spec in specs]
        # Each expansion of a matrix env resolves for its own Python: a bare name is bounded at
        # the lowest version any of them got, which all of them accept.
        pins = [_resolve(session, trial) for trial in trials]
        final = [r if r.specifier or r.url else _bounded(r, pins) for r in wanted]
        edits[target] = [(names, [str(r) for r in final])]
        new_specs = [_with_own(spec, key, names, final, target) for spec in specs]
        said = f"{', '.join(str(r) for r in final)} to {label}"
    else:
        names = asked or set()
        places = _check_removable(session, specs[0], key, names)
        for name, where in places.items():
            edits.setdefault(where, []).append(({name}, []))
        new_specs = [_without(spec, names, key) for spec in specs]
        if not args.no_sync:
            for spec in new_specs:
                _resolve(session, spec)
        said = f"{', '.join(sorted(names))} from {', '.join(key if w == CONFIG else w for w in edits)}"
    writes: list[tuple[Path, bytes]] = []
    for where, changes in edits.items():
        if where == CONFIG:
            for dropped, added in changes:
                _edit_dependencies(table, dropped, added)
            writes.append((_real_path(config.path), tomlkit.dumps(document).encode("utf-8")))
        else:
            path = _real_path(config.path.parent / where)
            text = path.read_text(encoding="utf-8")
            for dropped, added in changes:
                text = edit_requirements(text, dropped, added)
            writes.append((path, text.encode("utf-8")))
    if not args.no_sync:
        _sync(session, new_specs, out)
    from envsync.files.cache import write_atomic

    for path, data in writes:
        write_atomic(path, data, mode=stat.S_IMODE(path.stat().st_mode))  # 0600 stays 0600
    verb = "added" if not removing else "removed"
    out.info(f"{verb} {said}" + (" (not synced: --no-sync)" if args.no_sync else ""))
    return 0


def _edit_dependencies(table: Table, names: set[str], additions: list[str]) -> None:
    """The env's `dependencies` in envs.toml without `names` and with `additions`; a list left
    empty is removed rather than left behind as `dependencies = []`."""
    import tomlkit

    if "dependencies" not in table:
        table["dependencies"] = tomlkit.array()
    _replace_entries(table["dependencies"], names, additions)
    if not len(table["dependencies"]):
        del table["dependencies"]


def _without(spec: EnvSpec, names: set[str], key: str) -> EnvSpec:
    """`spec` without the own declarations of `names` (in its requirements and their origins)."""
    from envsync.commands.edit_targets import declared_at

    kept = [(r, o) for r, o in zip(spec.requirements, spec.origins, strict=False)
            if not (canonicalize_name(r.name) in names and declared_at(o, key) is not None)]
    return replace(spec, requirements=tuple(r for r, _ in kept), origins=tuple(o for _, o in kept))


def _with_own(spec: EnvSpec, key: str, names: set[str], additions: list[Requirement], target: str) -> EnvSpec:
    """`spec` with its own requirements for `names` in `target` (envs.toml or a requirements file)
    replaced by `additions`."""
    from envsync.commands.edit_targets import CONFIG, declared_at

    def here(origin: str) -> bool:
        place = declared_at(origin, key)
        return place is not None and place.file == target

    kept = [(r, o) for r, o in zip(spec.requirements, spec.origins, strict=False)
            if not (here(o) and canonicalize_name(r.name) in names)]
    label = key if target == CONFIG else target
    return replace(spec, requirements=(*(r for r, _ in kept), *additions),
                   origins=(*(o for _, o in kept), *[label] * len(additions)))


def _target_envs(session: Session, name: str | None, removing: set[str] | None) -> tuple[str, list[EnvSpec]]:
    """The declared env to edit and the envs it makes: itself, or every expansion of a matrix env
    (named by its declared name or by any expansion: they share one declaration). Without a name,
    the only env there is, or for `remove` the only env that declares the packages."""
    envs = session.config.envs
    declared = list(dict.fromkeys(env.matrix_of or env.name for env in envs))
    if name is None and removing and len(declared) != 1:
        having = _declaring(envs, removing)
        if len(having) == 1:
            name = having[0]
        elif having:
            raise ConfigError(f"{', '.join(sorted(removing))}: declared by {len(having)} envs ({', '.join(having)}): "
                              "which one?", "name it with --env ENV")
    if name is None:
        if len(declared) != 1:
            shown = ", ".join(declared) or "none"
            raise ConfigError(f"{session.config.path.name} declares {len(declared)} envs ({shown}): which one?",
                              "name it with --env ENV" if envs else "declare one under [envs.NAME] first")
        name = declared[0]
    chosen = select_envs(session.config, [name])
    owner = chosen[0].matrix_of or chosen[0].name
    specs = [env for env in envs if (env.matrix_of or env.name) == owner]
    if session.skip_missing_pythons:  # expansions whose Python is missing are neither resolved nor synced
        from envsync.state.missing_pythons import skip_missing_pythons

        specs, skipped = skip_missing_pythons(session.config, specs, session.interpreter)
        for entry in skipped:
            session.warn(f"env {entry.name} skipped ({entry.reason}): its lock and venv are left as they are")
    return owner, specs


def _declaring(envs: Sequence[EnvSpec], names: set[str]) -> list[str]:
    """The declared envs that declare any of `names` themselves (not inherited, not from a group)."""
    from envsync.commands.edit_targets import declared_at

    found = []
    for env in envs:
        owner = env.matrix_of or env.name
        key = f"envs.{owner}.dependencies"
        if any(canonicalize_name(r.name) in names and declared_at(o, key) is not None
               for r, o in zip(env.requirements, env.origins, strict=False)):
            found.append(owner)
    return list(dict.fromkeys(found))


def _parse(text: str) -> Requirement:
    try:
        return Requirement(text)
    except InvalidRequirement as exc:
        raise ConfigError(f"{text!r} is not a valid requirement: {exc}",
                          "write a name, optionally with a version: rich, 'rich>=13'") from None


def _bounded(requirement: Requirement, resolves: Sequence[Mapping[NormalizedName, Pin]]) -> Requirement:
    """A bare name, given a lower bound at the version just resolved: `rich` -> `rich>=13.9.4`
    (the lowest of the versions the envs' resolves got, when there are several)."""
    found = [pins[key].version for pins in resolves if (key := canonicalize_name(requirement.name)) in pins]
    if not found:  # a marker kept it out of this interpreter's resolve: leave it as written
        return requirement
    extras = f"[{','.join(sorted(requirement.extras))}]" if requirement.extras else ""
    marker = f"; {requirement.marker}" if requirement.marker else ""
    return Requirement(f"{requirement.name}{extras}>={min(found)}{marker}")


def _replace_entries(array: Array, names: set[str], additions: list[str]) -> None:
    """Drop the entries of a tomlkit array naming `names`, then append `additions`; the rest,
    comments included, stays as it was."""
    for position in reversed(range(len(array))):
        try:
            name = canonicalize_name(Requirement(str(array[position])).name)
        except InvalidRequirement:
            continue
        if name in names:
            del array[position]
    multiline = "\n" in array.as_string()
    for text in additions:
        array.append(text)
    if multiline:
        array.multiline(True)


def _check_removable(session: Session, spec: EnvSpec, key: str, names: set[str]) -> dict[str, str]:
    """Where the env declares each name (envs.toml or a requirements file); a name it doesn't
    declare itself is refused with where it does come from: a parent env, a group, or the packages
    that bring it in."""
    import difflib

    from envsync.commands.edit_targets import declared_at

    file = session.config.path.name
    places: dict[str, str] = {}
    for name in sorted(names):
        own = [place for r, o in zip(spec.requirements, spec.origins, strict=False)
               if canonicalize_name(r.name) == name and (place := declared_at(o, key)) is not None]
        if own:
            places[name] = own[0].file
            continue
        elsewhere = [o for r, o in zip(spec.requirements, spec.origins, strict=False) if canonicalize_name(r.name) == name]
        if elsewhere:
            raise ConfigError(f"{file}: {name} is not in {key}: it comes from {elsewhere[0]}",
                              "remove it there")
        through = _brought_in_by(session, spec, name)
        if through:
            roots = ", ".join(f"{parent} ({why})" if why else parent for parent, why in through)
            raise ConfigError(f"{file}: env {spec.matrix_of or spec.name} does not declare {name}: it comes in "
                              f"through {roots}", f"remove {through[0][0].split()[0]} instead, if you want "
                              f"{name} gone")
        declared = [r.name for r, o in zip(spec.requirements, spec.origins, strict=False)
                    if declared_at(o, key) is not None]
        close = difflib.get_close_matches(name, declared, n=1)
        raise ConfigError(f"{file}: {name} is not in {key}",
                          f"did you mean {close[0]!r}?" if close else f"it has: {', '.join(declared) or 'nothing'}")
    return places


def _brought_in_by(session: Session, spec: EnvSpec, name: str) -> list[tuple[str, str]]:
    """The packages of the env (from its lock, else a resolve) that require `name`, with the
    requirement each wrote: [("pytest-benchmark 4.0", "pytest>=8")]."""
    from envsync.errors import EnvsyncError
    from envsync.resolve.lockfile import read_lock

    try:
        lock = read_lock(_lock(session, spec))
        if lock is not None:
            return sorted({(f"{package.name} {package.version}", "") for package in lock.document.packages
                           for dependency in package.dependencies or ()
                           if canonicalize_name(dependency.get("name", "")) == name})
        pins = _resolve(session, spec)
    except EnvsyncError:
        return []
    child = pins.get(canonicalize_name(name))
    why = dict(child.reasons) if child is not None else {}
    return [(f"{pin.name} {pin.version}", why.get(parent, "")) for parent, pin in pins.items()
            if name in pin.dependencies]


def _resolve(session: Session, spec: EnvSpec) -> dict[NormalizedName, Pin]:
    """The pins for `spec` (the edited env), keeping the lock's versions where they still fit."""
    from envsync.resolve.lockfile import read_lock
    from envsync.resolve.resolver import resolve
    from envsync.state.session import similar_to

    interpreter = session.interpreter(spec.python)
    lock = read_lock(_lock(session, spec))
    preferred = lock.versions() if lock is not None and lock.valid_for(interpreter) else {}
    session.progress(f"resolving {spec.name} for Python {interpreter.version}")
    return resolve(spec.requirements, interpreter, session.index(spec.index), prereleases=spec.index.prereleases,
                   preferred=preferred, constraints=spec.constraints,
                   hashes=None if spec.hashes is None else {n: (ok, at) for n, ok, at in spec.hashes},
                   env=spec.name, origins=spec.origins, warn=session.warn, similar=similar_to(session, spec))


def _lock(session: Session, spec: EnvSpec) -> Path:
    from envsync.config.paths import lock_path

    return lock_path(session.config.path, spec.name)


def _sync(session: Session, specs: list[EnvSpec], out: Output) -> None:
    """Lock and apply the edited envs, as `envsync apply ENV` will see them once envs.toml is written."""
    from envsync.state.desired import LockMode
    from envsync.state.reconcile import apply_envs

    edited = {spec.name: spec for spec in specs}
    session.config = replace(session.config, envs=tuple(edited.get(env.name, env) for env in session.config.envs))
    apply_envs(session, list(edited), LockMode.AUTO, out.emit)
