"""Load envs.toml: parse, validate with pydantic, flatten `inherits`, return frozen EnvSpecs.

All validation happens here, once; every later stage trusts what it gets. Errors
name the file, the key path (`envs.dev.dependencies[2]`) and the fix.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from packaging.requirements import InvalidRequirement, Requirement

from envsync.config import cached
from envsync.config.inputs import PYTHON_VERSION_FILE, digest_of_variable, other_inputs_unchanged
from envsync.config.projects import env_projects, project_files
from envsync.errors import ConfigError
from envsync.model import Config, EnvSpec, IndexSettings
from envsync.resolve.urls import redact, strip_credentials

if TYPE_CHECKING:
    from envsync.config.requirements import ParsedFiles
    from envsync.config.schema import EnvModel, FileModel, SettingsModel
from envsync.config.paths import CONFIG_NAME, find_config  # noqa: F401 - re-exported for callers of config

PACKAGE_NAME = re.compile(r"^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$", re.IGNORECASE)  # PEP 508
ENV_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
# Names that would collide with envsync's own files in the env root or confuse the CLI.
RESERVED_NAMES = frozenset({"envsync", "locks", "tmp"})
MAX_NESTING = 32  # levels of lists and tables inside each other; real settings use four or five
MAX_INHERITS_DEPTH = 64  # envs in one chain of `inherits`


def load(path: Path) -> Config:
    """The validated, flattened config at `path`; from the cache when its inputs are unchanged."""
    entry = cached.entry_for(path)
    config = cached.read(entry)
    if config is not None and other_inputs_unchanged(config):
        return config
    config = _load(path)
    # Not kept when the files changed while loading (the entry would be named for the old
    # bytes), nor when an index URL carries user:password, which must stay out of files.
    if not _has_credentials(config) and cached.entry_for(path) == entry:
        cached.write(entry, config)
    return config


def _has_credentials(config: Config) -> bool:
    """Whether an index URL carries user:password."""
    from urllib.parse import urlsplit

    urls = {url for env in config.envs for url in (env.index.index_url, *env.index.extra_index_urls) if url}
    return any("@" in urlsplit(url).netloc for url in urls)


def _load(path: Path) -> Config:
    """Read, validate with pydantic and flatten the config at `path`."""
    from pydantic import ValidationError

    from envsync.config.matrix import factor_requirement
    from envsync.config.schema import FileModel, config_error
    from envsync.config.scripts import script_fields

    raw = _read_toml(path)
    try:
        model = FileModel.model_validate(raw)
    except ValidationError as exc:
        raise config_error(path, exc) from None
    directory = path.parent
    for name in model.envs:
        _check_env_name(path, name, model.envs)
    expanded = _expand_matrices(path, model.envs)
    flat = _flatten_inherits(path, model.envs)
    index = _index_settings(model.settings, path)
    pinned_python = _python_version_file(directory)
    root = _resolve_path(directory, model.settings.root, f"{path.name}: settings.root")
    envs = []
    files: dict[str, str] = {}
    variables: dict[str, str] = {}
    for name, env in model.envs.items():
        requirements = [Requirement(text) for text, _ in flat[name]]
        origins = [origin for _, origin in flat[name]]
        grouped = _group_requirements(path, name, _inherited(name, model.envs, "groups"))
        requirements += [requirement for requirement, _ in grouped]
        origins += [origin for _, origin in grouped]
        parsed = _read_requirement_files(path, name, model.envs)
        requirements += [line.requirement for line in parsed.requirements]
        origins += [line.where for line in parsed.requirements]
        files.update((str(file), digest) for file, digest in parsed.files)
        variables.update((variable, digest_of_variable(variable)) for variable in parsed.variables)
        hashes = parsed.hashes() if parsed.require_hashes else None
        projects = env_projects(path, name, model, parsed.editables, _resolve_path)
        for project in projects:
            if project.path != directory:
                files.update(project_files(project.path))
        env_index = _with_file_options(index, model.settings, parsed, directory)
        for env_name, values in expanded[name]:
            factors = [(key, value) for key, value in values if key != "python"]
            written_path = env.path if env.path is not None else f"{model.settings.root}/{env_name}"
            where = f"{path.name}: " + (f"envs.{name}.path" if env.path is not None else "settings.root")
            envs.append(EnvSpec(
                name=env_name,
                path=_resolve_path(directory, written_path, where),
                display_path=written_path,
                python=dict(values).get("python") or env.python or model.settings.python or pinned_python,
                requirements=(*requirements, *(Requirement(factor_requirement(*factor)) for factor in factors)),
                index=env_index,
                constraints=tuple(line.requirement for line in parsed.constraints),
                hashes=None if hashes is None else tuple(
                    (package, allowed, where) for package, (allowed, where) in sorted(hashes.items())),
                files=tuple((os.path.relpath(file, directory), digest) for file, digest in parsed.files),
                solve_group=_solve_group(path, name, env.solve_group),
                projects=projects,
                seed=tuple(_seed(name, model)),
                origins=(*origins, *(f"envs.{name}.matrix.{key}" for key, _ in factors)),
                matrix_of=name if env.matrix is not None else None,
                matrix_values=values,
                **_environments(name, model),
                **script_fields(name, model),
            ))
    _check_distinct_paths(path, envs)
    return Config(path=path, root=root, envs=tuple(envs), files=tuple(sorted(files.items())),
                  variables=tuple(sorted(variables.items())), python_downloads=model.settings.python_downloads,
                  skip_missing_pythons=model.settings.skip_missing_pythons)


def _python_version_file(directory: Path) -> str | None:
    """The version in `.python-version` beside envs.toml (pyenv's and uv's file), for envs that
    name no `python` of their own or in [settings]: its first line that is not a comment."""
    try:
        text = (directory / PYTHON_VERSION_FILE).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            return line
    return None


def _expand_matrices(path: Path, envs: dict[str, EnvModel]) -> dict[str, list[tuple[str, tuple[tuple[str, str], ...]]]]:
    """Each declared env's (name, matrix values) pairs: itself with no values, or, for an env with
    a `matrix`, one pair per expansion (see config.matrix). The expansions' names must be free."""
    from envsync.config.matrix import expand

    file = path.name
    result: dict[str, list[tuple[str, tuple[tuple[str, str], ...]]]] = {}
    taken = {name.lower(): f"envs.{name}" for name in envs}
    for name, env in envs.items():
        if env.matrix is None:
            if env.matrix_exclude is not None:
                raise ConfigError(f"{file}: envs.{name}.matrix-exclude: the env has no `matrix`",
                                  f"add a matrix to envs.{name}, or remove matrix-exclude")
            result[name] = [(name, ())]
            continue
        for key, value, why in (
                ("python", env.python if "python" in env.matrix else None,
                 f"each expansion gets its Python from the matrix: remove envs.{name}.python, or put that "
                 "version in the matrix"),
                ("path", env.path, f"the expansions live at <root>/<expansion> (settings.root sets the folder): "
                                   f"remove envs.{name}.path"),
                ("solve-group", env.solve_group, "a solve group gives its envs one version of each package and "
                                                 "the expansions differ: remove "
                                                 f"envs.{name}.solve-group")):
            if value is not None:
                raise ConfigError(f"{file}: envs.{name}: `{key}` and `matrix` can't be used together", why)
        pairs = []
        for expansion in expand(file, name, env.matrix, env.matrix_exclude):
            other = taken.get(expansion.name.lower())
            shown = ", ".join(f"{key} {value!r}" for key, value in expansion.values)
            if other is not None:
                where = f"envs.{name}.matrix"
                if len(env.matrix) == 1:  # one key: name the value's place in its list
                    (key, listed), value = next(iter(env.matrix.items())), expansion.values[0][1]
                    where, shown = f"{where}.{key}[{listed.index(value)}]", repr(value)
                raise ConfigError(f"{file}: {where}: {shown} expands to env {expansion.name!r}, which {other} "
                                  "already names", f"rename {other}, or drop {shown} from the matrix")
            taken[expansion.name.lower()] = f"envs.{name}.matrix ({shown})"
            pairs.append((expansion.name, expansion.values))
        result[name] = pairs
    return result


