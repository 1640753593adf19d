"""A persistent HTTP cache for index project pages: fresh within max-age, else revalidated.

Project pages are what a warm resolve spends its time on. An index says how long a
page stays fresh (Cache-Control: max-age, less the Age a CDN has already held it) and
how to revalidate it (ETag, Last-Modified); we keep the body and those headers, so a
warm resolve asks nothing while pages are fresh and gets a 304 instead of the whole
page once they are not. `no-cache` pages are kept but revalidated at every use;
`no-store` and `private` pages, and pages that vary on a request header other than the
Accept and Accept-Encoding we always send the same, are not kept at all.
Keyed by the URL without credentials; written atomically.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace

from envsync.files.cache import cache_subdir, write_atomic

TYPE_CHECKING = False  # not `typing.TYPE_CHECKING`: annotations only, no import at run time
if TYPE_CHECKING:
    from pathlib import Path

    from envsync.model import Artifact

MAX_AGE = re.compile(r"(?:^|,)\s*max-age\s*=\s*\"?(\d+)\"?\s*(?:,|$)", re.IGNORECASE)
NO_STORE = re.compile(r"(?:^|,)\s*(no-store|private)\b", re.IGNORECASE)
NO_CACHE = re.compile(r"(?:^|,)\s*no-cache\b", re.IGNORECASE)
# Request headers a page may vary on and still be reused: every page request sends the same ones.
SAME_IN_EVERY_REQUEST = frozenset({"accept", "accept-encoding"})


@dataclass(frozen=True)
class CachedPage:
    url: str  # where the page ended up after redirects
    content_type: str
    content: bytes
    etag: str | None
    last_modified: str | None
    fetched_at: float
    max_age: float  # seconds the page stays fresh after fetched_at (its Age already taken off); 0 = always revalidate

    def is_fresh(self, now: float | None = None) -> bool:
        return (now or time.time()) - self.fetched_at < self.max_age

    def validators(self) -> dict[str, str]:
        """The headers that ask the server "has it changed since?"."""
        headers = {}
        if self.etag:
            headers["If-None-Match"] = self.etag
        if self.last_modified:
            headers["If-Modified-Since"] = self.last_modified
        return headers

    def revalidated(self, headers: Mapping[str, str]) -> CachedPage:
        """The same page, confirmed unchanged by a 304 just now (whose headers update the stored ones)."""
        kept = self.max_age if headers.get("cache-control") is None else freshness(headers)
        return replace(self, fetched_at=time.time(), max_age=kept or 0.0,
                       etag=headers.get("etag") or self.etag,
                       last_modified=headers.get("last-modified") or self.last_modified)


def max_age(cache_control: str | None) -> float:
    match = MAX_AGE.search(cache_control or "")
    return float(match.group(1)) if match else 0.0


def storable(headers: Mapping[str, str]) -> bool:
    """Whether a page with these response headers may be kept at all."""
    if NO_STORE.search(headers.get("cache-control") or ""):
        return False
    vary = {name.strip().lower() for name in (headers.get("vary") or "").split(",") if name.strip()}
    return vary <= SAME_IN_EVERY_REQUEST  # "*" or a header we may send differently: not reusable


def freshness(headers: Mapping[str, str]) -> float:
    """Seconds from now the page may be used without asking: max-age less Age; 0 for no-cache.

    Behind a CDN a page may already be `Age` seconds old when it arrives; counting
    max-age from our own fetch would trust it for up to twice as long as the index meant.
    An Age that is not a plain number of seconds makes the page stale at once.
    """
    control = headers.get("cache-control")
    if NO_CACHE.search(control or ""):
        return 0.0
    age_header = (headers.get("age") or "0").strip()
    age = float(age_header) if age_header.isdigit() else float("inf")
    return max(0.0, max_age(control) - age)


def _paths(key_url: str) -> tuple[Path, Path]:
    key = hashlib.sha256(key_url.encode()).hexdigest()
    folder = cache_subdir("pages")
    return folder / f"{key}.json", folder / f"{key}.body"


def load(key_url: str) -> CachedPage | None:
    """The cached page for `key_url`, or None (also when the entry is torn or unreadable)."""
    meta_path, body_path = _paths(key_url)
    try:
        meta = json.loads(meta_path.read_bytes())
        content = body_path.read_bytes()
    except (OSError, ValueError):
        return None
    if hashlib.sha256(content).hexdigest() != meta.get("sha256"):
        return None  # the body and its headers are from different writes: don't trust either
    try:
        return CachedPage(meta["url"], meta["content_type"], content, meta.get("etag"), meta.get("last_modified"),
                          float(meta["fetched_at"]), float(meta["max_age"]))
    except (KeyError, TypeError, ValueError):
        return None


def store(key_url: str, page: CachedPage) -> None:
    meta_path, body_path = _paths(key_url)
    write_atomic(body_path, page.content)
    meta = {"url": page.url, "content_type": page.content_type, "etag": page.etag,
            "last_modified": page.last_modified, "fetched_at": page.fetched_at, "max_age": page.max_age,
            "sha256": hashlib.sha256(page.content).hexdigest()}
    write_atomic(meta_path, json.dumps(meta).encode())


def discard(key_url: str) -> None:
    """Forget the page for `key_url`: the index no longer lets us keep it."""
    for path in _paths(key_url):
        with contextlib.suppress(OSError):
            path.unlink()


# -- parsed pages -----------------------------------------------------------------------------
#
# An index that sends no validators (PyPI's mirror here sends neither ETag nor max-age) makes
# every resolve download every page again; parsing them (tens of MB of JSON for a big tree) then
# costs more than fetching. So the files parsed from a page are kept too, keyed by the page's URL
# and checked against a digest of its bytes: the same bytes are never parsed twice.

def _parsed_path(key_url: str) -> Path:
    """Where a page's parsed files are kept: tagged with Artifact's fields (a new field is a new
    format, never a stale entry), the Python version (marshal's format) and the rows' layout
    (2: only the project's own files, each with its index set)."""
    import sys

    from envsync.files.cache import format_tag
    from envsync.model import Artifact

    tag = f"{format_tag(Artifact)}-{sys.version_info[0]}{sys.version_info[1]}-2"
    return cache_subdir("parsed") / f"{hashlib.sha256(key_url.encode()).hexdigest()}.{tag}"


def content_digest(page_url: str, content_type: str, content: bytes, kept: str = "") -> bytes:
    """What a parse of this page depends on: where it is (relative links), its type, which files
    were kept (the served interpreters' tags, digested) and its bytes."""
    digest = hashlib.sha256(f"{page_url}\0{content_type}\0{kept}\0".encode())
    digest.update(content)
    return digest.digest()


def load_parsed(key_url: str, digest: bytes) -> list[Artifact] | None:
    """The files kept from the page at `key_url` when its bytes had `digest`, or None."""
    try:
        data = _parsed_path(key_url).read_bytes()
    except OSError:
        return None
    if data[:len(digest)] != digest:
        return None  # the page changed (or was never parsed): parse it again
    try:
        return artifacts_from_rows(data[len(digest):])
    except (EOFError, ValueError, TypeError):
        return None  # a damaged entry is only a cache miss


def artifacts_from_rows(rows: bytes) -> list[Artifact]:
    """The files of marshal'd rows (page_parsers.project_rows); ValueError if they are not such rows.

    A cold resolve of the large workload makes 28,753 Artifacts here. Each is filled in through its
    __dict__, as the dataclass's __init__ would fill it but without a call to object.__setattr__ per
    field (a frozen dataclass's way): 83 -> 53 ms for all of them."""
    import dataclasses
    import marshal

    from envsync.model import Artifact

    names = tuple(field.name for field in dataclasses.fields(Artifact))
    loaded = marshal.loads(rows)
    if type(loaded) is not list or not set(map(type, loaded)) <= {tuple} or not set(map(len, loaded)) <= {len(names)}:
        raise ValueError("not rows of an Artifact's fields")
    made = []
    new = object.__new__
    for row in loaded:
        artifact = new(Artifact)
        artifact.__dict__.update(zip(names, row, strict=True))
        made.append(artifact)
    return made


def store_parsed(key_url: str, digest: bytes, rows: bytes) -> None:
    """Keep the files of a page, as page_parsers.project_rows made them and marshal'd (one entry per
    URL: a new version of the page replaces it)."""
    with contextlib.suppress(OSError):  # a cache that can't be written only costs the next parse
        write_atomic(_parsed_path(key_url), digest + rows)
