"""The plan: a pure function from (desired, actual) to the ordered actions between them.

No I/O here. Every decision about *what* to change is made in this module and
nowhere else; apply only carries the actions out.
"""

from __future__ import annotations

from .model import Action, ActionKind, Actual, Desired, EnvKind, EnvPlan

# Display and execution order of action kinds within one env.
ORDER = {kind: rank for rank, kind in enumerate([
    ActionKind.REMOVE_ENV, ActionKind.CREATE_ENV, ActionKind.RECREATE_ENV, ActionKind.INSTALL,
    ActionKind.UPGRADE, ActionKind.DOWNGRADE, ActionKind.REINSTALL, ActionKind.REMOVE,
])}


def plan_env(desired: Desired, actual: Actual) -> EnvPlan:
    """What must change for the env at `actual.path` to become `desired`."""
    spec = desired.spec
    python = str(desired.interpreter.version)

    def result(actions: list[Action], error: str | None = None) -> EnvPlan:
        ordered = tuple(sorted(actions, key=lambda a: (ORDER[a.kind], a.package or "")))
        return EnvPlan(spec.name, spec.path, spec.display_path, python, ordered, desired, error,
                       verified=actual.verified)

    if actual.kind is EnvKind.FOREIGN:
        return result([], error=(
            f"{spec.display_path} exists but is not a virtual environment (no pyvenv.cfg); "
            f"envsync never touches it: move it away or set envs.{spec.name}.path to another folder"
        ))
    fresh_installs = [Action(ActionKind.INSTALL, pin.name, to_version=pin.version) for pin in desired.pins.values()]
    if actual.kind is EnvKind.MISSING:
        return result([Action(ActionKind.CREATE_ENV), *fresh_installs])
    reason = recreate_reason(desired, actual)
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


def package_actions(desired: Desired, actual: Actual) -> list[Action]:
    """Installs, version changes, reinstalls and removals for a venv that is kept."""
    actions = []
    for name, pin in desired.pins.items():
        have = actual.installed.get(name)
        if have is None:
            actions.append(Action(ActionKind.INSTALL, name, to_version=pin.version))
        elif have.version < pin.version:
            actions.append(Action(ActionKind.UPGRADE, name, have.version, pin.version))
        elif have.version > pin.version:
            actions.append(Action(ActionKind.DOWNGRADE, name, have.version, pin.version))
        elif not have.intact:
            actions.append(Action(ActionKind.REINSTALL, name, have.version, pin.version,
                                  reason="installation is incomplete"))
        elif have.missing_files or have.changed_files:
            actions.append(Action(ActionKind.REINSTALL, name, have.version, pin.version,
                                  reason=damage_reason(have.missing_files, have.changed_files)))
        elif have.direct_url is not None:
            actions.append(Action(ActionKind.REINSTALL, name, have.version, pin.version,
                                  reason="installed from another source"))
    for name, have in actual.installed.items():
        if name not in desired.pins:
            actions.append(Action(ActionKind.REMOVE, name, from_version=have.version))
    return actions


def damage_reason(missing: tuple[str, ...], changed: tuple[str, ...], shown: int = 3) -> str:
    """'files missing: a, b, c and 4 more; files changed: d', naming a few of each."""
    parts = []
    for label, paths in (("files missing", missing), ("files changed", changed)):
        if paths:
            more = f" and {len(paths) - shown} more" if len(paths) > shown else ""
            parts.append(f"{label}: {', '.join(paths[:shown])}{more}")
    return "; ".join(parts)


def plan_env_removal(name: str, actual: Actual, display_path: str) -> EnvPlan:
    """An env envsync made that the config no longer declares."""
    python = str(actual.python_version) if actual.python_version else None
    return EnvPlan(name, actual.path, display_path, python,
                   (Action(ActionKind.REMOVE_ENV, reason="no longer declared in the config"),))
