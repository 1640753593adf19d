"""Hatch envs (`[tool.hatch.envs.*]` or hatch.toml's `[envs.*]`) as envsync envs (SPEC §2 `init`).

Hatch's inheritance is applied first: an env takes every option of its `template` (default:
`default`) it doesn't set itself, scripts merged by name, matrices never inherited; a
`detached` env, an env whose template is itself, and Hatch's own `hatch-*` envs inherit
nothing. Then `dependencies` + `extra-dependencies` become dependencies, `features` the
project's extras, `env-vars` env-vars, `scripts` scripts; the project is installed unless
`detached` or `skip-install`. A matrix over `python` alone becomes an envsync matrix; one
whose other variables are packages pinned per value becomes a matrix with package factors;
otherwise there is an env per value of the other variables, `{matrix:NAME}` filled in.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import re
from collections import Counter
from typing import Any

from envsync.migrate.document import EnvDraft, Project, Script, Translation, Untranslated, valid_name
from envsync.migrate.files import strings, table
from envsync.migrate.package_factors import pinned_series, requirement_or_none
from envsync.migrate.script_lines import Replace, long_reason, short_reason, substitute, translate

TYPE_CHECKING = False  # not `typing.TYPE_CHECKING`: annotations only, no import at run time
if TYPE_CHECKING:
    from collections.abc import Callable

_NOT_INHERITED = {"matrix", "matrix-name-format", "template", "detached"}
_HANDLED = {"dependencies", "extra-dependencies", "features", "env-vars", "scripts", "python", "skip-install",
            "detached", "dev-mode", "template", "matrix", "matrix-name-format", "description", "type",
            "dependency-groups", "overrides"}


def effective_configs(declared: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each declared env's options after Hatch's template inheritance."""
    out: dict[str, dict[str, Any]] = {}

    def resolve(name: str, trail: tuple[str, ...]) -> dict[str, Any]:
        if name in out:
            return out[name]
        own = dict(table(declared.get(name)))
        template = own["template"] if isinstance(own.get("template"), str) else "default"
        if own.get("detached") or template == name or name.startswith("hatch-") or name in trail \
                or (template == "default" and name == "default"):
            out[name] = own
            return own
        parent = resolve(template, (*trail, name)) if template in declared else {}
        merged = dict(own)
        for key, value in parent.items():
            if key in _NOT_INHERITED:
                continue
            if key == "scripts":
                merged["scripts"] = {**table(value), **table(own.get("scripts"))}
            else:
                merged.setdefault(key, value)
        out[name] = merged
        return merged

    for name in declared:
        resolve(name, ())
    return {name: out[name] for name in declared}


def translate_hatch(declared: dict[str, Any], source: str, taken: set[str]) -> Translation:
    envs: list[EnvDraft] = []
    counts: Counter[str] = Counter()
    scripts: set[Script] = set()
    for name, config in effective_configs(declared).items():
        combos = _combinations(config)
        made = _envs_for(name, config, combos, source, taken)
        envs += made
        counts["Hatch env"] += max(1, len(combos))
        scripts.update(made[-1].scripts)
    counts["Hatch script"] = len(scripts)   # a script every env inherits is one script
    return Translation(envs=tuple(envs), translated=counts)


def _envs_for(name: str, config: dict[str, Any], combos: list[dict[str, str]], source: str,
              taken: set[str]) -> list[EnvDraft]:
    """The envs for one Hatch env: itself; one env with a package-factor matrix; or, per value of
    the other variables, one env with a matrix over the Pythons that are versions, and one env
    per remaining combination (a `pypy3` Python, say)."""
    if not combos:
        return [_with_name(_draft(name, config, {}, source), valid_name(name, taken))]
    matrix = _package_matrix(name, config, combos, source)
    if matrix is not None:
        return [_with_name(matrix, valid_name(name, taken))]
    by_others: dict[tuple[str, ...], list[dict[str, str]]] = {}
    for combo in combos:
        by_others.setdefault(tuple(v for k, v in combo.items() if k != "python"), []).append(combo)
    out = []
    for others, group in by_others.items():
        label = "-".join([name, *others])
        versions = [combo for combo in group if _python_version(combo.get("python", ""))]
        drafts = [dataclasses.replace(_draft(name, config, combo, source), python=None, comments=())
                  for combo in versions]
        rest = group
        if len(versions) > 1 and all(draft == drafts[0] for draft in drafts[1:]):
            pythons = tuple(dict.fromkeys(combo["python"] for combo in versions))
            shared = {key: value for key, value in versions[0].items() if key != "python"}
            draft = dataclasses.replace(drafts[0], comments=_comments(name, config, shared, source))
            out.append(_with_name(draft, valid_name(label, taken), matrix=(("python", pythons),)))
            rest = [combo for combo in group if combo not in versions]
        for combo in rest:
            python = combo.get("python")
            shown = (f"py{python.replace('.', '')}" if _python_version(python) else python) if python else None
            out.append(_with_name(_draft(name, config, combo, source),
                                  valid_name("-".join([name, *([shown] if shown else []), *others]), taken)))
    return out


