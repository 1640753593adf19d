"""Show a Plan to people (text, coloured on a terminal) and to programs (JSON)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from envsync.config.paths import lock_path
from envsync.events import ActionDone, Event, FetchProgress, Progress, StartupHookAdded, WaitingForLock, WheelsFetched
from envsync.model import Action, ActionKind, EnvPlan, EnvRemoval, GroupPlan, Plan

SYMBOLS = {
    ActionKind.CREATE_ENV: ("+", "green"), ActionKind.RECREATE_ENV: ("±", "yellow"),
    ActionKind.REMOVE_ENV: ("-", "red"), ActionKind.INSTALL: ("+", "green"),
    ActionKind.UPGRADE: ("~", "yellow"), ActionKind.DOWNGRADE: ("~", "yellow"),
    ActionKind.REINSTALL: ("±", "yellow"), ActionKind.REMOVE: ("-", "red"),
}
COLOURS = {"green": "32", "yellow": "33", "red": "31", "bold": "1", "dim": "2"}


def use_colour(stream) -> bool:
    return stream.isatty() and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"


def _paint(text: str, colour: str, enabled: bool) -> str:
    return f"\033[{COLOURS[colour]}m{text}\033[0m" if enabled else text


def describe_action(action: Action) -> str:
    """One action as a line of text, without the symbol: 'upgrade  urllib3 1.26 -> 2.2'."""
    kind = action.kind
    if kind is ActionKind.CREATE_ENV:
        return "create environment"
    if kind is ActionKind.RECREATE_ENV:
        return f"recreate environment ({action.reason})"
    if kind is ActionKind.REMOVE_ENV:
        return f"remove environment ({action.reason})" if action.reason else "remove environment"
    reason = f" ({action.reason})" if kind is ActionKind.REINSTALL else ""
    return f"{kind.value:<8} {action.package} {versions(action)}{reason}"


def versions(action: Action) -> str:
    """A package action's versions: '2.0' for an install or reinstall, '1.0' for a removal, '1.0 -> 2.0'."""
    if action.kind in (ActionKind.INSTALL, ActionKind.REINSTALL):
        return str(action.to_version)
    if action.kind is ActionKind.REMOVE:
        return str(action.from_version)
    return f"{action.from_version} -> {action.to_version}"


def short_action(action: Action) -> str:
    """An action in a few characters, for watch's one line per env: '+lib 1.0', '~lib 1.0 -> 2.0', 'created'."""
    kind = action.kind
    if kind is ActionKind.CREATE_ENV:
        return "created"
    if kind is ActionKind.REMOVE_ENV:
        return "removed"
    if kind is ActionKind.RECREATE_ENV:
        return f"recreated ({action.reason})"
    return f"{SYMBOLS[kind][0]}{action.package} {versions(action)}"


def event_text(event: Event) -> str:
    """What apply reported, as one line: `dev: + install  lib 2.0`, `14 wheels: 12 cached, 2 downloaded (3.1 MB)`."""
    if isinstance(event, ActionDone):
        return f"{event.env}: {SYMBOLS[event.action.kind][0]} {describe_action(event.action)}"
    if isinstance(event, StartupHookAdded):
        return f"{event.env}: ! {event.package} {event.version} added startup hook {event.hook}"
    if isinstance(event, WaitingForLock):
        return f"waiting for {event.holder} to finish with {event.path}"
    if isinstance(event, FetchProgress):
        done = event.cached + event.downloaded + event.built
        return f"fetched {done}/{event.total} wheels: {_sources(event.cached, event.downloaded, event.size, event.built)}"
    if isinstance(event, WheelsFetched):
        total = event.cached + event.downloaded + event.built
        sources = _sources(event.cached, event.downloaded, event.size, event.built)
        return f"{total} wheel{'s' if total != 1 else ''}: {sources}"
    if isinstance(event, Progress):
        return event.text
    raise TypeError(f"not an event: {event!r}")


def _sources(cached: int, downloaded: int, size: int, built: int = 0) -> str:
    """`12 cached, 2 downloaded (3.1 MB)`; a wheel built from source is said to be built, and
    only what happened is named when something was built (`1 built`, not `0 downloaded (0.0 MB)`)."""
    parts = [f"{cached} cached", f"{downloaded} downloaded" + (f" ({size / 1e6:.1f} MB)" if downloaded else "")]
    if built:
        parts = [part for part, count in zip(parts, (cached, downloaded), strict=True) if count] + [f"{built} built"]
    return ", ".join(parts)


