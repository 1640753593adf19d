"""Reading an installed dist-info: METADATA's Name and Version, RECORD's rows, entry points.

One reader each, for the survey, installs, uninstalls and wheels alike. Only METADATA's
header block is read (it ends at the first blank line), so a long description costs
nothing. The resolver reads Requires-Dist and Provides-Extra of index METADATA through
`multiple_use_field`, exactly as packaging's parser does; the survey's `requires_dist` is
the tolerant reading of an installed file's lines.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from packaging.requirements import Requirement


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


def requires_dist(lines: Iterable[str]) -> tuple[str, ...]:
    """The `Requires-Dist` headers, as written (an editable project's dependencies, to compare)."""
    found = []
    for line in lines:
        if not line.strip():
            break
        key, _, value = line.partition(":")
        if key.strip().lower() == "requires-dist" and value.strip():
            found.append(value.strip())
    return tuple(found)


def valid_requirements(lines: Iterable[str]) -> list[Requirement]:
    """Requires-Dist lines as requirements, a malformed one skipped: one bad line in someone
    else's metadata must not stop a resolve (pip and uv skip it too)."""
    from packaging.requirements import InvalidRequirement, Requirement

    found = []
    for text in lines:
        try:
            found.append(Requirement(text))
        except InvalidRequirement:
            continue
    return found


_FIELD_NAME = re.compile(rb"[!-9;-~]+")  # printable ASCII but ":": a header name to the email module
# Control bytes on which the email module splits lines too (str.splitlines), or that it treats specially.
_CONTROL = re.compile(rb"[\x00-\x08\x0b-\x1f\x7f]")


def multiple_use_field(metadata: bytes, field: str) -> list[str]:
    """Every value of a multiple-use core metadata field (`requires_dist`, `provides_extra`), exactly
    as packaging's parse_email gives it. A plain header block (no control byte but tab, LF or CRLF
    line ends throughout, every line a header or a folded one, the field's values ASCII) is read line by line here:
    parse_email runs the email module over the whole file, long description included, and costs
    twenty times more (a cold resolve of a big tree reads hundreds of METADATA files)."""
    values = _plain_values(metadata, field.replace("_", "-").encode())
    if values is not None:
        return values
    from packaging.metadata import parse_email

    found: list[str] = parse_email(metadata)[0].get(field, [])  # type: ignore[assignment]
    return list(found)


def _plain_values(metadata: bytes, wanted: bytes) -> list[str] | None:
    """The values of the header named `wanted` (lower case) as the email module's compat32 policy
    reads them (a folded value keeps its line breaks, CRLF or LF, and indents); None when the block
    is not plain."""
    first_end = metadata.find(b"\n")
    newline = b"\r\n" if first_end > 0 and metadata[first_end - 1] == 13 else b"\n"  # 13: "\r"
    head = metadata.partition(newline * 2)[0]
    if newline == b"\r\n":  # CRLF throughout the block (Windows-built wheels): no bare CR or LF
        if not head.count(b"\r") == head.count(b"\n") == head.count(b"\r\n"):
            return None
        if _CONTROL.search(head.replace(b"\r\n", b"\n")):
            return None
    elif _CONTROL.search(head):
        return None
    values: list[str] = []
    current: list[bytes] | None = None  # the lines of a value of `wanted` being read
    try:
        for number, line in enumerate(head.split(newline)):
            if not line:
                break  # the blank line that ends the block
            if line[:1] in (b" ", b"\t"):  # a folded line continues the header above
                if number == 0:
                    return None
                if current is not None:
                    current.append(line)
                continue
            if current is not None:
                values.append(newline.join(current).decode("ascii"))
            name, colon, value = line.partition(b":")
            if not colon or not _FIELD_NAME.fullmatch(name):
                return None  # the email module would end the headers here
            current = [value.lstrip(b" \t")] if name.lower() == wanted else None
        if current is not None:
            values.append(newline.join(current).decode("ascii"))
    except UnicodeDecodeError:
        return None  # the email module's handling of other encodings is parse_email's to apply
    return values


def entry_points_digest(groups: dict[str, dict[str, str]]) -> str:
    """A short digest of entry points (group -> name -> "module:attr"), the same whether they come
    from pyproject.toml or an installed entry_points.txt: a change means the env must reinstall."""
    import hashlib

    rows = sorted((group.strip(), name.strip(), "".join(value.split()))
                  for group, entries in groups.items() for name, value in entries.items())
    return hashlib.sha256(repr(rows).encode()).hexdigest()[:16]


def parse_entry_points(text: str) -> dict[str, dict[str, str]]:
    """The groups of an entry_points.txt (INI syntax); unreadable lines are skipped."""
    groups: dict[str, dict[str, str]] = {}
    group = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            group = line[1:-1].strip()
            groups.setdefault(group, {})
        elif group is not None and "=" in line:
            name, _, value = line.partition("=")
            groups[group][name.strip()] = value.strip()
    return groups


def record_rows(record: Path) -> list[tuple[str, str, str]]:
    """(path, hash, size) of each row of an installed RECORD; nothing when it is missing or unreadable.

    Short rows are padded with "": installers disagree on what they leave out."""
    import csv

    try:
        text = record.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    rows = []
    for row in csv.reader(text.splitlines()):
        if row and row[0]:
            path, digest, size = (*row, "", "")[:3]
            rows.append((path, digest, size))
    return rows


def script_names(entry_points_text: str) -> list[str]:
    """Console and GUI script names an entry_points.txt declares: each one is a file in bin/."""
    groups = parse_entry_points(entry_points_text)
    names = [*groups.get("console_scripts", {}), *groups.get("gui_scripts", {})]
    return [name for name in names if name and "/" not in name and not name.startswith(".")]
