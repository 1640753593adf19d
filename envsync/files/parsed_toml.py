"""TOML parsed once: a document's parsed form is kept as JSON under the digest of its text.

tomllib is pure Python: a lock of the 162 packages of a large env (160 KB) takes 70 ms to
parse on our benchmark machines, and every `apply` that installs reads its locks; json.loads
of the same data takes 2 ms. So the parsed form of a lock is kept in the cache, named by the
sha256 of the text, and read back when the same text comes again. A changed lock has another
digest, so an entry is never stale; what a document means (its validation as a PEP 751 lock)
is still checked on every read, from the parsed form.

Only documents that JSON keeps exactly are kept: strings, integers, booleans, floats, arrays
and tables. One holding a date or a time (other tools' locks record upload times) is parsed
every time. A document that may carry a secret (a URL with a user or password in it) is never
written to the cache. Entries are private, as the config cache's are: 0600 files in a 0700
folder, read back only when this user owns them and nobody else may read or write them.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from envsync.errors import EnvsyncError
from envsync.files.cache import private_subdir, read_private, write_atomic

# A URL with userinfo (`scheme://user:token@host`) anywhere in the text.
_CREDENTIALS = re.compile(r"://[^/\s\"'@]*@")
_LAYOUT = b"toml-as-json-1\n"  # change when the kept form changes


FOLDER = "parsed-toml"


def entry_name(text: str) -> str:
    """The name of the cache entry that keeps `text` parsed."""
    return hashlib.sha256(_LAYOUT + text.encode("utf-8", "surrogatepass")).hexdigest()[:40] + ".json"


def load_toml(text: str) -> dict[str, Any]:
    """`tomllib.loads(text)`, from the cache when this text was parsed before.
    Raises what tomllib raises for invalid TOML (nothing invalid is ever kept)."""
    kept = kept_document(text)
    if kept is not None:
        return kept
    import tomllib

    document = tomllib.loads(text)
    entry = _entry(text)
    if entry is not None:
        _keep(entry, text, document)
    return document


def kept_document(text: str) -> dict[str, Any] | None:
    """The parsed form of `text` when the cache keeps one (never parsing it here): for a quick
    "is this the same document" that must not cost a TOML parse when the answer isn't at hand."""
    entry = _entry(text)
    kept = read_private(entry) if entry is not None else None
    if kept is None:
        return None
    try:
        document = json.loads(kept)
    except ValueError:
        return None
    return document if isinstance(document, dict) else None


def keep_parsed(text: str, document: Mapping[str, Any]) -> None:
    """Keep `document` as the parsed form of `text`, which was just made from it (a lock envsync
    renders): the next read of that text needs no TOML parser."""
    entry = _entry(text)
    if entry is not None:
        _keep(entry, text, document)


def _entry(text: str) -> Path | None:
    """Where `text` is kept parsed; None without a usable cache (then it is parsed every time)."""
    try:
        return private_subdir(FOLDER) / entry_name(text)
    except EnvsyncError:
        return None


def _keep(entry: Path, text: str, document: Mapping[str, Any]) -> None:
    if _kept_exactly(document) and not _CREDENTIALS.search(text):
        with contextlib.suppress(OSError):
            write_atomic(entry, json.dumps(document, separators=(",", ":")).encode(), mode=0o600)


def _kept_exactly(value: object) -> bool:
    """Whether JSON gives `value` back as it is: no dates or times anywhere in it."""
    if isinstance(value, dict):
        return all(_kept_exactly(item) for item in value.values())
    if isinstance(value, list):
        return all(_kept_exactly(item) for item in value)
    return isinstance(value, (str, int, float))  # bool is an int