def env_header(env: EnvPlan | EnvRemoval) -> str:
    python = f", Python {env.python}" if env.python else ""
    return f"env {env.name} ({env.display_path}{python})"


def solve_group_of(env: EnvPlan | EnvRemoval) -> str | None:
    return env.desired.spec.solve_group if isinstance(env, EnvPlan) else None


def matrix_of(env: EnvPlan | EnvRemoval) -> dict[str, str] | None:
    """Where a matrix expansion comes from, {"of": "test", "python": "3.11"}; None for a plain env."""
    if not isinstance(env, EnvPlan) or env.desired.spec.matrix_of is None:
        return None
    return {"of": env.desired.spec.matrix_of, "python": env.desired.spec.python or ""}


def group_lines(plan: Plan, group: GroupPlan) -> list[str]:
    """A solve group's shared decisions, said once above its envs: who is resolved together, the
    versions its envs have in common, and the group's locks (written together)."""
    common = len(group.in_common)
    lines = [f"solve group {group.name}: {', '.join(group.envs)} resolved together"
             + (f" ({common} package{'s' if common != 1 else ''} in common, one version each)" if common else "")]
    shown = [f"{name} {version}" for name, version in group.in_common]
    if len(shown) > 12:
        shown = [*shown[:12], f"and {len(shown) - 12} more"]
    if shown:
        lines.append(f"  in common: {', '.join(shown)}")
    theirs = {lock_path(plan.config_path, name) for name in group.envs}
    writes = sorted(lock.path.name for lock in plan.lock_writes if lock.path in theirs)
    if writes:
        lines.append(f"  lock: {', '.join(writes)} will be written together")
    return lines


def group_document(group: GroupPlan) -> dict:
    return {"name": group.name, "envs": list(group.envs), "in_common": dict(group.in_common)}


def render_text(plan: Plan, colour: bool = False, verbose: bool = False) -> str:
    lines = []
    groups = {group.name: group for group in plan.solve_groups}
    for env in plan.entries:
        group = solve_group_of(env)
        if group in groups:
            lines += [_paint(line, "dim", colour) if line.startswith("  ") else line
                      for line in group_lines(plan, groups.pop(group))]
        if env.error:
            lines.append(f"{env_header(env)}: " + _paint(f"error: {env.error}", "red", colour))
        elif not env.actions:
            lines.append(f"{env_header(env)}: in sync")
        else:
            lines.append(_paint(env_header(env), "bold", colour))
            for action in env.actions:
                symbol, hue = SYMBOLS[action.kind]
                lines.append(_paint(f"  {symbol} {describe_action(action)}", hue, colour))
        for hook, package in env.startup_hooks:
            lines.append(_paint(f"  ! startup hook {hook} (from {package}): runs at every start of this env's Python",
                                "yellow", colour))
        files, size = getattr(env, "to_fetch", (0, 0))
        if files:
            lines.append(_paint(f"  fetch: {files} file{'s' if files != 1 else ''}, {megabytes(size)} to download",
                                "dim", colour))
        if env.lock_write is not None and group is None:
            lines.append(_paint(f"  lock: {env.lock_write.path.name} will be written", "dim", colour))
        if verbose:  # the env's own project's path hook: expected, so named only when asked
            lines += [_paint(f"  startup hook {hook} (from {package}, this env's own project)", "dim", colour)
                      for hook, package in getattr(env, "project_hooks", ())]
    for path in plan.lock_removals:
        lines.append(_paint(f"lock: {path.name} will be removed (its env is no longer declared)", "dim", colour))
    lines.append("")
    lines.append(summary_line(plan))
    fetching = [env.to_fetch for env in plan.envs if env.to_fetch[0]]
    if fetching:
        files, size = sum(count for count, _ in fetching), sum(size for _, size in fetching)
        lines.append(f"To download: {files} file{'s' if files != 1 else ''}, {megabytes(size)}.")
    return "\n".join(lines)


