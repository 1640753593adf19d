"""sha256 digests of files: one reader for locks, downloads and cached wheels alike."""

from __future__ import annotations

import hashlib
from pathlib import Path

CHUNK = 1 << 20


def sha256_of_file(path: Path | str) -> str:
    """The hex sha256 of a file's bytes, read in chunks so a large wheel never sits in memory."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()
