"""PEP 658 metadata checked against the wheel it describes, once the wheel is unpacked.

A resolve trusts an index's `.metadata` file instead of downloading the wheel: a file that
leaves out a Requires-Dist, or names another project or version, would give an env reported
"in sync" whose imports fail. So what the index served is remembered beside the metadata
cache, and when the wheel itself is unpacked its METADATA is compared with it: exactly (by
sha256) where the index advertised a core-metadata hash, else by name, version and
requirements (an index may re-serialise a file it did not hash).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from pathlib import Path

from envsync.errors import HashMismatch
from envsync.files.cache import cache_subdir, write_atomic


def _paths(wheel_sha256: str) -> tuple[Path, Path]:
    folder = cache_subdir("metadata")
    return folder / f"{wheel_sha256}.METADATA", folder / f"{wheel_sha256}.served.json"


def remember_served(wheel_sha256: str, index: str, metadata_sha256: str | None) -> None:
    """Note that the metadata cached for this wheel came from `index`'s PEP 658 file, with the
    core-metadata hash it advertised (None: none)."""
    _, served = _paths(wheel_sha256)
    with contextlib.suppress(OSError):  # without the note the check is skipped, nothing worse
        write_atomic(served, json.dumps({"index": index, "sha256": metadata_sha256}).encode())


def check_wheel_metadata(wheel_sha256: str | None, filename: str, wheel_metadata: bytes) -> None:
    """Raise when the wheel's own METADATA disagrees with the PEP 658 file a resolve used for it.

    The cached metadata and its note are removed first, so a corrected index is read afresh."""
    if not wheel_sha256:
        return
    cached, served = _paths(wheel_sha256)
    try:
        note = json.loads(served.read_bytes())
        index, advertised = str(note["index"]), note.get("sha256")
        used = cached.read_bytes()
    except (OSError, ValueError, KeyError, TypeError):
        return  # the metadata came from the wheel itself (or was never fetched): nothing to compare
    if advertised:
        actual = hashlib.sha256(wheel_metadata).hexdigest()
        problem = None if actual == advertised else (f"its sha256 is {actual}, the index advertised {advertised} "
                                                     "for the .metadata file")
    else:
        problem = _difference(used, wheel_metadata)
    if problem is None:
        return
    for path in (cached, served):
        with contextlib.suppress(OSError):
            path.unlink()
    raise HashMismatch(f"{filename}: the wheel's METADATA does not match the {filename}.metadata that index "
                       f"{index} served: {problem}",
                       "the index serves wrong metadata for this file; nothing was installed from it. Report it to "
                       "the index's operators; envsync reads the metadata afresh next time")


def _difference(served: bytes, wheel: bytes) -> str | None:
    """How two core metadata files differ in name, version or requirements; None when they don't."""
    from packaging.metadata import parse_email
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.utils import canonicalize_name

    def fields(data: bytes) -> tuple[str, str, set[str]]:
        raw, _ = parse_email(data)
        requirements = set()
        for line in raw.get("requires_dist", []):
            try:
                requirements.add(str(Requirement(line)))
            except InvalidRequirement:
                requirements.add(line.strip())
        return canonicalize_name(raw.get("name", "")), str(raw.get("version", "")).strip(), requirements

    (served_name, served_version, served_requires), (name, version, requires) = fields(served), fields(wheel)
    if (served_name, served_version) != (name, version):
        return f"it names {served_name} {served_version}, the wheel is {name} {version}"
    if served_requires != requires:
        missing, extra = sorted(requires - served_requires), sorted(served_requires - requires)
        parts = ([f"it leaves out Requires-Dist {', '.join(missing)}"] if missing else []) + \
                ([f"it adds Requires-Dist {', '.join(extra)}"] if extra else [])
        return "; ".join(parts)
    return None