def _with_name(draft: EnvDraft, name: str, matrix: tuple[tuple[str, tuple[str, ...]], ...] = ()) -> EnvDraft:
    return dataclasses.replace(draft, name=name, matrix=matrix or draft.matrix, python=None if matrix else draft.python)


def _combinations(config: dict[str, Any]) -> list[dict[str, str]]:
    """Every combination of the env's `[[matrix]]` tables, `py` spelled `python`, in Hatch's order."""
    out: list[dict[str, str]] = []
    for entry in config.get("matrix", []) if isinstance(config.get("matrix"), list) else []:
        variables = {("python" if key in ("py", "python") else key): strings(values)
                     for key, values in table(entry).items()}
        variables = {"python": variables.pop("python")} | variables if "python" in variables else variables
        for values in itertools.product(*variables.values()):
            combo = dict(zip(variables, values, strict=True))
            if "python" in combo:
                combo["python"] = _python_version(combo["python"]) or combo["python"]
            out.append(combo)
    return out


def _package_matrix(name: str, config: dict[str, Any], combos: list[dict[str, str]],
                    source: str) -> EnvDraft | None:
    """One env with a matrix when every variable but python is a package whose value the env's
    dependencies (often through `overrides`) pin as a release series, and nothing else differs."""
    keys = list(combos[0])
    variables = [key for key in keys if key != "python"]
    if any(list(combo) != keys for combo in combos) or \
            not all(re.fullmatch(r"\d+(\.\d+)*", combo[key]) for combo in combos for key in variables):
        return None
    values: dict[str, list[str]] = {key: [] for key in keys}
    stripped = []
    for combo in combos:
        draft = _draft(name, config, combo, source)
        for key in variables:
            found = pinned_series(draft.dependencies, key, [combo[key]])
            if found is None:
                return None
            draft = dataclasses.replace(draft, dependencies=found[1])
        for key in keys:
            values[key] += [combo[key]] if combo[key] not in values[key] else []
        stripped.append(dataclasses.replace(draft, python=None, comments=()))
    if any(other != stripped[0] for other in stripped[1:]) or len(set(map(str, combos))) != math.prod(
            len(found) for found in values.values()):
        return None
    comments = (f"Hatch env {name} (from {source}): its matrix, with package factors",)
    return dataclasses.replace(stripped[0], comments=comments,
                               matrix=tuple((key, tuple(found)) for key, found in values.items()))


_OVERRIDABLE = {"dependencies": "dependencies", "extra-dependencies": "dependencies", "features": "features"}


def _overrides(config: dict[str, Any], combo: dict[str, str],
               note: Callable[[str, str, str], None]) -> dict[str, list[str]]:
    """What `overrides` adds for `combo` to "dependencies" and "features" (`matrix.VAR.OPTION`, each
    entry a string or `{ value, if }`); every other override is noted as not translated."""
    added: dict[str, list[str]] = {"dependencies": [], "features": []}
    for kind, by_name in table(config.get("overrides")).items():
        for variable, options in table(by_name).items():
            for option, entries in table(options).items():
                if kind != "matrix" or option not in _OVERRIDABLE:
                    note("setting", "overrides", f"Hatch's overrides {kind}.{variable}.{option} is not translated")
                    continue
                if variable not in combo:
                    continue
                for entry in entries if isinstance(entries, list) else []:
                    if isinstance(entry, str):
                        added[_OVERRIDABLE[option]].append(entry)
                    elif isinstance(entry, dict) and isinstance(entry.get("value"), str) and \
                            combo[variable] in strings(entry.get("if", [combo[variable]])):
                        added[_OVERRIDABLE[option]].append(entry["value"])
    return added


def _python_version(text: str) -> str | None:
    found = re.fullmatch(r"(?:python|py)?(\d)\.?(\d+)", text.strip())
    return f"{found.group(1)}.{found.group(2)}" if found else None


