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
        self._by_tags: dict[str, int] = {}  # "py3-none-any" -> rank: most files of a project share a few

    def rank(self, filename: str) -> int:
        if not filename.endswith(".whl") or filename.count("-") not in (4, 5):
            return UNSUPPORTED
        head = filename.rsplit("-", 3)[0]
        triple = filename[len(head) + 1:-4].lower()
        rank = self._by_tags.get(triple)
        if rank is None:
            py, abi, plat = triple.split("-")
            ranks = self._rank
            rank = self._by_tags[triple] = min(
                (ranks.get(f"{p}-{a}-{q}", UNSUPPORTED) for p in py.split(".") for a in abi.split(".")
                 for q in plat.split(".")), default=UNSUPPORTED)
        return rank

    def best(self, items: Iterable[tuple[str, T]]) -> T | None:
        """The item whose file name ranks best (the first of equals), or None if none is supported."""
        best, best_rank = None, UNSUPPORTED
        for filename, item in items:
            rank = self.rank(filename)
            if rank < best_rank:
                best, best_rank = item, rank
        return best
