"""`envsync add` and `envsync remove`: edit one env's dependencies in envs.toml, then sync it.

The edit is made with tomlkit, which keeps the file's comments, order and layout. The
new requirements are resolved first; the env is then applied and its lock written
(unless --no-sync), and envs.toml is written last, atomically. Any failure on the way
leaves envs.toml byte for byte as it was.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from envsync.errors import ConfigError
from envsync.model import EnvSpec
from envsync.state.session import Session, select_envs


def run(args, out, session: Session) -> int:
    try:
        return _edit(args, out, session)
    finally:
        session.close()


def _edit(args, out, session: Session) -> int:
    import tomlkit

    config = session.config
    declared, specs = _target_envs(session, args.env)
    original = config.path.read_bytes()
    document = tomlkit.parse(original.decode("utf-8"))
    table = document["envs"][declared]
    if "dependencies" not in table:
        table["dependencies"] = tomlkit.array()
    dependencies = table["dependencies"]
    key = f"envs.{declared}.dependencies"
    new_specs = []
    if args.command == "add":
        wanted = [_parse(text) for text in args.packages]
        names: set[str] = {canonicalize_name(r.name) for r in wanted}
        trials = [_with_own(spec, key, names, wanted) for spec in specs]
        # Each expansion of a matrix env resolves for its own Python: a bare name is bounded at
        # the lowest version any of them got, which all of them accept.
        pins = [_resolve(session, trial) for trial in trials]
        final = [r if r.specifier or r.url else _bounded(r, pins) for r in wanted]
        _replace_entries(dependencies, names, [str(r) for r in final])
        new_specs = [_with_own(spec, key, names, final) for spec in specs]
        said = ", ".join(str(r) for r in final)
    else:
        names = {str(canonicalize_name(text)) for text in args.packages}
        _check_removable(config.path.name, specs[0], key, names)
        new_specs = [_with_own(spec, key, names, []) for spec in specs]
        _replace_entries(dependencies, names, [])
        if not args.no_sync:
            for spec in new_specs:
                _resolve(session, spec)
        said = ", ".join(sorted(names))
    text = tomlkit.dumps(document).encode("utf-8")
    if not args.no_sync:
        _sync(session, new_specs, out)
    from envsync.files.cache import write_atomic

    write_atomic(config.path, text)
    verb = "added" if args.command == "add" else "removed"
    out.info(f"{verb} {said} {'to' if verb == 'added' else 'from'} envs.{declared} in {config.path.name}"
             + (" (not synced: --no-sync)" if args.no_sync else ""))
    return 0


def _with_own(spec: EnvSpec, key: str, names: set[str], additions: list[Requirement]) -> EnvSpec:
    """`spec` with its own (`key`) requirements for `names` replaced by `additions`."""
    kept = [(r, o) for r, o in zip(spec.requirements, spec.origins, strict=False)
            if not (o == key and canonicalize_name(r.name) in names)]
    return replace(spec, requirements=(*(r for r, _ in kept), *additions),
                   origins=(*(o for _, o in kept), *[key] * len(additions)))


def _target_envs(session: Session, name: str | None) -> tuple[str, list[EnvSpec]]:
    """The declared env to edit and the envs it makes: itself, or every expansion of a matrix env
    (named by its declared name or by any expansion: they share one declaration)."""
    envs = session.config.envs
    declared = list(dict.fromkeys(env.matrix_of or env.name for env in envs))
    if name is None:
        if len(declared) != 1:
            shown = ", ".join(declared) or "none"
            raise ConfigError(f"{session.config.path.name} declares {len(declared)} envs ({shown}): which one?",
                              "name it with --env ENV" if envs else "declare one under [envs.NAME] first")
        name = declared[0]
    chosen = select_envs(session.config, [name])
    owner = chosen[0].matrix_of or chosen[0].name
    return owner, [env for env in envs if (env.matrix_of or env.name) == owner]


def _parse(text: str) -> Requirement:
    try:
        return Requirement(text)
    except InvalidRequirement as exc:
        raise ConfigError(f"{text!r} is not a valid requirement: {exc}",
                          "write a name, optionally with a version: rich, 'rich>=13'") from None


def _bounded(requirement: Requirement, resolves: list) -> Requirement:
    """A bare name, given a lower bound at the version just resolved: `rich` -> `rich>=13.9.4`
    (the lowest of the versions the envs' resolves got, when there are several)."""
    found = [pins[key].version for pins in resolves if (key := canonicalize_name(requirement.name)) in pins]
    if not found:  # a marker kept it out of this interpreter's resolve: leave it as written
        return requirement
    extras = f"[{','.join(sorted(requirement.extras))}]" if requirement.extras else ""
    marker = f"; {requirement.marker}" if requirement.marker else ""
    return Requirement(f"{requirement.name}{extras}>={min(found)}{marker}")


def _replace_entries(array, names: set[str], additions: list[str]) -> None:
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


def _check_removable(file: str, spec: EnvSpec, key: str, names: set[str]) -> None:
    """Every name must be one of the env's own dependencies; else say where it does come from."""
    import difflib

    for name in sorted(names):
        own = [r for r, o in zip(spec.requirements, spec.origins, strict=False)
               if o == key and canonicalize_name(r.name) == name]
        if own:
            continue
        elsewhere = [o for r, o in zip(spec.requirements, spec.origins, strict=False) if canonicalize_name(r.name) == name]
        if elsewhere:
            raise ConfigError(f"{file}: {name} is not in {key}: it comes from {elsewhere[0]}",
                              "remove it there")
        declared = [r.name for r, o in zip(spec.requirements, spec.origins, strict=False) if o == key]
        close = difflib.get_close_matches(name, declared, n=1)
        raise ConfigError(f"{file}: {name} is not in {key}",
                          f"did you mean {close[0]!r}?" if close else f"it has: {', '.join(declared) or 'nothing'}")


def _resolve(session: Session, spec: EnvSpec):
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


def _sync(session: Session, specs: list[EnvSpec], out) -> None:
    """Lock and apply the edited envs, as `envsync apply ENV` will see them once envs.toml is written."""
    from envsync.state.desired import LockMode
    from envsync.state.reconcile import apply_envs

    edited = {spec.name: spec for spec in specs}
    session.config = replace(session.config, envs=tuple(edited.get(env.name, env) for env in session.config.envs))
    apply_envs(session, list(edited), LockMode.AUTO, out.emit)
