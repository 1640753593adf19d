"""Startup hooks (`.pth` files) sorted by who owns them.

A `.pth` file runs at every start of the env's interpreter, so one a dependency adds is
worth a warning. An editable install of the env's own project adds one too (it is how the
project's source folder gets on `sys.path`), and warning about it on every apply is noise.
Which is which is decided by ownership, never by the file's name (any wheel could call its
hook `__editable__.x.pth`): a hook is the project's own when the RECORD it is listed in
belongs to a package the env installs from a local folder it declares (a directory source).
"""

from __future__ import annotations

from collections.abc import Iterable

from envsync.model import Actual, EnvPlan, Pin


def is_own_project(pin: Pin) -> bool:
    """The env's own local project: a package it builds from a folder the config names."""
    return pin.source is not None and pin.source.is_project()


def installed_hooks(actual: Actual, names: Iterable[str]) -> list[tuple[str, str]]:
    """(.pth file, "name version") for each top-level `.pth` the installed RECORD of `names` lists."""
    from envsync.files.metadata import record_rows

    found = []
    for name in names:
        dist = actual.installed.get(name)  # type: ignore[call-overload]
        if dist is None:
            continue
        for path, _, _ in record_rows(dist.dist_info / "RECORD"):
            if "/" not in path and path.endswith(".pth"):
                found.append((path, f"{dist.name} {dist.version}"))
    return found


def project_hooks(plan: EnvPlan, actual: Actual, planned: Iterable[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    """The hooks of the env's own projects: those their installed RECORD lists, and those the
    plan's installs of them add (`planned`, already attributed to "name version")."""
    own = {name for name, pin in plan.desired.pins.items() if is_own_project(pin)}
    labels = {f"{pin.name} {pin.version}" for name, pin in plan.desired.pins.items() if name in own}
    return tuple(sorted({*installed_hooks(actual, own), *(hook for hook in planned if hook[1] in labels)}))
