"""A matrix env's expansions: the product of its `matrix` lists, minus `matrix-exclude`, each named.

`python` picks each expansion's interpreter; every other key names a package whose value pins
it (`django = ["4.2"]` adds `django==4.2.*`). Pure: the loader hands in what pydantic
validated and gets named expansions back, or a ConfigError naming the key to fix.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import product

from envsync.errors import ConfigError

# A Python value: a bare major.minor, or PyPy's ("pypy3.10"); the expansion is named from it.
PYTHON_VALUE = re.compile(r"^(pypy)?[1-9][0-9]*\.(0|[1-9][0-9]*)$")
# A package factor's value: a PEP 440 release (digits and dots), no local or pre-release parts.
RELEASE_VALUE = re.compile(r"^[0-9]+(\.[0-9]+)*$")
NAME_LIMIT = 64  # envs' names are at most this long (see load.ENV_NAME)


@dataclass(frozen=True)
class Expansion:
    """One env a matrix makes: its name and its value of every key, in the order written."""

    name: str
    values: tuple[tuple[str, str], ...]  # (key, value); "python" as written, packages normalised

    @property
    def python(self) -> str | None:
        return dict(self.values).get("python")

    @property
    def factors(self) -> tuple[tuple[str, str], ...]:
        """The package factors: (normalised name, version)."""
        return tuple((key, value) for key, value in self.values if key != "python")


def factor_requirement(package: str, version: str) -> str:
    """The requirement a factor adds: "4.2" -> django==4.2.*; three parts or more are exact."""
    return f"{package}=={version}" if version.count(".") >= 2 else f"{package}=={version}.*"


def normalise(name: str) -> str:
    """A factor's package name as PEP 503 writes it (runs of -_. become one -)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def expansion_name(env: str, values: tuple[tuple[str, str], ...]) -> str:
    """`compat-py312-django42`: the env, then -py<XY> (-pypy<XY>), then -<factor><value> per factor."""
    parts = [env]
    for key, value in values:
        if key == "python":
            parts.append(value.replace(".", "") if value.startswith("pypy") else "py" + value.replace(".", ""))
        else:
            parts.append(key + value.replace(".", ""))
    return "-".join(parts)


def expand(file: str, env: str, matrix: dict[str, list[str]],
           excludes: list[dict[str, str]] | None) -> list[Expansion]:
    """The named expansions of `envs.<env>`, validated; `file` prefixes every message."""
    where = f"{file}: envs.{env}.matrix"
    if not matrix:
        raise ConfigError(f"{where}: the matrix is empty", 'list at least one key, e.g. python = ["3.12", "3.13"]')
    keys: list[tuple[str, str, list[str]]] = []  # (key as written, key used, values)
    for key, values in matrix.items():
        used = _check_key(where, key)
        if any(used == seen for _, seen, _ in keys):
            raise ConfigError(f"{where}.{key}: names the same package as another key (names ignore case and -_.)",
                              "merge the two lists into one")
        _check_values(f"{where}.{key}", used, values)
        keys.append((key, used, values))
    combinations = [tuple((used, value) for (_, used, _), value in zip(keys, chosen, strict=True))
                    for chosen in product(*(values for _, _, values in keys))]
    kept = _without_excluded(f"{file}: envs.{env}.matrix-exclude", keys, combinations, excludes or [])
    expansions = [Expansion(expansion_name(env, values), values) for values in kept]
    _check_names(where, env, keys, expansions)
    return expansions


def _check_key(where: str, key: str) -> str:
    """The key as used: "python", or the factor's normalised package name."""
    if key == "python":
        return key
    if _edits(key.lower(), "python") <= 2:
        raise ConfigError(f"{where}.{key}: unknown key (did you mean 'python'?)",
                          "every matrix key but `python` names a package; one this close to `python` is "
                          "taken for a typo of it")
    if not re.fullmatch(r"[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?", key):
        raise ConfigError(f"{where}.{key}: {key!r} is not a package name",
                          "a matrix key other than `python` names a package, e.g. django = [\"4.2\", \"5.1\"]")
    return normalise(key)


