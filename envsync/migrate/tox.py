"""tox envs as envsync envs (SPEC §2 `init`).

Each tox env becomes an env: `deps` as dependencies (`-r`/`-c` files as requirements and
constraints, read in place), `extras` as the project's extras, `commands` (with
`commands_pre`/`commands_post`) as one script named like the env, `{posargs}` as `{args}`,
`setenv` as `env-vars`, the project installed unless `skip_install`. The envs one generative
envlist item makes (`py{311,312}-django{42,50}`) become one env with a `matrix` when its
factors are Python versions and packages that the factor conditions pin to one release
series (`django42: Django>=4.2,<4.3`); otherwise each stays an env of its own.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from collections import Counter
from collections.abc import Sequence

from envsync.migrate.document import EnvDraft, Project, Script, Translation, Untranslated, valid_name
from envsync.migrate.package_factors import pinned_series, requirement_or_none
from envsync.migrate.script_lines import Replace, long_reason, short_reason, substitute, translate
from envsync.migrate.tox_config import KNOWN, ToxEnv

TYPE_CHECKING = False  # not `typing.TYPE_CHECKING`: annotations only, no import at run time
if TYPE_CHECKING:
    from collections.abc import Callable

_PY_FACTOR = re.compile(r"^py(\d)\.?(\d+)$|^(\d)\.(\d+)$")   # py312, py3.12, 3.12
_PACKAGE_FACTOR = re.compile(r"^([A-Za-z][A-Za-z_]*?)(\d+)$")
_SILENT = {"passenv", "pass_env", "allowlist_externals", "whitelist_externals"}  # nothing to say in envsync


def translate_tox(source: str, envs: Sequence[ToxEnv], taken: set[str]) -> Translation:
    drafts = {env.name: _draft(env) for env in envs}
    groups: dict[str, list[ToxEnv]] = {}
    for env in envs:
        key = _group_key(env)
        if key:
            groups.setdefault(key, []).append(env)
    out: list[EnvDraft] = []
    done: set[str] = set()
    for env in envs:
        if env.name in done:
            continue
        key = _group_key(env)
        group = [member for member in groups[key] if member.name not in done] if key else []
        matrix = _as_matrix(group, drafts, source) if len(group) > 1 else None
        if matrix is not None:
            out.append(_named(matrix, valid_name(matrix.name, taken)))
            done |= {member.name for member in group}
        else:
            out.append(_named(drafts[env.name], valid_name(env.name, taken)))
            done.add(env.name)
    shared, out = _shared_notes(out)
    return Translation(envs=tuple(out), translated=Counter({"tox env": len(envs)}), notes=shared)


def _group_key(env: ToxEnv) -> str | None:
    """The envs that may share a matrix: those of one generative envlist item, or all the bare
    Python envs (`py311`, `py312`); a PyPy env never (envsync's matrix is over CPython versions)."""
    if any(factor.startswith("pypy") for factor in env.name.split("-")):
        return None
    return env.origin or ("py*" if _PY_FACTOR.match(env.name) else None)


def _shared_notes(envs: list[EnvDraft]) -> tuple[tuple[Untranslated, ...], list[EnvDraft]]:
    """A setting left out of several envs (from `[testenv]`, mostly) said once, at the top, with how many."""
    counts = Counter(note for env in envs for note in env.untranslated if note.what == "setting")
    shared = {note for note, count in counts.items() if count > 1}
    top = tuple(dataclasses.replace(note, text=f"{note.text} (in {counts[note]} envs)")
                for note in counts if note in shared)
    return top, [dataclasses.replace(env, untranslated=tuple(n for n in env.untranslated if n not in shared))
                 for env in envs]


def _named(draft: EnvDraft, name: str) -> EnvDraft:
    """The draft under its final name; its script (if any) is called like the env."""
    scripts = tuple(dataclasses.replace(script, name=name) for script in draft.scripts)
    notes = tuple(dataclasses.replace(note, text=note.text.replace("{script}", name)) for note in draft.untranslated)
    return dataclasses.replace(draft, name=name, scripts=scripts, untranslated=notes)


def _draft(env: ToxEnv) -> EnvDraft:
    notes: list[Untranslated] = []

    def note(what: str, reason: str, text: str) -> None:
        notes.append(Untranslated("tox", what, reason, text))

    caveats: list[str] = []
    replace = _replace(env, caveats)
    dependencies: list[str] = []
    requirements: list[str] = []
    constraints: list[str] = []
    in_deps: Project | None = None   # `-e .[test]` or `.[test]` in deps: the project, as tox installs it
    for line in env.get("deps"):
        text, reason = substitute(line, replace)
        option = re.match(r"^(-r|--requirement|-c|--constraint)\s*=?\s*(\S+)$", text or "")
        local = re.match(r"^(-e\s*)?\.?/?(?:\[([^\]]*)\])?$", text or "")
        if text is None:
            note("dependency", "placeholder", f"deps line {line!r} not translated: {reason}")
        elif local and text.strip() not in ("", "-e"):
            extras_here = tuple(e.strip() for e in (local.group(2) or "").split(",") if e.strip())
            in_deps = Project(editable=bool(local.group(1)), extras=extras_here)
        elif option:
            path = os.path.normpath(option.group(2)).replace(os.sep, "/")
            (requirements if option.group(1) in ("-r", "--requirement") else constraints).append(path)
        elif text.startswith("-"):
            note("dependency", "pip option", f"deps line {line!r} not translated: pip options go in a requirements "
                                             "file or [settings]")
        elif requirement_or_none(text) is None:
            note("dependency", "not PEP 508", f"deps line {line!r} not translated: not a PEP 508 requirement")
        else:
            dependencies.append(text)
    python = _python(env, notes)
    extras = tuple(e for line in env.get("extras") for e in re.split(r"[,\s]+", line) if e)
    project = in_deps or (None if _no_project(env) else Project(editable=_editable(env), extras=extras))
    groups = tuple(g for line in env.get("dependency_groups") for g in re.split(r"[,\s]+", line) if g)
    env_vars = _env_vars(env, replace, note)
    scripts = _scripts(env, replace, note)
    for key, lines in env.values:
        if key not in KNOWN and key not in _SILENT:
            note("setting", key, f"tox's {key} = {' '.join(lines)!r} is not translated")
    description = env.get("description")
    comments = (f"tox env {env.name}", *([" ".join(description)] if description else []),
                *dict.fromkeys(caveats))
    return EnvDraft(env.name, comments=comments, python=python, project=project, dependencies=tuple(dependencies),
                    groups=groups, requirements=tuple(requirements), constraints=tuple(constraints),
                    env_vars=env_vars, scripts=scripts, untranslated=tuple(notes))


def _replace(env: ToxEnv, caveats: list[str]) -> Replace:
    """tox's placeholders as envsync's; `{env:X:default}` is X when setenv sets it, else its default
    (envsync's `${X}` has no default), which `caveats` records for a comment."""
    fixed = {"toxinidir": ".", "tox_root": ".", "envpython": "python", "env_python": "python",
             "envname": env.name, "env_name": env.name, "/": "/", ":": ":", "posargs": "{args}",
             "posargs:": "{args}"}
    set_here = {line.partition("=")[0].strip() for line in env.get("setenv", "set_env")}

    def replace(inside: str) -> str | None:
        if inside in fixed:
            return fixed[inside]
        if inside.startswith("posargs:"):
            return "{args:" + inside.removeprefix("posargs:") + "}"
        variable, has_default, default = inside.removeprefix("env:").partition(":")
        if not inside.startswith("env:") or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", variable):
            return None
        if not has_default or variable in set_here:
            return f"${{{variable}}}"
        if "{" in default:
            return None
        caveats.append(f"{{{inside}}} is written as its default, {default!r}: envsync's ${{{variable}}} "
                       "has no default")
        return default
    return replace


def _python(env: ToxEnv, notes: list[Untranslated]) -> str | None:
    base = " ".join(env.get("basepython", "base_python"))
    found = re.fullmatch(r"(?:python|py)?(\d)\.?(\d+)", base.strip())
    if found:
        return f"{found.group(1)}.{found.group(2)}"
    if base and base.strip() not in ("python", "python3"):
        notes.append(Untranslated("tox", "setting", "basepython",
                                  f"tox's basepython = {base!r} is not translated: set `python` to a version or path"))
    for factor in env.name.split("-"):
        if _PY_FACTOR.match(factor):
            return _factor_python(factor)
        if factor.startswith("pypy"):
            notes.append(Untranslated("tox", "setting", "PyPy", f"tox factor {factor}: set `python` to a PyPy "
                                                                "interpreter's path"))
    return None


def _factor_python(factor: str) -> str:
    """`py312`, `py3.12` or `3.12` as "3.12"."""
    match = _PY_FACTOR.match(factor)
    if match is None:
        return factor
    major, minor = (match.group(1), match.group(2)) if match.group(1) else (match.group(3), match.group(4))
    return f"{major}.{minor}"


def _no_project(env: ToxEnv) -> bool:
    package = " ".join(env.get("package")).strip().lower()
    return env.no_package or " ".join(env.get("skip_install")).strip().lower() == "true" or package == "skip"


def _editable(env: ToxEnv) -> bool:
    package = " ".join(env.get("package")).strip().lower()
    develop = " ".join(env.get("usedevelop", "use_develop")).strip().lower()
    return develop == "true" or package in ("editable", "editable-legacy")


def _env_vars(env: ToxEnv, replace: Replace, note: Callable[[str, str, str], None]) -> tuple[tuple[str, str], ...]:
    out = []
    for line in env.get("setenv", "set_env"):
        name, equals, value = line.partition("=")
        text, reason = substitute(value.strip(), replace)
        if not equals or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name.strip()):
            note("setting", "setenv", f"setenv line {line!r} not translated: not NAME=value")
        elif text is None:
            note("setting", "setenv", f"setenv {name.strip()} not translated: {reason}")
        else:
            out.append((name.strip(), text))
    return tuple(out)


