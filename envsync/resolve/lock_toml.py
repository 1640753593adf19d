"""A Pylock as the TOML table `Pylock.to_dict()` makes, without `dataclasses.asdict`'s deep copies.

Rendering a lock of 162 packages spent about 25 ms in `to_dict`: asdict deep-copies every
string, hash and nested table on the way. The table here is the same (a test holds it to
packaging's own, lock shape by lock shape), built by reading the fields: kebab-case keys, fields
that are None left out, versions, markers and specifiers as text where the document has them as
fields, and arrays as lists (asdict keeps tuples; TOML writes both alike), so a table rendered
now compares equal to the same lock read back from disk.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from packaging.markers import Marker
from packaging.pylock import Pylock
from packaging.specifiers import SpecifierSet
from packaging.version import Version

_FIELDS: dict[type, tuple[tuple[str, str], ...]] = {}  # a dataclass -> (field name, TOML key) pairs


def lock_table(document: Pylock) -> dict[str, Any]:
    """`document.to_dict()`, with lists for arrays."""
    return _table(document)


def _table(record: Any) -> dict[str, Any]:
    kind = type(record)
    fields = _FIELDS.get(kind)
    if fields is None:
        fields = _FIELDS[kind] = tuple((field.name, field.name.replace("_", "-")) for field in dataclasses.fields(record))
    table: dict[str, Any] = {}
    for name, key in fields:
        value = getattr(record, name)
        if value is None:
            continue
        if isinstance(value, (Version, Marker, SpecifierSet)):
            table[key] = str(value)
        elif name == "environments":
            table[key] = [str(marker) for marker in value]
        else:
            table[key] = _value(value)
    return table


def _value(value: Any) -> Any:
    """A value inside the document, as asdict copies it: tables of dataclasses, and nothing else converted."""
    if isinstance(value, (str, int, float)):
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _table(value)
    if isinstance(value, (list, tuple)):
        return [_value(item) for item in value]
    if isinstance(value, Mapping):
        return {key: _value(item) for key, item in value.items()}
    return value
