"""The text format: the plan as people read it (coloured on a terminal), and the review.

Stdlib only at import: the no-op path renders the recorded plan with it.
"""

from __future__ import annotations

from envsync.render.lines import SYMBOLS, describe, header, paint

TYPE_CHECKING = False  # not `typing.TYPE_CHECKING`: importing typing would cost the no-op path
if TYPE_CHECKING:
    from typing import Any

    from envsync.commands.review import EnvSide, PackageChange, Review


def render_plan(view: dict[str, Any], colour: bool = False) -> str:
    lines = [paint(f"+ install {python_install_text(python)}", "green", colour) for python in view.get("pythons", ())]
    groups = {group["name"]: group for group in view["solve_groups"]}
    for env in view["envs"]:
        group = env.get("solve_group")
        if group in groups:
            lines += [paint(line, "dim", colour) if line.startswith("  ") else line
                      for line in group_lines(groups.pop(group))]
        actions = [action for action in env["actions"] if action["action"] != "write-lock"]
        if env.get("skipped"):
            lines.append(f"{header(env)}: skipped ({env['skipped']})")
        elif env.get("error"):
            lines.append(f"{header(env)}: " + paint(f"error: {env['error']}", "red", colour))
        elif not actions:
            lines.append(f"{header(env)}: in sync")
        else:
            lines.append(paint(header(env), "bold", colour))
            for action in actions:
                symbol, hue = SYMBOLS[action["action"]]
                lines.append(paint(f"  {symbol} {describe(action)}", hue, colour))
        for index in env.get("indexes", ()):  # `index http://other/simple (from vendor/extra.txt:1)`
            where = f" (from {index['from']})" if index["from"] else ""
            lines.append(paint(f"  index {index['url']}{where}", "dim", colour))
        for hook in env.get("startup_hooks", ()):
            lines.append(paint(f"  ! startup hook {hook['file']} (from {hook['package']}): runs at every start of "
                               "this env's Python", "yellow", colour))
        download = env.get("download")
        if download:
            files = download["files"]
            lines.append(paint(f"  fetch: {files} file{'s' if files != 1 else ''}, {megabytes(download['bytes'])} "
                               "to download", "dim", colour))
        lock = next((action["path"] for action in env["actions"] if action["action"] == "write-lock"), None)
        if lock is not None and group is None:
            lines.append(paint(f"  lock: {lock} will be written", "dim", colour))
        if view.get("verbose"):  # the env's own project's path hook: expected, so named only when asked
            lines += [paint(f"  startup hook {hook['file']} (from {hook['package']}, this env's own project)", "dim",
                            colour) for hook in env.get("project_hooks", ())]
    for name in view["lock_removals"]:
        lines.append(paint(f"lock: {name} will be removed (its env is no longer declared)", "dim", colour))
    lines.append("")
    lines.append(summary_line(view))
    fetching = [env["download"] for env in view["envs"] if env.get("download")]
    if fetching:
        files, size = sum(d["files"] for d in fetching), sum(d["bytes"] for d in fetching)
        lines.append(f"To download: {files} file{'s' if files != 1 else ''}, {megabytes(size)}.")
    return "\n".join(lines)


def megabytes(size: int) -> str:
    """A size as people read it: `3.1 MB`, `2.7 GB`."""
    return f"{size / 1e9:.1f} GB" if size >= 1e9 else f"{size / 1e6:.1f} MB"


def group_lines(group: dict[str, Any]) -> list[str]:
    """A solve group's shared decisions, said once above its envs: who is resolved together, the
    versions its envs have in common, and the group's locks (written together)."""
    common = len(group["in_common"])
    lines = [f"solve group {group['name']}: {', '.join(group['envs'])} resolved together"
             + (f" ({common} package{'s' if common != 1 else ''} in common, one version each)" if common else "")]
    shown = [f"{name} {version}" for name, version in group["in_common"].items()]
    if len(shown) > 12:
        shown = [*shown[:12], f"and {len(shown) - 12} more"]
    if shown:
        lines.append(f"  in common: {', '.join(shown)}")
    if group["locks"]:
        lines.append(f"  lock: {', '.join(group['locks'])} will be written together")
    return lines