def _scripts(env: ToxEnv, replace: Replace, note: Callable[[str, str, str], None]) -> tuple[Script, ...]:
    written = [*env.get("commands_pre"), *env.get("commands"), *env.get("commands_post")]
    if not written:
        return ()
    lines = []
    for line in written:
        ignore = line.startswith("-")
        translated, reason = translate(line.lstrip("-").strip(), replace)
        if translated is None:
            note("script", short_reason(reason or ""),
                 f"{{script}} = {json.dumps(written)}   (not translated: {long_reason(reason or '')})")
            return ()
        lines.append(f"- {translated}" if ignore else translated)
    return (Script("", tuple(lines)),)


def _as_matrix(group: list[ToxEnv], drafts: dict[str, EnvDraft], source: str) -> EnvDraft | None:
    """One env with a matrix for the envs of one generative envlist item, or None when they differ otherwise."""
    split = [env.name.split("-") for env in group]
    if len({len(parts) for parts in split}) != 1:
        return None
    constant, axes = [], []
    for position, column in enumerate(zip(*split, strict=True)):
        distinct = list(dict.fromkeys(column))
        if len(distinct) == 1 and not _PY_FACTOR.match(distinct[0]):
            constant.append(distinct[0])
        elif all(_PY_FACTOR.match(value) for value in distinct):
            axes.append(("python", position))
        else:
            prefixes = {m.group(1) if (m := _PACKAGE_FACTOR.match(value)) else None for value in distinct}
            if len(prefixes) != 1 or None in prefixes:
                return None
            axes.append((prefixes.pop() or "", position))
    if not axes:
        return None
    values: dict[str, list[str]] = {}
    stripped = []
    for env, parts in zip(group, split, strict=True):
        draft = drafts[env.name]
        for axis, position in axes:
            if axis == "python":
                value = _factor_python(parts[position])
            else:
                digits = parts[position][len(axis):]
                found = pinned_series(draft.dependencies, axis,
                                      [digits[:cut] + "." + digits[cut:] for cut in range(1, len(digits))] + [digits])
                if found is None:
                    return None
                value, dependencies = found
                draft = dataclasses.replace(draft, dependencies=dependencies)
            if value not in values.setdefault(axis, []):
                values[axis].append(value)
        stripped.append(dataclasses.replace(draft, name="", python=None, comments=()))
    if any(other != stripped[0] for other in stripped[1:]) or len(group) != _product(values):
        return None
    ordered = sorted(values.items(), key=lambda item: item[0] != "python")
    item = group[0].origin or ", ".join(env.name for env in group)
    comments = (f"tox envs {item} (from {source}), as one env with a matrix",
                *drafts[group[0].name].comments[1:])
    return dataclasses.replace(stripped[0], name="-".join(constant) or "test", comments=comments,
                               matrix=tuple((axis, tuple(found)) for axis, found in ordered))


def _product(values: dict[str, list[str]]) -> int:
    total = 1
    for found in values.values():
        total *= len(found)
    return total