def _solve_group(path: Path, env: str, group: str | None) -> str | None:
    """The env's solve group, named like an env (it shows in plans and lock files); not inherited."""
    if group is not None and not ENV_NAME.match(group):
        raise ConfigError(f"{path.name}: envs.{env}.solve-group: invalid group name {group!r}",
                          "name the group with letters, digits, - and _, e.g. solve-group = \"main\"")
    return group


def _environments(name: str, model: FileModel) -> dict[str, Any]:
    """The env's `environments` (its own, else [settings]') and the key they were declared under."""
    own = model.envs[name].environments
    if own is not None:
        return {"environments": tuple(own), "environments_key": f"envs.{name}.environments"}
    if model.settings.environments:
        return {"environments": tuple(model.settings.environments), "environments_key": "settings.environments"}
    return {}


def _seed(name: str, model: FileModel) -> list[str]:
    own = model.envs[name].seed
    return list(own if own is not None else model.settings.seed)


def _read_requirement_files(path: Path, name: str, envs: dict[str, EnvModel]) -> ParsedFiles:
    """The env's requirements and constraints files (its own and inherited ones), parsed."""
    from envsync.config.requirements import ParsedFiles, read_files

    lists = {key: _inherited(name, envs, key) for key in ("requirements", "constraints")}
    if not any(lists.values()):
        return ParsedFiles()
    named = {
        key: [(_resolve_path(path.parent, value, f"{path.name}: envs.{name}.{key}[{position}]"),
               f"{path.name}: envs.{name}.{key}[{position}]") for position, value in enumerate(values)]
        for key, values in lists.items()
    }
    return read_files(path.parent, named["requirements"], named["constraints"])