def python_install_text(python: dict[str, Any]) -> str:
    """`Python 3.12.7 (python-build-standalone, 31 MB)`: what a plan installs before the envs."""
    size = f", {python['size'] / 1e6:.0f} MB" if python.get("size") else ""
    return f"Python {python['version']} ({python['source']}{size})"


def summary_line(view: dict[str, Any]) -> str:
    """The plan's last line; an env that could not be planned is never counted as in sync."""
    failed = sum(1 for env in view["envs"] if env.get("status") == "error")
    if not failed:
        return _changes_line(view, "every environment is in sync")
    could_not = f"{failed} env{'s' if failed != 1 else ''} could not be planned (see above)"
    if not view["changes_pending"]:
        return f"No changes for the other environments; {could_not}."
    return f"{_changes_line(view, 'every other environment is in sync').removesuffix('.')}; {could_not}."


def _changes_line(view: dict[str, Any], in_sync: str) -> str:
    counts = view["summary"]
    if not view["changes_pending"]:
        return "No changes. Every environment is in sync."
    pythons = counts.get("install-python", 0)
    python_part = [f"{pythons} Python{'s' if pythons != 1 else ''} to install"] if pythons else []
    locks = counts["write-lock"]
    lock_part = f"{locks} lock file{'s' if locks != 1 else ''} to write"
    removals = view["lock_removals"]
    if removals:
        gone = len(removals)
        lock_part = (f"{lock_part}, " if locks else "") + f"{gone} lock file{'s' if gone != 1 else ''} to remove"
    if not any(action["action"] != "write-lock" for env in view["envs"] for action in env["actions"]):
        return "Plan: " + ", ".join([*python_part, lock_part]) + f"; {in_sync}."
    change = counts["upgrade"] + counts["downgrade"] + counts["reinstall"]
    parts = [*python_part, f"{counts['install']} to install", f"{change} to change", f"{counts['remove']} to remove"]
    for key, word in (("create-env", "create"), ("recreate-env", "recreate"), ("remove-env", "remove")):
        if counts[key]:
            parts.append(f"{counts[key]} env{'s' if counts[key] != 1 else ''} to {word}")
    if locks or removals:
        parts.append(lock_part)
    return "Plan: " + ", ".join(parts) + "."


# -- the review (`plan --base`) -----------------------------------------------------------


def _change_text(change: PackageChange) -> str:
    from envsync.commands.review import ADDED, REMOVED

    versions = {ADDED: change.after, REMOVED: change.before}.get(change.change, f"{change.before} -> {change.after}")
    symbol = {ADDED: "+", REMOVED: "-"}.get(change.change, "~")
    tail = "" if change.direct else " (dependency)"
    return f"  {symbol} {change.change:<10} {change.name} {versions}{tail}"


def python_shown(request: str | None) -> str:
    return request if request is not None else "envsync's own"


def lock_words(side: EnvSide | None) -> str:
    from envsync.commands.review import FRESH, MISSING, STALE

    return {FRESH: "up to date", STALE: "out of date", MISSING: "missing"}[side.lock] if side else "-"


def render_review(review: Review) -> str:
    from envsync.commands.review import FRESH, summary_line

    lines = [f"{review.config}: {review.ref} ({review.commit}) -> working tree"]
    for env in review.envs:
        base, head = env.base, env.head
        if base is None and head is not None:
            lines.append(f"env {env.name}: added (Python {python_shown(head.python)})")
        elif head is None and base is not None:
            lines.append(f"env {env.name}: removed (was Python {python_shown(base.python)})")
        elif base is not None and head is not None and env.python_changed:
            lines.append(f"env {env.name}: Python {python_shown(base.python)} -> {python_shown(head.python)} "
                         f"({base.interpreter} -> {head.interpreter})")
        else:
            lines.append(f"env {env.name}: {'changed' if env.packages else 'no changes'}")
        lines += [_change_text(change) for change in env.packages]
        if head is not None and head.lock != FRESH:
            lines.append(f"  ! lock: pylock.{env.name}.toml is {lock_words(head)} in the working tree: "
                         f"run `envsync lock {env.name}` and commit it")
    lines += ["", *(f"note: {note}" for note in review.notes), f"Review: {summary_line(review)}."]
    return "\n".join(lines)
