"""Name and Version from a METADATA file's headers: one reader for installed dists and wheels.

Only the header block is read (it ends at the first blank line), so a long description in
the body costs nothing. Resolving needs the full set of fields and uses packaging's parser.
"""

from __future__ import annotations

from collections.abc import Iterable


def name_and_version(lines: Iterable[str]) -> tuple[str | None, str | None]:
    """The `Name` and `Version` headers (stripped), or None for either that is missing."""
    name = version = None
    for line in lines:
        if not line.strip():
            break
        key, _, value = line.partition(":")
        key = key.strip().lower()
        if key == "name" and name is None:
            name = value.strip() or None
        elif key == "version" and version is None:
            version = value.strip() or None
    return name, version