def _with_file_options(index: IndexSettings, settings: SettingsModel, parsed: ParsedFiles, directory: Path) -> IndexSettings:
    """The env's index settings once its files' index options are applied: envs.toml (and the
    ENVSYNC_* variables) win wherever they set the same thing, as the README says. An index a
    file adds is searched after every index envs.toml declares (see IndexSettings.search_order),
    so first-index keeps the config's names from it; each is recorded with the line that named it."""
    from dataclasses import replace

    chosen = settings.model_fields_set
    index_url, extras, configured = index.index_url, index.extra_index_urls, list(index.configured)
    from_files: list[tuple[str, str]] = []
    if parsed.index_url is not None and "index_url" not in chosen and not os.environ.get("ENVSYNC_INDEX_URL"):
        index_url = _as_url(parsed.index_url.value, directory, parsed.index_url.where)
        configured[:1] = [redact(parsed.index_url.value)]
        from_files.append((index_url, parsed.index_url.where))
    known = {strip_credentials(url).rstrip("/") for url in (index_url, *extras) if url}
    added: list[str] = []
    for option in parsed.extra_index_urls:
        url = _as_url(option.value, directory, option.where)
        if strip_credentials(url).rstrip("/") not in known:
            known.add(strip_credentials(url).rstrip("/"))
            added.append(url)
            from_files.append((url, option.where))
    extras = (*extras, *added)
    find_links = index.find_links
    if parsed.find_links and "find_links" not in chosen:
        find_links = tuple(option.value for option in parsed.find_links)
    prereleases = index.prereleases or (parsed.pre and "prereleases" not in chosen)
    return replace(index, index_url=index_url, extra_index_urls=extras, find_links=find_links,
                   prereleases=prereleases, configured=tuple(configured), added_by_files=tuple(added),
                   from_files=tuple(from_files))


def _close_matches(word: str, candidates: list[str], n: int) -> list[str]:
    """difflib's suggestion for a misspelt name (imported only when a config has one)."""
    import difflib

    return difflib.get_close_matches(word, candidates, n=n)


def _version() -> str:
    from envsync import __version__

    return __version__


def _read_toml(path: Path) -> dict[str, Any]:
    import tomllib  # not at module level: a cached config needs no TOML parser

    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        from envsync.config.toml_errors import explain

        problem = explain(path.name, text, str(exc))
        raise ConfigError(problem.message, problem.hint) from None
    except RecursionError:
        raise ConfigError(f"{path.name}: values nested too deeply to read (lists or tables inside each other)",
                          "no envsync setting nests more than a few levels: fix the file") from None
    _check_nesting(path, document)
    return document


def _check_nesting(path: Path, document: dict[str, Any]) -> None:
    """Refuse a value nested deeper than any setting can be, naming its key, before validation
    (which would recurse through it). Walked with a stack of its own, never by recursion."""
    stack: list[tuple[str, Any, int]] = [("", document, 0)]
    while stack:
        key, value, depth = stack.pop()
        if depth > MAX_NESTING:
            raise ConfigError(f"{path.name}: {key}: values nested more than {MAX_NESTING} levels deep",
                              "no envsync setting nests that deep: fix the value")
        items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
        for child, inner in items:
            name = f"{key}[{child}]" if isinstance(child, int) else (f"{key}.{child}" if key else str(child))
            stack.append((name, inner, depth + 1))


