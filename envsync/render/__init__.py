"""Output formats: each a module that renders the plan as data (see view.py) and/or a review.

A format module defines `render_plan(view, colour) -> str` (for `plan`, from the full path or
the no-op record alike) and/or `render_review(review) -> str` (for `plan --base`). A new
format is one module and one line in FORMATS. Stdlib only here: the no-op path imports it.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False  # not `typing.TYPE_CHECKING`: annotations only, no import at run time
if TYPE_CHECKING:
    from types import ModuleType
    from typing import Any, TextIO

FORMATS = {  # format name -> the module that renders it (imported only when asked for)
    "text": "envsync.render.text",
    "json": "envsync.render.json",
    "markdown": "envsync.render.markdown",
}


def renderer(name: str) -> ModuleType:
    """The module rendering format `name` (one of FORMATS)."""
    return __import__(FORMATS[name], fromlist=["_"])


def use_colour(stream: TextIO) -> bool:
    return stream.isatty() and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"


def __getattr__(name: str) -> Any:
    """`from envsync.render import event_text` and the like: the plan-as-data helpers live in view.py,
    imported only when one is asked for (importing the model there would cost the no-op path)."""
    if name.startswith("__"):
        raise AttributeError(name)
    import importlib

    view = importlib.import_module("envsync.render.view")
    try:
        return getattr(view, name)
    except AttributeError:
        raise AttributeError(f"module 'envsync.render' has no attribute {name!r}") from None
