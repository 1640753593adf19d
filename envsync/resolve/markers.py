"""Evaluating a PEP 508 marker, with what an unevaluable one means said at every call.

A marker can parse and still not evaluate: `platform_release ~= 'x'` compares a value that
is not a version. What that means depends on who asks, so each caller passes its policy:
a dependency line in someone else's metadata holds nowhere (as uv reads it: it must not stop
a resolve); a line the user wrote, or a lock, is an error to fix (the caller's error, naming
the file); a staleness hint treats it as applying, so the change is still named.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from packaging.markers import UndefinedComparison, UndefinedEnvironmentName

if TYPE_CHECKING:
    from packaging.markers import Marker

    from envsync.errors import EnvsyncError

# What packaging raises for a marker that parses but can't be evaluated.
UNEVALUABLE = (UndefinedComparison, UndefinedEnvironmentName)

# The policy for an unevaluable marker: the answer to give, or the error to raise (made from
# packaging's exception, whose text says what could not be compared).
Policy = bool | Callable[[Exception], "EnvsyncError"]


def marker_holds(marker: Marker | None, environment: Mapping[str, str], *, extra: str = "",
                 if_unevaluable: Policy) -> bool:
    """Whether `marker` holds in `environment` (no marker always holds), with `extra` set;
    a marker that can't be evaluated gives `if_unevaluable`, or raises the error it makes."""
    if marker is None:
        return True
    try:
        return marker.evaluate({**environment, "extra": extra})
    except UNEVALUABLE as exc:
        if isinstance(if_unevaluable, bool):
            return if_unevaluable
        raise if_unevaluable(exc) from None
