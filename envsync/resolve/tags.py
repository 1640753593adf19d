"""How much an interpreter prefers a wheel, from its file name: one ranking for resolving and locks."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

UNSUPPORTED = 1 << 30  # the rank of a wheel whose tags the interpreter does not support

T = TypeVar("T")


class WheelRanker:
    """Ranks wheel file names for one interpreter: lower is better, UNSUPPORTED for none of its tags.

    The tag triple is read straight from the file name: most files of a big project are for
    other platforms, and packaging's full parse of each would dominate resolving.
    """

    def __init__(self, tags: Iterable[str]) -> None:
        self._rank = {tag: position for position, tag in enumerate(tags)}

    def rank(self, filename: str) -> int:
        parts = filename.removesuffix(".whl").lower().split("-")
        if not filename.endswith(".whl") or len(parts) not in (5, 6):
            return UNSUPPORTED
        ranks = self._rank
        return min((ranks.get(f"{py}-{abi}-{plat}", UNSUPPORTED) for py in parts[-3].split(".")
                    for abi in parts[-2].split(".") for plat in parts[-1].split(".")), default=UNSUPPORTED)

    def best(self, items: Iterable[tuple[str, T]]) -> T | None:
        """The item whose file name ranks best (the first of equals), or None if none is supported."""
        best, best_rank = None, UNSUPPORTED
        for filename, item in items:
            rank = self.rank(filename)
            if rank < best_rank:
                best, best_rank = item, rank
        return best
