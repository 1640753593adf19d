"""`envsync tree ENV [--invert PKG]`: the env's locked packages as a dependency tree.

Each package sits under the packages that require it, with its version and the
requirement that pulled it in; `--invert PKG` answers "why is PKG here?" with every
path from the env's own requirements down to it.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence

from packaging.utils import NormalizedName, canonicalize_name

from envsync.errors import EnvsyncError
from envsync.model import Desired, Pin
from envsync.sources.base import shown

TYPE_CHECKING = False  # not `typing.TYPE_CHECKING`: annotations only, no import at run time
if TYPE_CHECKING:
    import argparse

    from packaging.requirements import Requirement

    from envsync.cli import Output
    from envsync.state.session import Session

ROOT = "<root>"
MAX_PATHS = 200  # a big graph can have very many paths to one package; say so rather than flood


def roots(desired: Desired) -> list[tuple[NormalizedName, str]]:
    """The env's own requirements that are in its pins, in the config's order, with their text."""
    markers = {**desired.interpreter.markers, "extra": ""}
    found: dict[NormalizedName, list[str]] = {}
    for requirement in desired.spec.requirements:
        name = canonicalize_name(requirement.name)
        if name in desired.pins and _applies(requirement, markers):
            texts = found.setdefault(name, [])
            if shown(requirement) not in texts:
                texts.append(shown(requirement))
    for name, pin in desired.pins.items():  # a local project, or anything nothing else reaches, is a root too
        is_project = pin.source is not None and pin.source.is_project()
        if (is_project or not _parents(name, desired.pins)) and name not in found:
            found[name] = [dict(pin.reasons).get(ROOT, "")]
    return [(name, ", ".join(filter(None, texts))) for name, texts in found.items()]


def _applies(requirement: Requirement, markers: dict[str, str]) -> bool:
    """As the resolver reads a dependency's marker: one that can't be evaluated holds nowhere."""
    from envsync.resolve.markers import marker_holds

    return marker_holds(requirement.marker, markers, if_unevaluable=False)


def _parents(name: NormalizedName, pins: Mapping[NormalizedName, Pin]) -> list[NormalizedName]:
    return [parent for parent, pin in pins.items() if name in pin.dependencies]


def _label(pin: Pin, requirement: str) -> str:
    return f"{pin.name} {pin.version}" + (f"  ({requirement})" if requirement else "")


def _why(child: Pin, parent: NormalizedName) -> str:
    return dict(child.reasons).get(parent, "")


def tree_lines(desired: Desired) -> list[str]:
    """The tree, uv-style: a package shown before is marked (*) and not expanded again."""
    pins, lines, shown = desired.pins, [], set()

    def walk(name: NormalizedName, requirement: str, prefix: str, branch: str) -> None:
        pin = pins[name]
        seen = name in shown and pin.dependencies
        lines.append(prefix + branch + _label(pin, requirement) + (" (*)" if seen else ""))
        if seen:
            return
        shown.add(name)
        children = [child for child in pin.dependencies if child in pins]
        inner = prefix + ("" if not branch else ("    " if branch == "└── " else "│   "))
        for position, child in enumerate(children):
            last = position == len(children) - 1
            walk(child, _why(pins[child], name), inner, "└── " if last else "├── ")

    for name, requirement in roots(desired):
        walk(name, requirement, "", "")
    return lines


def paths_to(desired: Desired, target: NormalizedName) -> list[list[tuple[NormalizedName, str]]]:
    """Every path (no package twice) from a root requirement down to `target`."""
    pins = desired.pins
    found: list[list[tuple[NormalizedName, str]]] = []

    def walk(path: list[tuple[NormalizedName, str]]) -> None:
        if len(found) >= MAX_PATHS:
            return
        name = path[-1][0]
        if name == target:
            found.append(list(path))
            return
        for child in pins[name].dependencies:
            if child in pins and all(child != step for step, _ in path):
                walk([*path, (child, _why(pins[child], name))])

    for name, requirement in roots(desired):
        walk([(name, requirement)])
    return found


def invert_lines(desired: Desired, package: str) -> list[str]:
    target = canonicalize_name(package)
    if target not in desired.pins:
        close = difflib.get_close_matches(target, list(desired.pins), n=1)
        hint = f"did you mean {close[0]!r}?" if close else "`envsync tree ENV` lists the env's packages"
        raise EnvsyncError(f"env {desired.spec.name} has no package {package!r}", hint)
    pin = desired.pins[target]
    paths = paths_to(desired, target)
    lines = [f"{pin.name} {pin.version} is in env {desired.spec.name} because of:"]
    for path in paths:
        lines.append("  " + " -> ".join(_label(desired.pins[name], why) for name, why in path))
    if len(paths) >= MAX_PATHS:
        lines.append(f"  (only the first {MAX_PATHS} paths are shown)")
    return lines


def run(args: argparse.Namespace, out: Output, session: Session) -> int:
    from envsync.commands._shared import locked, one_env

    try:
        spec = one_env(session, args.env, args.command)
        desired = locked(session, spec, out.note).desired
    finally:
        session.close()
    from envsync.resolve.lockfile import portable

    lines: Sequence[str] = invert_lines(desired, args.invert) if args.invert else tree_lines(desired)
    for line in lines:  # a local project as the lock writes it: relative to envs.toml's folder
        out.result(portable(line, session.config.directory))
    return 0