def _check_values(where: str, key: str, values: list[str]) -> None:
    if not values:
        what = "Python version" if key == "python" else f"version of {key}"
        raise ConfigError(f"{where}: list at least one {what}",
                          'e.g. python = ["3.12", "3.13"]' if key == "python" else f'e.g. {key} = ["4.2", "5.1"]')
    for position, value in enumerate(values):
        if key == "python" and not PYTHON_VALUE.match(value):
            raise ConfigError(f"{where}[{position}]: {value!r} is not a major.minor Python version",
                              'a matrix takes versions like "3.12" or "pypy3.10" (no paths, ranges or patch releases)')
        if key != "python" and not RELEASE_VALUE.match(value):
            raise ConfigError(f"{where}[{position}]: {value!r} is not a release version of {key}",
                              f'a factor takes versions of digits and dots, like "4.2" (adds {key}==4.2.*) '
                              'or "4.2.1" (exact); no local versions, pre-releases or ranges')
        if value in values[:position]:
            raise ConfigError(f"{where}[{position}]: {value!r} is listed twice", "list each value once")


def _without_excluded(where: str, keys: list[tuple[str, str, list[str]]],
                      combinations: list[tuple[tuple[str, str], ...]],
                      excludes: list[dict[str, str]]) -> list[tuple[tuple[str, str], ...]]:
    """The combinations no exclude matches; an exclude that could match none is an error."""
    used_of = {written: used for written, used, _ in keys} | {used: used for _, used, _ in keys}
    values_of = {used: values for _, used, values in keys}
    tables = []
    for position, exclude in enumerate(excludes):
        here = f"{where}[{position}]"
        if not exclude:
            raise ConfigError(f"{here}: an empty exclude leaves out every expansion", "name the values to leave out")
        table = {}
        for key, value in exclude.items():
            used = used_of.get(key) or used_of.get(normalise(key))
            if used is None:
                import difflib

                close = difflib.get_close_matches(key, list(used_of), n=1)
                raise ConfigError(f"{here}.{key}: not a key of the matrix, so this exclude matches nothing",
                                  f"did you mean {close[0]!r}?" if close else f"matrix keys: {', '.join(values_of)}")
            if value not in values_of[used]:
                raise ConfigError(f"{here}.{key}: {value!r} is not one of the matrix's {key} values "
                                  f"({', '.join(values_of[used])}), so this exclude matches nothing",
                                  "write a value exactly as the matrix lists it")
            table[used] = value
        tables.append(table)
    kept = [values for values in combinations
            if not any(all(dict(values)[key] == value for key, value in table.items()) for table in tables)]
    if not kept:
        raise ConfigError(f"{where} leaves out every expansion of the matrix", "exclude fewer combinations")
    return kept


def _check_names(where: str, env: str, keys: list[tuple[str, str, list[str]]], expansions: list[Expansion]) -> None:
    seen: dict[str, Expansion] = {}
    for expansion in expansions:
        if len(expansion.name) > NAME_LIMIT:
            raise ConfigError(f"{where}: the expansion's name {expansion.name!r} is longer than {NAME_LIMIT} "
                              "characters", f"shorten the env name {env!r} or the matrix")
        other = seen.get(expansion.name.lower())
        if other is not None:
            written = {used: key for key, used, _ in keys}
            key, first, second = next((key, a, b) for (key, a), (_, b) in zip(other.values, expansion.values,
                                                                                strict=True) if a != b)
            raise ConfigError(f"{where}.{written[key]}: {first!r} and {second!r} both make the env name "
                              f"{expansion.name!r}", "list only one of them")
        seen[expansion.name.lower()] = expansion


def _edits(a: str, b: str) -> int:
    """Levenshtein distance: the fewest one-character insertions, deletions or substitutions."""
    previous = list(range(len(b) + 1))
    for i, char in enumerate(a, 1):
        current = [i]
        for j, other in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char != other)))
        previous = current
    return previous[-1]
