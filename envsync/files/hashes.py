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


def matches_record_digest(path: Path | str, digest: str) -> bool | None:
    """Whether a file's bytes have a RECORD row's `algo=urlsafe-b64` digest; None when the
    algorithm is not one RECORD may use, so there is nothing to compare with."""
    import base64

    algorithm, _, expected = digest.partition("=")
    if algorithm not in ("sha256", "sha384", "sha512") or not expected:
        return None
    hasher = hashlib.new(algorithm)
    try:
        with open(path, "rb") as handle:
            while block := handle.read(CHUNK):
                hasher.update(block)
    except OSError:
        return False
    return base64.urlsafe_b64encode(hasher.digest()).rstrip(b"=").decode("ascii") == expected
