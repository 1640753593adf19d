"""Pieces of the text form shared by the plan, apply's events and watch: an action, an env's header.

They read the plan as data (the JSON form of an action, an env's entry), so the no-op path can
use them without importing the model. Stdlib only.
"""

from __future__ import annotations

TYPE_CHECKING = False  # not `typing.TYPE_CHECKING`: annotations only, no import at run time
if TYPE_CHECKING:
    from typing import Any

SYMBOLS = {  # action -> (symbol, colour)
    "create-env": ("+", "green"), "recreate-env": ("±", "yellow"), "remove-env": ("-", "red"),
    "install": ("+", "green"), "upgrade": ("~", "yellow"), "downgrade": ("~", "yellow"),
    "reinstall": ("±", "yellow"), "remove": ("-", "red"),
}
COLOURS = {"green": "32", "yellow": "33", "red": "31", "bold": "1", "dim": "2"}


def paint(text: str, colour: str, enabled: bool) -> str:
    return f"\033[{COLOURS[colour]}m{text}\033[0m" if enabled else text


def describe(action: dict[str, Any]) -> str:
    """One action as a line of text, without the symbol: 'upgrade  urllib3 1.26 -> 2.2'."""
    kind = action["action"]
    if kind == "create-env":
        return "create environment"
    if kind == "recreate-env":
        return f"recreate environment ({action.get('reason')})"
    if kind == "remove-env":
        return f"remove environment ({action['reason']})" if action.get("reason") else "remove environment"
    reason = f" ({action.get('reason')})" if kind == "reinstall" else ""
    return f"{kind:<8} {action['package']} {versions(action)}{reason}"


def versions(action: dict[str, Any]) -> str:
    """A package action's versions: '2.0' for an install or reinstall, '1.0' for a removal, '1.0 -> 2.0'."""
    if "version" in action:
        version: str = action["version"]
        return version
    return f"{action['from']} -> {action['to']}"


def header(env: dict[str, Any]) -> str:
    """`env dev (.venv, Python 3.12.4)` from an env's entry in the plan."""
    python = f", Python {env['python']}" if env.get("python") else ""
    return f"env {env['name']} ({env['path']}{python})"