def _check_env_name(path: Path, name: str, envs: dict[str, EnvModel]) -> None:
    if not ENV_NAME.match(name):
        hint = "env names use letters, digits, - and _ (at most 64), starting with a letter or digit"
        if "." in name:
            hint = (f"a dot is not allowed because the lock file is pylock.<env>.toml: "
                    f"write {name.replace('.', '-')!r} instead of {name!r}")
        raise ConfigError(f"{path.name}: envs.{name}: invalid env name {name!r}", hint)
    if name.lower() in RESERVED_NAMES:
        raise ConfigError(f"{path.name}: envs.{name}: {name!r} is reserved", "pick another env name")
    clashes = [other for other in envs if other != name and other.lower() == name.lower()]
    if clashes:
        raise ConfigError(
            f"{path.name}: envs.{name} and envs.{clashes[0]} differ only in case",
            "env names must stay distinct on case-insensitive file systems: rename one",
        )


def _flatten_inherits(path: Path, envs: dict[str, EnvModel]) -> dict[str, list[tuple[str, str]]]:
    """Each env's own dependencies followed by those of every env it inherits, transitively,
    each with where it was written ("envs.base.dependencies, inherited")."""
    for name, env in envs.items():
        for position, parent in enumerate(env.inherits):
            if parent not in envs:
                close = _close_matches(parent, list(envs), n=1)
                hint = f"did you mean {close[0]!r}?" if close else f"declared envs: {', '.join(envs)}"
                raise ConfigError(f"{path.name}: envs.{name}.inherits[{position}]: unknown env {parent!r}", hint)
    _check_inherits_depth(path, envs)
    result: dict[str, list[tuple[str, str]]] = {}

    def visit(name: str, trail: list[str]) -> list[tuple[str, str]]:
        if name in trail:
            cycle = " -> ".join([*trail[trail.index(name):], name])
            raise ConfigError(f"{path.name}: envs.{trail[0]}.inherits: cycle {cycle}",
                              "remove one of the inherits entries in the cycle")
        if name in result:
            return result[name]
        collected = [(dep, f"envs.{name}.dependencies") for dep in envs[name].dependencies]
        for parent in envs[name].inherits:
            seen = {dep for dep, _ in collected}
            collected += [(dep, origin if origin.endswith(", inherited") else f"{origin}, inherited")
                          for dep, origin in visit(parent, [*trail, name]) if dep not in seen]
        result[name] = collected
        return collected

    for name in envs:
        visit(name, [])
    return result


def _check_inherits_depth(path: Path, envs: dict[str, EnvModel]) -> None:
    """Refuse a chain of `inherits` longer than MAX_INHERITS_DEPTH, naming where it starts, before
    anything follows it by recursion. Depths are found without recursion; a cycle is left to the
    flattening, which names it."""
    depth: dict[str, int] = {}
    for start in envs:
        stack, on_path = [start], {start}
        while stack:
            name = stack[-1]
            pending = [parent for parent in envs[name].inherits if parent not in depth and parent not in on_path]
            if pending:
                stack.append(pending[0])
                on_path.add(pending[0])
                continue
            depth[name] = 1 + max((depth.get(parent, 0) for parent in envs[name].inherits), default=0)
            if depth[name] > MAX_INHERITS_DEPTH:
                raise ConfigError(f"{path.name}: envs.{name}.inherits: a chain of more than {MAX_INHERITS_DEPTH} "
                                  "envs each inheriting the next", "inherit from fewer levels of envs")
            on_path.discard(stack.pop())


def _inherited(name: str, envs: dict[str, EnvModel], key: str) -> list[str]:
    seen: list[str] = []
    for value in getattr(envs[name], key):
        if value not in seen:
            seen.append(value)
    for parent in envs[name].inherits:
        for value in _inherited(parent, envs, key):
            if value not in seen:
                seen.append(value)
    return seen


