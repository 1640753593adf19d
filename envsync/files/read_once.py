"""Files parsed once per process, for as long as they stay the same file.

A plan, a fetch and an install each ask for the same locks and cache markers; parsing a large
lock or a big wheel's marker takes milliseconds each time. A file counts as the same while its
inode, modification time and size are: every writer here replaces files by rename (a new inode),
so a changed file is always read again.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class ReadOnce(Generic[T]):
    """What `parse` made of each file, by path; dict updates are atomic, so threads may share one."""

    def __init__(self) -> None:
        self._known: dict[str, tuple[tuple[int, int, int], T]] = {}

    def read(self, path: str, parse: Callable[[], T | None]) -> T | None:
        """`parse()`'s answer for the file at `path`, from memory while the file is unchanged.
        A file that cannot be looked at is parsed every time (its parser says what is wrong);
        a None answer is not remembered."""
        try:
            found = os.stat(path)
        except OSError:
            return parse()
        stamp = (found.st_ino, found.st_mtime_ns, found.st_size)
        known = self._known.get(path)
        if known is not None and known[0] == stamp:
            return known[1]
        value = parse()
        if value is not None:
            self._known[path] = (stamp, value)
        return value