def _draft(name: str, config: dict[str, Any], combo: dict[str, str], source: str) -> EnvDraft:
    notes: list[Untranslated] = []

    def note(what: str, reason: str, text: str) -> None:
        notes.append(Untranslated("Hatch", what, reason, text))

    replace = _replace(name, combo)
    overridden = _overrides(config, combo, note)
    dependencies = []
    for line in [*strings(config.get("dependencies")), *strings(config.get("extra-dependencies")),
                 *overridden["dependencies"]]:
        text, reason = substitute(line, replace)
        if text is None or requirement_or_none(text) is None:
            note("dependency", "placeholder" if text is None else "not PEP 508",
                 f"dependency {line!r} not translated: {reason or 'not a PEP 508 requirement'}")
        else:
            dependencies.append(text)
    detached = config.get("detached") is True or config.get("skip-install") is True
    project = None if detached else Project(editable=config.get("dev-mode", True) is not False,
                                            extras=tuple(dict.fromkeys([*strings(config.get("features")),
                                                                        *overridden["features"]])))
    python = combo.get("python") or (str(config["python"]) if isinstance(config.get("python"), str) else None)
    if python and "/" not in python:
        if not _python_version(python):
            note("setting", "python", f"Hatch's python = {python!r} is not translated: give a version or a path")
        python = _python_version(python)
    env_vars = []
    for variable, value in table(config.get("env-vars")).items():
        text, reason = substitute(str(value), replace)
        if text is None:
            note("setting", "env-vars", f"env-vars {variable} not translated: {reason}")
        else:
            env_vars.append((variable, text))
    scripts = _scripts(table(config.get("scripts")), replace, note)
    if config.get("type", "virtual") != "virtual":
        note("setting", "type", f"Hatch's type = {config['type']!r} is not translated: envsync makes plain venvs")
    for key, value in config.items():
        if key not in _HANDLED:
            note("setting", key, f"Hatch's {key} = {value!r} is not translated")
    return EnvDraft(name, comments=_comments(name, config, combo, source), python=python, project=project,
                    dependencies=tuple(dependencies), groups=tuple(strings(config.get("dependency-groups"))),
                    env_vars=tuple(env_vars), scripts=scripts, untranslated=tuple(notes))


def _comments(name: str, config: dict[str, Any], combo: dict[str, str], source: str) -> tuple[str, ...]:
    shown = ", ".join(f"{key}={value}" for key, value in combo.items())
    comments = [f"Hatch env {name} (from {source})" + (f", matrix {shown}" if set(combo) - {"python"} else "")]
    if isinstance(config.get("description"), str):
        comments.append(config["description"].strip().replace("\n", " "))
    if name.startswith("hatch-"):
        comments.append(f"{name} is one of Hatch's own envs: the tools Hatch adds to it by default are not listed")
    return tuple(comments)


def _replace(name: str, combo: dict[str, str]) -> Replace:
    def replace(inside: str) -> str | None:
        if inside == "root":
            return "."
        if inside == "env_name":
            return name
        if inside.startswith("matrix:"):
            return combo.get(inside.removeprefix("matrix:").split(":")[0])
        if inside.startswith("env:"):
            variable = inside.removeprefix("env:")
            return f"${{{variable}}}" if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", variable) else None
        return None
    return replace


def _scripts(declared: dict[str, Any], replace: Replace, note: Callable[[str, str, str], None]) -> tuple[Script, ...]:
    out = []
    for script, value in declared.items():
        written = strings(value)
        reason = None
        lines = []
        for line in written:
            first = line.strip().removeprefix("- ").split(" ", 1)[0]
            if first in declared:
                reason = f"calls the script {first!r} (write its lines here instead)"
                break
            if first == "hatch":
                reason = "calls Hatch (`envsync run ENV:SCRIPT` does what `hatch run` did)"
                break
            translated, reason = translate(line.strip().removeprefix("- "), replace)
            if translated is None:
                break
            lines.append(f"- {translated}" if line.strip().startswith("- ") else translated)
        if reason is None and lines:
            out.append(Script(script, tuple(lines)))
        else:
            shown = json.dumps(written[0] if len(written) == 1 else written)
            reason = reason or "no command"
            short = "calls another script" if reason.startswith("calls the") else (
                "calls Hatch" if reason.startswith("calls Hatch") else short_reason(reason))
            note("script", short, f"{script} = {shown}   (not translated: {long_reason(reason)})")
    return tuple(out)