def _group_requirements(path: Path, env: str, groups: list[str]) -> list[tuple[Requirement, str]]:
    """PEP 735 dependency groups of the pyproject.toml beside envs.toml, includes expanded, each
    requirement with the group it came from ("group 'test' in pyproject.toml").

    Read here rather than by a library so that every malformed shape (a table where a
    list belongs, an include of a missing group, a cycle, a number among the strings)
    is a ConfigError naming pyproject.toml and the group, whatever packaging is installed.
    """
    if not groups:
        return []
    pyproject = path.parent / "pyproject.toml"
    if not pyproject.is_file():
        raise ConfigError(f"{path.name}: envs.{env}.groups: no pyproject.toml beside {path.name}",
                          "add [dependency-groups] to pyproject.toml or remove `groups`")
    declared = _declared_groups(_read_toml(pyproject).get("dependency-groups", {}))
    for position, group in enumerate(groups):
        if _group_key(group) not in declared:
            close = _close_matches(group, [written for written, _ in declared.values()], n=1)
            hint = f"did you mean {close[0]!r}?" if close else "declare it under [dependency-groups] in pyproject.toml"
            raise ConfigError(f"{path.name}: envs.{env}.groups[{position}]: unknown dependency group {group!r}", hint)
    owners: dict[str, str] = {}  # requirement text -> the first group that brings it
    for group in groups:
        for text in _expand_group(declared, _group_key(group), ()):
            owners.setdefault(text, f"group {group!r} in pyproject.toml")
    return [(Requirement(text), owner) for text, owner in owners.items()]


GroupTable = dict[str, tuple[str, Any]]  # normalised name -> (name as written, value as written)