def megabytes(size: int) -> str:
    """A size as people read it: `3.1 MB`, `2.7 GB`."""
    return f"{size / 1e9:.1f} GB" if size >= 1e9 else f"{size / 1e6:.1f} MB"


def summary_line(plan: Plan) -> str:
    counts = plan.summary()
    if not plan.has_changes:
        return "No changes. Every environment is in sync."
    locks = counts["write-lock"]
    lock_part = f"{locks} lock file{'s' if locks != 1 else ''} to write"
    if plan.lock_removals:
        gone = len(plan.lock_removals)
        lock_part = (f"{lock_part}, " if locks else "") + f"{gone} lock file{'s' if gone != 1 else ''} to remove"
    if not any(env.actions for env in plan.entries):
        return f"Plan: {lock_part}; every environment is in sync."
    change = counts["upgrade"] + counts["downgrade"] + counts["reinstall"]
    parts = [f"{counts['install']} to install", f"{change} to change", f"{counts['remove']} to remove"]
    for key, word in (("create-env", "create"), ("recreate-env", "recreate"), ("remove-env", "remove")):
        if counts[key]:
            parts.append(f"{counts[key]} env{'s' if counts[key] != 1 else ''} to {word}")
    if locks or plan.lock_removals:
        parts.append(lock_part)
    return "Plan: " + ", ".join(parts) + "."


def action_json(action: Action) -> dict[str, str]:
    out: dict[str, str] = {"action": action.kind.value}
    if action.package:
        out["package"] = action.package
    kind = action.kind
    if kind in (ActionKind.UPGRADE, ActionKind.DOWNGRADE):
        out["from"], out["to"] = str(action.from_version), str(action.to_version)
    elif kind is ActionKind.REMOVE:
        out["version"] = str(action.from_version)
    elif kind in (ActionKind.INSTALL, ActionKind.REINSTALL):
        out["version"] = str(action.to_version)
    if action.reason and kind in (ActionKind.REINSTALL, ActionKind.RECREATE_ENV, ActionKind.REMOVE_ENV):
        out["reason"] = action.reason
    return out


def config_shown(config: Path, cwd: Path | None = None) -> str:
    """The config's path as JSON shows it: relative to the current folder."""
    try:
        return os.path.relpath(config, cwd or Path.cwd())
    except ValueError:
        return str(config)


def render_json(plan: Plan, cwd: Path | None = None) -> str:
    document = plan_document(plan)
    return json.dumps({"version": 1, "config": config_shown(plan.config_path, cwd), **document}, indent=2)


def plan_document(plan: Plan) -> dict:
    """The JSON plan without its `version` and `config` keys."""
    return {
        "envs": [env_document(env) for env in plan.entries],
        "solve_groups": [group_document(group) for group in plan.solve_groups],
        "summary": plan.summary(),
        "changes_pending": plan.has_changes,
    }


def env_status(env: EnvPlan | EnvRemoval) -> str:
    """One word a program can switch on: in-sync, lock-stale, changes-pending, remove or error."""
    if env.error:
        return "error"
    if isinstance(env, EnvRemoval):
        return "remove"
    if env.actions:
        return "changes-pending"
    return "lock-stale" if env.lock_write is not None else "in-sync"


def env_document(env: EnvPlan | EnvRemoval) -> dict:
    """One env's entry in the JSON plan; a lock to write is listed as a `write-lock` action."""
    actions = [action_json(action) for action in env.actions]
    if env.lock_write is not None:
        actions.append({"action": "write-lock", "path": env.lock_write.path.name})
    return {
        "name": env.name, "path": env.display_path, "python": env.python, "solve_group": solve_group_of(env),
        # The platforms its lock serves (PEP 508 markers, as declared); empty: this machine's only.
        "environments": list(env.desired.spec.environments) if isinstance(env, EnvPlan) else [],
        "matrix": matrix_of(env), "status": env_status(env),
        "actions": actions,
        **({"error": env.error} if env.error else {}),
        **({"startup_hooks": [{"file": hook, "package": package} for hook, package in env.startup_hooks]}
           if env.startup_hooks else {}),
        **({"download": {"files": env.to_fetch[0], "bytes": env.to_fetch[1]}}
           if isinstance(env, EnvPlan) and env.to_fetch[0] else {}),
    }
