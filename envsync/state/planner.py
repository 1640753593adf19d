"""The plan: a pure function from (desired, actual) to the ordered actions between them.

No I/O here. Every decision about *what* to change is made in this module and
nowhere else; apply only carries the actions out.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from envsync.model import Action, ActionKind, Actual, Desired, EnvKind, EnvPlan, EnvRemoval, Installed, LockWrite, Pin

# Display and execution order of action kinds within one env.
ORDER = {kind: rank for rank, kind in enumerate([
    ActionKind.REMOVE_ENV, ActionKind.CREATE_ENV, ActionKind.RECREATE_ENV, ActionKind.INSTALL,
    ActionKind.UPGRADE, ActionKind.DOWNGRADE, ActionKind.REINSTALL, ActionKind.REMOVE,
])}


def plan_env(desired: Desired, actual: Actual, lock_write: LockWrite | None = None) -> EnvPlan:
    """What must change for the env at `actual.path` to become `desired` (and its lock, if
    `lock_write` is given: the resolve that produced `desired` differs from the lock on disk)."""
    spec = desired.spec
    python = str(desired.interpreter.version)

    def result(actions: list[Action], error: str | None = None) -> EnvPlan:
        ordered = tuple(sorted(actions, key=lambda a: (ORDER[a.kind], a.package or "")))
        return EnvPlan(spec.name, spec.path, spec.display_path, python, ordered, desired, error,
                       None if error else lock_write, verified=actual.verified)

    if actual.kind is EnvKind.FOREIGN:
        return result([], error=(
            f"{spec.display_path} exists but is not a virtual environment (no pyvenv.cfg); "
            f"envsync never touches it: move it away or set envs.{spec.name}.path to another folder"
        ))
    fresh_installs = [Action(ActionKind.INSTALL, pin.name, to_version=pin.version) for pin in desired.pins.values()]
    if actual.kind is EnvKind.MISSING:
        return result([Action(ActionKind.CREATE_ENV), *fresh_installs])
    reason = recreate_reason(desired, actual)
    if reason and actual.strangers:
        return result([], error=strangers_error(spec.name, actual.strangers))
    if reason:
        return result([Action(ActionKind.RECREATE_ENV, reason=reason), *fresh_installs])
    return result(package_actions(desired, actual))


def recreate_reason(desired: Desired, actual: Actual) -> str | None:
    """Why the venv must be rebuilt from scratch, or None when it can be kept."""
    wanted = desired.interpreter.version
    if actual.python_version is None:
        return "pyvenv.cfg does not say which Python made it"
    if not actual.interpreter_ok:
        return f"its interpreter (Python {actual.python_version}) is missing"
    if actual.python_version != wanted:
        return f"Python {actual.python_version} -> {wanted}"
    return None


def strangers_error(name: str, strangers: tuple[str, ...], shown: int = 10) -> str:
    """Why a venv that must be recreated is left alone: its folder holds someone's own files."""
    more = f" and {len(strangers) - shown} more" if len(strangers) > shown else ""
    verb = "is" if len(strangers) == 1 else "are"
    return (f"cannot recreate {name}: {', '.join(strangers[:shown])}{more} {verb} not part of the venv; "
            f"envsync never deletes them: move them out of the venv's folder, or give envs.{name} "
            f"a `path` of its own")


def package_actions(desired: Desired, actual: Actual) -> list[Action]:
    """Installs, version changes, reinstalls and removals for a venv that is kept."""
    actions = []
    for name, pin in desired.pins.items():
        have = actual.installed.get(name)
        decides = pin.source is not None and pin.source.decides_version
        if have is None:
            actions.append(Action(ActionKind.INSTALL, name, to_version=pin.version))
        elif have.version < pin.version and not decides:
            actions.append(Action(ActionKind.UPGRADE, name, have.version, pin.version))
        elif have.version > pin.version and not decides:
            actions.append(Action(ActionKind.DOWNGRADE, name, have.version, pin.version))
        elif not have.intact:
            actions.append(Action(ActionKind.REINSTALL, name, have.version, pin.version,
                                  reason="installation is incomplete"))
        elif have.missing_files or have.changed_files:
            actions.append(Action(ActionKind.REINSTALL, name, have.version, pin.version,
                                  reason=damage_reason(have.missing_files, have.changed_files)))
        else:
            reason = source_change(pin, have)
            if reason:
                actions.append(Action(ActionKind.REINSTALL, name, have.version, pin.version, reason=reason))
    for name, have in actual.installed.items():
        if name not in desired.pins:
            actions.append(Action(ActionKind.REMOVE, name, from_version=have.version))
    return actions


def source_change(pin: Pin, have: Installed) -> str | None:
    """Why an installed package of the right version must still be reinstalled: its source says
    (it came from another place, another commit, or its entry points changed)."""
    if pin.source is None:
        return "installed from another source" if have.direct_url is not None else None
    return pin.source.reinstall_reason(pin, have)


def plan_removals(config_path: Path, declared: Iterable[Path], found: Iterable[Actual]) -> tuple[EnvRemoval, ...]:
    """Which of the folders `found` under the env root are envs to delete: venvs that envsync made
    for this very config (their pyvenv.cfg says so) and that no declared env uses. A venv made by
    hand, by another tool, or for another config sharing the root is never removed."""
    taken = set(declared)
    removals = []
    for actual in sorted(found, key=lambda a: a.path):
        if actual.path in taken or actual.path.name.startswith("."):
            continue
        if actual.kind is EnvKind.VENV and actual.owner == str(config_path):
            python = str(actual.python_version) if actual.python_version else None
            shown = os.path.relpath(actual.path, config_path.parent)
            removals.append(EnvRemoval(actual.path.name, actual.path, shown, python, actual.owner))
    return tuple(removals)


def orphan_locks(declared: Iterable[str], locks: Iterable[tuple[Path, str | None]]) -> tuple[Path, ...]:
    """Which `pylock.<env>.toml` files to delete: those envsync wrote (their [tool.envsync] names
    the env, given here beside each path; None for a lock another tool wrote) for an env the
    config no longer declares. A lock named for a declared env, or not envsync's, is kept."""
    names = set(declared)
    orphans = []
    for path, env in sorted(locks):
        name = path.name.removeprefix("pylock.").removesuffix(".toml")
        if env is not None and env == name and name not in names:
            orphans.append(path)
    return tuple(orphans)


def still_to_remove(removal: EnvRemoval, actual: Actual) -> bool:
    """Whether a planned removal still applies to what is at its path now (another process may
    have removed the env, or put something else there, since the plan was made)."""
    return actual.kind is EnvKind.VENV and actual.owner == removal.owner


def damage_reason(missing: tuple[str, ...], changed: tuple[str, ...], shown: int = 3) -> str:
    """'files missing: a, b, c and 4 more; files changed: d', naming a few of each."""
    parts = []
    for label, paths in (("files missing", missing), ("files changed", changed)):
        if paths:
            more = f" and {len(paths) - shown} more" if len(paths) > shown else ""
            parts.append(f"{label}: {', '.join(paths[:shown])}{more}")
    return "; ".join(parts)