def _group_key(name: str) -> str:
    """Group names compare like project names: case, and runs of -_. , do not matter."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _declared_groups(table: Any) -> GroupTable:
    if not isinstance(table, dict):
        raise ConfigError(f"pyproject.toml: dependency-groups is a {_toml_type(table)}, not a table",
                          "write it as [dependency-groups] with one list per group")
    declared: GroupTable = {}
    for name, value in table.items():
        key = _group_key(name)
        if key in declared:
            raise ConfigError(f"pyproject.toml: dependency-groups.{declared[key][0]} and "
                              f"dependency-groups.{name} are the same group (names ignore case and -_.)",
                              "merge them into one group")
        declared[key] = (name, value)
    return declared


def _expand_group(declared: GroupTable, key: str, trail: tuple[str, ...]) -> list[str]:
    """The requirement strings of one group, its includes expanded in place, in order."""
    name, value = declared[key]
    where = f"pyproject.toml: dependency-groups.{name}"
    if key in trail:
        cycle = " -> ".join([declared[k][0] for k in trail[trail.index(key):]] + [name])
        raise ConfigError(f"{where}: include-group cycle {cycle}", "remove one include-group in the cycle")
    if not isinstance(value, list):
        raise ConfigError(f"{where} is a {_toml_type(value)}, not a list",
                          'write it as a list: name = ["pkg>=1", {include-group = "other"}]')
    texts: list[str] = []
    for position, item in enumerate(value):
        if isinstance(item, str):
            try:
                Requirement(item)
            except InvalidRequirement as exc:
                reason = str(exc).splitlines()[0]
                raise ConfigError(f"{where}[{position}]: {item!r} is not a valid PEP 508 requirement: {reason}",
                                  "fix the requirement in pyproject.toml") from None
            found = [item]
        elif isinstance(item, dict) and list(item) == ["include-group"] and isinstance(item["include-group"], str):
            included = item["include-group"]
            if _group_key(included) not in declared:
                close = _close_matches(included, [written for written, _ in declared.values()], n=1)
                raise ConfigError(f"{where}[{position}]: include-group {included!r} is not declared",
                                  f"did you mean {close[0]!r}?" if close else "declare it under [dependency-groups]")
            found = _expand_group(declared, _group_key(included), (*trail, key))
        else:
            raise ConfigError(f"{where}[{position}]: {item!r} is neither a requirement string "
                              "nor an {include-group = \"name\"} table", "fix the entry in pyproject.toml")
        texts += [text for text in found if text not in texts]
    return texts


def _toml_type(value: Any) -> str:
    return {dict: "table", list: "list", str: "string", bool: "boolean", int: "integer",
            float: "number"}.get(type(value), type(value).__name__)


def _index_settings(settings: SettingsModel, path: Path) -> IndexSettings:
    directory, file = path.parent, path.name
    index_url = os.environ.get("ENVSYNC_INDEX_URL") or settings.index_url
    extra = os.environ.get("ENVSYNC_EXTRA_INDEX_URLS")
    extras = extra.split() if extra is not None else settings.extra_index_urls
    written = (settings.index_url, *settings.extra_index_urls)
    for position, url in enumerate(written):  # validated as written, even where a variable replaces them
        key = "settings.index-url" if position == 0 else f"settings.extra-index-urls[{position - 1}]"
        if url:
            _as_url(url, directory, f"{file}: {key}")
    effective = (_as_url(index_url, directory, "ENVSYNC_INDEX_URL") if index_url else None,  # "" = off
                 *(_as_url(url, directory, "ENVSYNC_EXTRA_INDEX_URLS") for url in extras))
    return IndexSettings(
        configured=tuple(redact(url) for url in written),
        index_url=effective[0],
        extra_index_urls=tuple(url for url in effective[1:] if url is not None),
        find_links=tuple(str(_resolve_path(directory, link, f"{file}: settings.find-links[{position}]"))
                         for position, link in enumerate(settings.find_links)),
        prereleases=settings.prereleases,
        strategy=settings.index_strategy,
        index_for=_index_for(settings, path, written, len(effective)),
    )


def _index_for(settings: SettingsModel, path: Path, written: tuple[str, ...],
               available: int) -> tuple[tuple[str, int], ...]:
    """settings.index-for as (normalised package, position of its index among index-url and extras).

    An index is named by its URL as written in index-url or extra-index-urls (credentials
    and a trailing slash don't matter), so no second list of indexes is needed; the
    position carries the pin over to an ENVSYNC_* replacement of that index.
    """
    from packaging.utils import canonicalize_name

    def comparable(url: str, where: str) -> str:
        return strip_credentials(_as_url(url, path.parent, where)).rstrip("/")

    known = {comparable(url, ""): position for position, url in enumerate(written) if url}
    pins: dict[str, int] = {}
    for package, url in settings.index_for.items():
        where = f"{path.name}: settings.index-for.{package}"
        if not PACKAGE_NAME.match(package):
            raise ConfigError(f"{where}: {package!r} is not a valid package name",
                              "use the package's name as on the index, e.g. corp-internal")
        name = canonicalize_name(package)
        if name in pins:
            raise ConfigError(f"{where}: {name} is pinned twice (names are compared after normalisation)",
                              "keep one entry for it")
        position = known.get(comparable(url, where)) if url else None
        if position is None:
            raise ConfigError(f"{where}: {redact(url)!r} is not one of the configured indexes",
                              "name the index by its URL exactly as in index-url or extra-index-urls")
        if position >= available:
            raise ConfigError(f"{where}: {redact(url)!r} was replaced by ENVSYNC_EXTRA_INDEX_URLS, "
                              "which has fewer indexes", "list a replacement for every extra index, or unset it")
        pins[name] = position
    return tuple(sorted(pins.items()))


def _as_url(value: str, directory: Path, where: str) -> str:
    """http(s) and file URLs stay as written; a plain path becomes a file:// URL relative to the config."""
    if "://" not in value:
        return _resolve_path(directory, value, where).as_uri()
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - parsing the port is the check
    except ValueError as exc:
        raise ConfigError(f"{where}: {value!r} is not a valid URL: {exc}", "fix the URL") from None
    if parts.scheme.lower() not in ("http", "https", "file"):
        raise ConfigError(f"{where}: {parts.scheme}:// is not supported", "use an http(s):// or file:// URL, or a path")
    return value.rstrip("/")


def _resolve_path(directory: Path, value: str, where: str) -> Path:
    """`value` made absolute against the config's folder, `~` expanded.

    A path no file system can hold (a NUL byte) or a `~user` with no home folder is a
    ConfigError naming `where`: both would otherwise surface later as a traceback.
    """
    if "\0" in value:
        raise ConfigError(f"{where}: {value!r} contains a NUL character", "remove it from the path")
    try:
        path = Path(value).expanduser()
    except RuntimeError:
        raise ConfigError(f"{where}: {value!r} starts with ~ but that user has no home folder here",
                          "write the path out in full, or start it with ~/ for your own home") from None
    return path if path.is_absolute() else Path(os.path.normpath(directory / path))


def _check_distinct_paths(path: Path, envs: list[EnvSpec]) -> None:
    seen: dict[Path, str] = {}
    for env in envs:
        if env.path in seen:
            raise ConfigError(f"{path.name}: {_declared(env)} and {seen[env.path]} use the same path {env.display_path}",
                              "give each env its own `path`")
        seen[env.path] = _declared(env)


def _declared(env: EnvSpec) -> str:
    """Where an env is declared, for messages: envs.dev, or envs.test (matrix: test-py311)."""
    return f"envs.{env.matrix_of} (matrix: {env.name})" if env.matrix_of else f"envs.{env.name}"
